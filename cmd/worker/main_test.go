package main

import (
	"github.com/burstbench/burst/worker"

	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want []string
	}{
		{"help", nil, []string{"-h"}, worker.ExitOK, []string{"Usage: worker", "--inference-endpoint", "INFERENCE_ENDPOINT"}},
		{"missing endpoint", nil, nil, worker.ExitBadConfig, []string{"INFERENCE_ENDPOINT (--inference-endpoint): is empty"}},
		{"bad env", map[string]string{"INFERENCE_ENDPOINT": "http://h/v1", "SHUTDOWN_GRACE": "long"}, nil, worker.ExitBadConfig,
			[]string{`SHUTDOWN_GRACE: "long" is not a duration`}},
		{"bad flag", map[string]string{"INFERENCE_ENDPOINT": "http://h/v1"}, []string{"--concurrency", "-2"}, worker.ExitBadConfig,
			[]string{"CONCURRENCY (--concurrency): is -2"}},
		{"unreachable redis", map[string]string{"INFERENCE_ENDPOINT": "http://h/v1", "REDIS_ADDR": "127.0.0.1:1", "HTTP_ADDR": "off"}, nil,
			worker.ExitRunFailed, []string{"127.0.0.1:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			code := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}
