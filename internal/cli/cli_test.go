package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/burstbench/burst/fakeinference"
	"github.com/burstbench/burst/internal/redistest"
)

// The local target starts worker processes with os.Executable() — in a test,
// this test binary. TestMain turns such a process into burst.
func TestMain(m *testing.M) {
	if os.Getenv("BURST_TEST_AS_BURST") == "1" {
		os.Exit(Main())
	}
	os.Setenv("BURST_TEST_AS_BURST", "1") // inherited by the worker processes only
	defer os.Unsetenv("BURST_TEST_AS_BURST")
	os.Exit(m.Run())
}

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, Streams{Out: &out, Err: &errb})
	if err != nil {
		errb.WriteString("burst: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), exitCode(err)
}

// contractFields are the summary.json fields DESIGN.md promises.
var contractFields = []string{
	"schema", "run_id", "target", "scenario", "versions.burst", "versions.kubernetes", "versions.keda", "versions.redis", "started_at", "finished_at",
	"tasks.enqueued", "tasks.completed", "tasks.failed", "tasks.dead_lettered",
	"ledger.lost", "ledger.duplicated", "ledger.unexpected", "ledger.still_pending", "ledger.valid",
	"latency_ms.completion.n", "latency_ms.completion.p50", "latency_ms.completion.p95", "latency_ms.completion.p99", "latency_ms.completion.max",
	"latency_ms.queue_wait.p95", "latency_ms.service.p95",
	"drain_ms", "leftover.pending", "leftover.lag",
	"scaling.activation_ms", "scaling.first_ready_ms", "scaling.first_task_started_ms", "scaling.peak_replicas",
	"scaling.peak_ready_ms", "scaling.scale_down_ms", "scaling.replica_seconds", "scaling.flaps",
	"scaling.pods_killed_with_tasks", "scaling.expected_first_ready_ms",
	"loadgen.intended", "loadgen.sent", "loadgen.late", "loadgen.dropped", "loadgen.max_send_lag_ms",
	"slo.passed", "slo.breaches", "cost.replica_hours", "cost.usd",
}

func lookup(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func TestRunLocalSpike50(t *testing.T) {
	srv := redistest.Start(t)
	dir := filepath.Join(t.TempDir(), "run")
	out, errOut, code := runCLI(t, "run", "--target", "local", "--profile", "spike-50", "--workers", "2",
		"--preset", "instant", "--redis", srv.Addr, "--run-dir", dir, "--quiet", "--timeout", "60s")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"50 enqueued · 50 completed", "valid · lost 0", "pending 0 · lag 0", "results: " + dir} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, f := range contractFields {
		if _, ok := lookup(doc, f); !ok {
			t.Errorf("summary.json lacks contract field %s", f)
		}
	}
	get := func(p string) any { v, _ := lookup(doc, p); return v }
	if get("schema") != "burst/v1" || get("target") != "local" || get("ledger.valid") != true || get("ledger.lost") != 0.0 ||
		get("leftover.pending") != 0.0 || get("leftover.lag") != 0.0 || get("tasks.completed") != 50.0 || get("latency_ms.completion.n") != 50.0 {
		t.Errorf("summary figures wrong: %s", b)
	}
	// Scaling figures do not apply to the local target: null, never 0.
	for _, f := range []string{"versions.kubernetes", "versions.keda", "scaling.activation_ms", "scaling.first_ready_ms", "scaling.peak_replicas", "scaling.scale_down_ms", "scaling.flaps", "scaling.expected_first_ready_ms"} {
		if v := get(f); v != nil {
			t.Errorf("%s = %v on the local target, want null", f, v)
		}
	}
	if v, ok := get("drain_ms").(float64); !ok || v <= 0 {
		t.Errorf("drain_ms = %v, want > 0", get("drain_ms"))
	}
	for _, f := range []string{"tasks.csv", "timeline.csv", "report.md", "bench.txt"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	tasks, _ := os.ReadFile(filepath.Join(dir, "tasks.csv"))
	if n := strings.Count(string(tasks), ",completed,"); n != 50 {
		t.Errorf("tasks.csv has %d completed rows, want 50", n)
	}
}

func TestRunUnreachableRedis(t *testing.T) {
	start := time.Now()
	_, errOut, code := runCLI(t, "run", "--target", "local", "--profile", "spike-50", "--redis", "127.0.0.1:1", "--quiet", "--run-dir", t.TempDir())
	if code != ExitRunFailed {
		t.Fatalf("exit %d, want 1\n%s", code, errOut)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, want < 5s", d)
	}
	if !strings.Contains(errOut, "127.0.0.1:1") {
		t.Errorf("error does not name the address:\n%s", errOut)
	}
}

func TestRunSLOBreachExits3(t *testing.T) {
	srv := redistest.Start(t)
	out, errOut, code := runCLI(t, "run", "--target", "local", "--profile", "spike-50", "--workers", "1", "--preset", "instant",
		"--redis", srv.Addr, "--run-dir", t.TempDir(), "--quiet", "--set", "slo.drain_ms=0.001", "--set", "slo.lost=0")
	if code != ExitSLOBreach {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "SLO breached: drain_ms") || !strings.Contains(out, "BREACHED: drain_ms") {
		t.Errorf("breach not named:\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}
}

func TestBadInputExits2(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("name: x\nprofile: spike-50\nscaler: {trigger: lagg}\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no profile", []string{"run"}, "--scenario FILE or --profile"},
		{"unknown flag", []string{"run", "--nope"}, "unknown flag"},
		{"unknown profile", []string{"run", "--profile", "no-such-profile"}, "no-such-profile"},
		{"bad scenario", []string{"run", "--scenario", bad}, `bad.yaml: scaler.trigger: "lagg" is not a trigger mode`},
		{"bad set", []string{"run", "--profile", "spike-50", "--set", "worker.concurrency"}, "KEY=VALUE"},
		{"lint bad scenario", []string{"lint", bad}, "is not a trigger mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tc.args...)
			if code != ExitBadInput {
				t.Fatalf("exit %d, want 2\n%s%s", code, out, errOut)
			}
			if !strings.Contains(out+errOut, tc.want) {
				t.Errorf("output lacks %q:\n%s%s", tc.want, out, errOut)
			}
		})
	}
}

func TestLintSeedArticleWarns(t *testing.T) {
	out, errOut, code := runCLI(t, "lint", "../../scenarios/seed-article.yaml")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"[pending-from-zero]", "can never scale up from zero", "fix: use trigger lag+pending"} {
		if !strings.Contains(out, want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
	_, _, code = runCLI(t, "lint", "--strict", "../../scenarios/seed-article.yaml")
	if code != ExitBadInput {
		t.Errorf("lint --strict with warnings: exit %d, want 2", code)
	}
	if _, _, code := runCLI(t, "lint", "../../scenarios/spike-50-lag-pending.yaml"); code != 0 {
		t.Errorf("lint of the recommended scenario: exit %d", code)
	}
}

func TestExitCode(t *testing.T) {
	if exitCode(nil) != 0 || exitCode(errors.New("x")) != 1 || exitCode(withCode(4, errors.New("x"))) != 4 {
		t.Error("exitCode mapping wrong")
	}
}

// A real OpenAI-compatible endpoint instead of the in-process fake server:
// here a separately started fakeinference server that serves another model
// name, which the workers must send.
func TestRunLocalRealEndpoint(t *testing.T) {
	cfg, err := fakeinference.Preset("instant")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Model = "meta-llama/Llama-3.1-8B-Instruct"
	fake, err := fakeinference.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(fake.Handler())
	defer ts.Close()
	defer fake.Close()
	srv := redistest.Start(t)
	dir := filepath.Join(t.TempDir(), "run")
	out, errOut, code := runCLI(t, "run", "--target", "local", "--profile", "spike-50", "--workers", "1", "--redis", srv.Addr,
		"--inference-endpoint", ts.URL+"/v1", "--model", cfg.Model, "--run-dir", dir, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, "fake inference server (preset") {
		t.Errorf("a fake server was started although an endpoint was given:\n%s", errOut)
	}
	if !strings.Contains(out, "50 enqueued · 50 completed") {
		t.Errorf("tasks did not complete against the endpoint:\n%s", out)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	if !strings.Contains(string(b), `"endpoint": "`+ts.URL+`/v1"`) || !strings.Contains(string(b), `"model": "meta-llama/Llama-3.1-8B-Instruct"`) {
		t.Errorf("summary.json does not record the endpoint and model:\n%s", b)
	}
}
