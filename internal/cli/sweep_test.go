package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/burstbench/burst/internal/redistest"
	"github.com/burstbench/burst/internal/sweep"
	"github.com/burstbench/burst/results"
)

// sweepScenario writes a local scenario with a price, so that cost differs
// between configurations.
func sweepScenario(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sweep.yaml")
	doc := "name: sweep-test\nprofile: spike-50\ntarget: local\nworker: {replicas: 2, concurrency: 4}\n" +
		"inference: {preset: instant}\nrun: {timeout: 60s}\nslo: {lost: 0}\nprices: {workerHour: 0.10}\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func decodePNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Errorf("%s does not decode as PNG: %v", path, err)
	}
}

func parseXML(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Errorf("%s is not well-formed XML: %v", path, err)
			return
		}
	}
}

// TestSweepLocal2x2x2 is the done-when: 2 settings × 2 values × 2
// repeats on the local target, every output, and a second invocation that
// reuses the finished runs.
func TestSweepLocal2x2x2(t *testing.T) {
	srv := redistest.Start(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	args := []string{"sweep", "--scenario", sweepScenario(t), "--set", "worker.concurrency=2,4", "--set", "worker.replicas=1,2",
		"--repeat", "2", "--redis", srv.Addr, "--out", dir, "--quiet"}
	start := time.Now()
	out, errOut, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("8 runs in %s", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"worker.concurrency=2 worker.replicas=1", "worker.concurrency=4 worker.replicas=2", " ± ",
		"pareto", "yes", "recommendation: #", "always-on at peak", "sweep: " + dir + " (8 of 8 runs complete, 0 reused"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	m, err := sweep.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Runs) != 8 || m.Count(sweep.StatusComplete) != 8 {
		t.Fatalf("manifest: %d runs, %d complete; want 8 and 8", len(m.Runs), m.Count(sweep.StatusComplete))
	}
	runIDs := map[string]string{}
	for _, e := range m.Runs {
		rd := filepath.Join(dir, filepath.FromSlash(e.Dir))
		r, err := results.Load(rd)
		if err != nil {
			t.Fatal(err)
		}
		runIDs[e.Dir] = r.Summary.RunID
		if r.Summary.Config["worker.replicas"] != e.Config["worker.replicas"] || r.Summary.Config["worker.concurrency"] != e.Config["worker.concurrency"] {
			t.Errorf("%s: summary config %v, want %v", e.Dir, r.Summary.Config, e.Config)
		}
		if r.Summary.Tasks.Completed != 50 || !r.Summary.Ledger.Valid {
			t.Errorf("%s: %d completed, ledger valid %v", e.Dir, r.Summary.Tasks.Completed, r.Summary.Ledger.Valid)
		}
		decodePNG(t, filepath.Join(rd, results.TimelinePNG))
		parseXML(t, filepath.Join(rd, results.TimelineSVG))
	}

	md, err := os.ReadFile(filepath.Join(dir, comparisonMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| # | configuration") || !strings.Contains(string(md), "**Recommendation:**") {
		t.Errorf("comparison.md lacks the table or the recommendation:\n%s", md)
	}
	f, err := os.Open(filepath.Join(dir, comparisonCSV))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != 5 {
		t.Errorf("comparison.csv: %d records, %v; want header + 4", len(recs), err)
	}
	// benchstat's parser reads every run: 4 names, 2 results each.
	bf, err := os.Open(filepath.Join(dir, results.BenchFile))
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	br := benchfmt.NewReader(bf, results.BenchFile)
	names := map[string]int{}
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.Result:
			names[string(rec.Name.Full())]++
			if _, ok := rec.Value("completion-p95-ms"); !ok {
				t.Errorf("%s has no completion-p95-ms", rec.Name.Full())
			}
		case *benchfmt.SyntaxError:
			t.Errorf("benchfmt rejects bench.txt: %v", rec)
		}
	}
	if len(names) != 4 {
		t.Errorf("bench.txt has %d benchmark names, want 4: %v", len(names), names)
	}
	for n, k := range names {
		if k != 2 {
			t.Errorf("%s: %d results, want 2", n, k)
		}
	}
	decodePNG(t, filepath.Join(dir, paretoPNG))
	parseXML(t, filepath.Join(dir, paretoSVG))

	// The same command again: every run reused, none redone; the Markdown
	// also goes to the GitHub step summary.
	summary := filepath.Join(t.TempDir(), "step-summary.md")
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	start = time.Now()
	out, errOut, code = runCLI(t, args...)
	if code != 0 {
		t.Fatalf("second invocation: exit %d\n%s\n%s", code, out, errOut)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("second invocation took %s: runs were redone", d)
	}
	if !strings.Contains(out, "(8 of 8 runs complete, 8 reused") {
		t.Errorf("second invocation did not reuse the runs:\n%s", out)
	}
	m, err = sweep.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Runs {
		r, err := results.Load(filepath.Join(dir, filepath.FromSlash(e.Dir)))
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != sweep.StatusReused || r.Summary.RunID != runIDs[e.Dir] {
			t.Errorf("%s: status %s, run %s (was %s); want reused, unchanged", e.Dir, e.Status, r.Summary.RunID, runIDs[e.Dir])
		}
	}
	if b, err := os.ReadFile(summary); err != nil || !strings.Contains(string(b), "## burst comparison") {
		t.Errorf("GITHUB_STEP_SUMMARY not written: %v\n%s", err, b)
	}
}

func TestSweepSLOBreachExits3(t *testing.T) {
	srv := redistest.Start(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	out, errOut, code := runCLI(t, "sweep", "--scenario", sweepScenario(t), "--set", "slo.drain_ms=0.001", "--redis", srv.Addr,
		"--out", dir, "--quiet")
	if code != ExitSLOBreach {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "SLO breached: drain_ms in 1 of 1 runs") {
		t.Errorf("stderr does not name the breached figure:\n%s", errOut)
	}
	if !strings.Contains(out, "SLO breached 1/1: drain_ms") || !strings.Contains(out, "none can be recommended") {
		t.Errorf("table does not show the breach:\n%s", out)
	}
}

func TestSweepUnreachableRedisExits1(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sweep")
	out, errOut, code := runCLI(t, "sweep", "--scenario", sweepScenario(t), "--set", "worker.replicas=1,2", "--redis", "127.0.0.1:1",
		"--out", dir, "--quiet")
	if code != ExitRunFailed {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "127.0.0.1:1") {
		t.Errorf("error does not name the address:\n%s", errOut)
	}
	m, err := sweep.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Count(sweep.StatusFailed) != 1 || m.Count(sweep.StatusPending) != 1 {
		t.Errorf("manifest: %d failed, %d pending; want 1 and 1 (the sweep stops)", m.Count(sweep.StatusFailed), m.Count(sweep.StatusPending))
	}
}

func TestSweepBadInputExits2(t *testing.T) {
	scen := sweepScenario(t)
	lagScenario, err := filepath.Abs("../../scenarios/spike-50-lag.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A directory holding a run of another scenario is a conflict.
	conflict := filepath.Join(t.TempDir(), "sweep")
	rep := filepath.Join(conflict, "worker.replicas=1", "rep-1")
	if err := os.MkdirAll(rep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rep, sweep.MarkerFile), []byte(`{"config":{"worker.replicas":"1"},"repeat":1,"fingerprint":"other"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no scenario", []string{"sweep", "--set", "worker.replicas=1,2"}, "--scenario FILE or --profile"},
		{"setting without values", []string{"sweep", "--scenario", scen, "--set", "worker.replicas"}, "write KEY=V1,V2"},
		{"setting twice", []string{"sweep", "--scenario", scen, "--set", "worker.replicas=1", "--set", "worker.replicas=2"}, "given twice"},
		{"flag and setting", []string{"sweep", "--scenario", scen, "--workers", "2", "--set", "worker.replicas=1,2"}, "both set worker.replicas"},
		{"preset flag and setting", []string{"sweep", "--scenario", scen, "--preset", "instant", "--set", "inference.preset=instant,h200-8b"}, "both set inference.preset"},
		{"invalid configuration", []string{"sweep", "--scenario", scen, "--set", "scaler.trigger=none,bogus"}, `configuration scaler.trigger=bogus: invalid scenario`},
		{"repeat 0", []string{"sweep", "--scenario", scen, "--repeat", "0"}, "--repeat 0"},
		{"cluster without kubeconfig", []string{"sweep", "--scenario", lagScenario, "--set", "target=cluster", "--set", "scaler.lagCount=5,10"}, "target cluster needs --kubeconfig"},
		{"conflicting directory", []string{"sweep", "--scenario", scen, "--set", "worker.replicas=1,2", "--out", conflict, "--redis", "127.0.0.1:1"}, "another --out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cwd := t.TempDir()
			t.Chdir(cwd)
			out, errOut, code := runCLI(t, tc.args...)
			if code != ExitBadInput {
				t.Fatalf("exit %d, want 2\n%s%s", code, out, errOut)
			}
			if !strings.Contains(out+errOut, tc.want) {
				t.Errorf("output lacks %q:\n%s%s", tc.want, out, errOut)
			}
			// Nothing ran: no sweep directory under the default location.
			if _, err := os.Stat(filepath.Join(cwd, "results")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a sweep directory was created despite invalid input")
			}
		})
	}
}

func TestDefaultSweepNameIsStable(t *testing.T) {
	a := []sweep.Setting{{Key: "worker.replicas", Values: []string{"1", "2"}}}
	b := []sweep.Setting{{Key: "worker.replicas", Values: []string{"1", "3"}}}
	if defaultSweepName("s 1", a) != defaultSweepName("s 1", a) {
		t.Error("the same sweep gets two names")
	}
	if defaultSweepName("s 1", a) == defaultSweepName("s 1", b) {
		t.Error("different settings share a name")
	}
	if n := defaultSweepName("s 1/x", a); !strings.HasPrefix(n, "sweep-s_1_x-") {
		t.Errorf("name %q is not file-safe", n)
	}
}
