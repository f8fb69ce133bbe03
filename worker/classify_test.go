package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	apiErr := func(code int, retryAfter string) error {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return fmt.Errorf("POST: %w", &openai.Error{StatusCode: code, Message: "m", Response: &http.Response{Header: h}})
	}
	live := context.Background()
	expired, cancel := context.WithTimeout(live, 0)
	defer cancel()
	stopped, stop := context.WithCancel(live)
	stop()
	for _, tc := range []struct {
		name       string
		ctx, cctx  context.Context
		err        error
		kind       errKind
		reason     string
		retryAfter time.Duration
	}{
		{"429 with Retry-After", live, live, apiErr(429, "2"), kindRetryable, "429", 2 * time.Second},
		{"408", live, live, apiErr(408, ""), kindRetryable, "408", 0},
		{"500", live, live, apiErr(500, ""), kindRetryable, "5xx", 0},
		{"503", live, live, apiErr(503, "1"), kindRetryable, "5xx", time.Second},
		{"400 is fatal", live, live, apiErr(400, ""), kindFatal, "http_400", 0},
		{"404 is fatal", live, live, apiErr(404, ""), kindFatal, "http_404", 0},
		{"call timeout", live, expired, context.DeadlineExceeded, kindRetryable, "timeout", 0},
		{"connection refused", live, live, fmt.Errorf("dial: %w", syscall.ECONNREFUSED), kindRetryable, "connection", 0},
		{"unexpected EOF", live, live, io.ErrUnexpectedEOF, kindRetryable, "connection", 0},
		{"unknown error", live, live, errors.New("weird"), kindRetryable, "other", 0},
		{"shutdown wins", stopped, stopped, apiErr(500, ""), kindAborted, "shutdown", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			se, ra := classify(tc.ctx, tc.cctx, tc.err)
			if se.kind != tc.kind || se.reason != tc.reason || ra != tc.retryAfter {
				t.Errorf("classify = kind %d reason %q retry-after %s, want %d %q %s", se.kind, se.reason, ra, tc.kind, tc.reason, tc.retryAfter)
			}
		})
	}
}
