package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burstbench/burst/fakeinference"
	"sigs.k8s.io/yaml"
)

// envOf returns a lookup function over m (no process environment).
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fakeinference.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunBadConfigExits2NamingEveryProblem(t *testing.T) {
	t.Parallel()
	badFile := writeFile(t, "max-num-seqs: 0\ninter-token-latency: 12\nmax-num-seq: 4\n")
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string // each must appear in stderr
	}{
		{"bad duration flag", []string{"--inter-token-latency=12"}, nil, []string{`--inter-token-latency: "12" is not a duration`}},
		{"unknown flag", []string{"--inter-token-latncy=12ms"}, nil, []string{"flag provided but not defined"}},
		{"positional argument", []string{"serve"}, nil, []string{"unexpected arguments"}},
		{"unknown preset", []string{"--preset=h100"}, nil, []string{`unknown preset "h100"`}},
		{"missing file", []string{"--config=/nonexistent/fi.yaml"}, nil, []string{"read /nonexistent/fi.yaml"}},
		{"every problem of a file", []string{"--config", badFile}, nil, []string{
			"inter-token-latency: 12 is not a duration", `max-num-seq: unknown key; did you mean "max-num-seqs"`, "max-num-seqs: 0 is below 1",
		}},
		{"env and flags together", []string{"--mode=shout", "--fault-500-rate=0.9"}, map[string]string{
			"FAKEINFERENCE_MAX_NUM_SEQS":   "lots",
			"FAKEINFERENCE_FAULT_429_RATE": "0.5",
		}, []string{
			`FAKEINFERENCE_MAX_NUM_SEQS: "lots" is not an integer`, `mode: "shout" is not a mode`, "fault-*-rate: the fault rates add up to 1.4",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, envOf(tc.env), &stdout, &stderr)
			if code != exitBadInput {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "panic") || stdout.Len() > 0 {
				t.Errorf("stdout %q, stderr %q; want only the problems on stderr", stdout.String(), stderr.String())
			}
		})
	}
}

func TestRunHelpDocumentsEveryFlag(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, envOf(nil), &stdout, &stderr); code != exitOK {
		t.Fatalf("--help exit %d, want 0; stderr %s", code, stderr.String())
	}
	help := stdout.String()
	for _, k := range fakeinference.Knobs() {
		if !strings.Contains(help, "--"+k.Name+" ") && !strings.Contains(help, "--"+k.Name+"\n") {
			t.Errorf("--help does not list --%s", k.Name)
		}
		if !strings.Contains(help, k.Help) || !strings.Contains(help, k.Env) {
			t.Errorf("--help lacks the help text or env %s of --%s", k.Env, k.Name)
		}
	}
	for _, w := range []string{"--config FILE", "--print-config", "instant, serverless"} {
		if !strings.Contains(help, w) {
			t.Errorf("--help lacks %q", w)
		}
	}
}

func TestRunPrecedencePresetFileEnvFlags(t *testing.T) {
	t.Parallel()
	file := writeFile(t, strings.Join([]string{
		"preset: h200-70b",
		"inter-token-latency: 1ms", // overridden by env, then by the flag
		"prefill-overhead: 2ms",    // overridden by env
		"max-num-seqs: 3",          // from the file
	}, "\n"))
	env := map[string]string{
		"FAKEINFERENCE_INTER_TOKEN_LATENCY": "5ms",
		"FAKEINFERENCE_PREFILL_OVERHEAD":    "6ms",
		"FAKEINFERENCE_PORT":                "tcp://10.96.0.10:8000", // a Kubernetes service link, ignored
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--config", file, "--inter-token-latency=9ms", "--print-config"}, envOf(env), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, stderr.String())
	}
	var got fakeinference.Config
	j, err := yaml.YAMLToJSON(stdout.Bytes())
	if err != nil {
		t.Fatalf("--print-config output is not YAML: %v\n%s", err, stdout.String())
	}
	if err := got.UnmarshalJSON(j); err != nil {
		t.Fatalf("--print-config output does not load back: %v", err)
	}
	base := fakeinference.MustPreset(fakeinference.PresetH200_70B)
	checks := []struct {
		name      string
		got, want any
	}{
		{"preset from the file", got.Preset, "h200-70b"},
		{"file over preset", got.MaxNumSeqs, 3},
		{"env over file", got.PrefillOverhead, 6 * time.Millisecond},
		{"flag over env", got.InterTokenLatency, 9 * time.Millisecond},
		{"preset where nothing else", got.InterTokenLatencyStdDev, base.InterTokenLatencyStdDev},
		{"service link ignored", got.Port, 8000},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	// The preset flag replaces the file's preset as the base.
	stdout.Reset()
	if code := run(context.Background(), []string{"--config", file, "--preset=instant", "--print-config"}, envOf(nil), &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "preset: instant") || !strings.Contains(stdout.String(), "max-num-seqs: 3") {
		t.Errorf("--preset over the file's preset:\n%s", stdout.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunServesUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	var stderr syncBuffer
	codec := make(chan int, 1)
	go func() {
		codec <- run(ctx, []string{"--preset=instant", "--host=127.0.0.1", "--port=0"}, envOf(map[string]string{"FAKEINFERENCE_MODEL": "env-model"}), &stdout, &stderr)
	}()
	re := regexp.MustCompile(`listening on (\S+)`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no listening line in stderr: %s", stderr.String())
		}
	}
	resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"env-model","messages":[{"role":"user","content":"hi"}],"max_tokens":2}`))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"completion_tokens":2`) {
		t.Errorf("chat completion = %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case code := <-codec:
		if code != exitOK {
			t.Errorf("exit %d after cancel, want 0; stderr %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestBinaryExits2OnBadConfig(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "fakeinference")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--max-num-seqs=0", "--retry-after=soon")
	cmd.Env = append(os.Environ(), "FAKEINFERENCE_MODE=loud")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 {
		t.Fatalf("exit: %v, want code 2; stderr %s", err, stderr.String())
	}
	for _, w := range []string{"max-num-seqs: 0 is below 1", "--retry-after:", `"loud" is not a mode`, "invalid configuration"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
		}
	}
}
