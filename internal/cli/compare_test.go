package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/burstbench/burst/results"
)

// writeRuns writes run directories of two configurations, two repeats each,
// under root (a sweep directory without a manifest, as after a copy).
func writeRuns(t *testing.T, root string) {
	t.Helper()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 4 {
		reps := 1 + i%2
		p95 := 1000.0 / float64(reps)
		s := results.Summary{RunID: fmt.Sprintf("r%d", i), Target: "local", ScenarioName: "spike",
			Config: map[string]string{"worker.replicas": fmt.Sprint(reps)}, StartedAt: base.Add(time.Duration(i) * time.Minute),
			Ledger: results.Ledger{Valid: true}, SLO: results.SLOResult{Passed: true}, DrainMs: results.F(p95 + float64(i)),
			LatencyMs: results.Latencies{Completion: results.Stat{N: 50, P50: p95 / 2, P95: p95 + float64(i), P99: p95 + 10, Max: p95 + 20}},
			Scaling:   results.Scaling{ReplicaSeconds: results.F(float64(reps) * 10)},
			Cost:      results.Cost{ReplicaHours: float64(reps) * 10 / 3600, USD: float64(reps) * 10 / 3600 * 0.1}}
		dir := filepath.Join(root, fmt.Sprintf("worker.replicas=%d", reps), fmt.Sprintf("rep-%d", 1+i/2))
		if err := results.Write(dir, &results.Run{Summary: s}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCompareFormats(t *testing.T) {
	root := filepath.Join(t.TempDir(), "sweep-a")
	writeRuns(t, root)
	tests := []struct {
		format string
		want   []string
	}{
		{"table", []string{"worker.replicas=1", "worker.replicas=2", "compl. p95", "recommendation: #2 (worker.replicas=2) wins on drain"}},
		{"markdown", []string{"## burst comparison", "| # | configuration", "**Recommendation:** #2"}},
		{"csv", []string{"index,configuration,set,n,worker.replicas,", "1,worker.replicas=1,sweep-a,2,1,"}},
		{"bench", []string{"BenchmarkBurst/scenario=spike/worker.replicas=1 1 ", "completion-p95-ms"}},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			out, errOut, code := runCLI(t, "compare", "--format", tc.format, root)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	if out, _, _ := runCLI(t, "compare", "--format", "bench", root); strings.Count(out, "\n") != 4 {
		t.Errorf("bench output has %d lines, want one per run (4):\n%s", strings.Count(out, "\n"), out)
	}
}

func TestCompareOutChartAndStepSummary(t *testing.T) {
	root := filepath.Join(t.TempDir(), "sweep-a")
	writeRuns(t, root)
	tmp := t.TempDir()
	outFile, chart, summary := filepath.Join(tmp, "table.md"), filepath.Join(tmp, "p.svg"), filepath.Join(tmp, "summary.md")
	if err := os.WriteFile(summary, []byte("# earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	out, errOut, code := runCLI(t, "compare", "--format", "markdown", "--out", outFile, "--chart", chart, root)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if out != "" {
		t.Errorf("stdout = %q, want empty with --out", out)
	}
	if b, err := os.ReadFile(outFile); err != nil || !strings.HasPrefix(string(b), "## burst comparison") {
		t.Errorf("--out file: %v\n%s", err, b)
	}
	parseXML(t, chart)
	b, err := os.ReadFile(summary)
	if err != nil || !strings.HasPrefix(string(b), "# earlier step\n## burst comparison") {
		t.Errorf("step summary not appended: %v\n%s", err, b)
	}
	png := filepath.Join(tmp, "p.png")
	if _, _, code := runCLI(t, "compare", "--chart", png, root); code != 0 {
		t.Fatalf("--chart png: exit %d", code)
	}
	decodePNG(t, png)
}

func TestCompareRunDirsAndSweeps(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "before"), filepath.Join(t.TempDir(), "after")
	writeRuns(t, a)
	writeRuns(t, b)
	// Two sweeps of the same settings are compared side by side.
	out, errOut, code := runCLI(t, "compare", a, b)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, w := range []string{"before: worker.replicas=1", "after: worker.replicas=2"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	// Run directories given one by one: repeats of one configuration merge.
	r1, r2 := filepath.Join(a, "worker.replicas=1", "rep-1"), filepath.Join(a, "worker.replicas=1", "rep-2")
	out, errOut, code = runCLI(t, "compare", "--format", "csv", r1, r2)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[1], ",2,") {
		t.Errorf("want one row of 2 repeats:\n%s", out)
	}
}

func TestCompareBadInputExits2(t *testing.T) {
	root := filepath.Join(t.TempDir(), "sweep-a")
	writeRuns(t, root)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no dirs", []string{"compare"}, "requires at least 1 arg"},
		{"missing dir", []string{"compare", filepath.Join(root, "nope")}, "no such file"},
		{"empty dir", []string{"compare", t.TempDir()}, "no run directory"},
		{"bad format", []string{"compare", "--format", "xml", root}, `--format "xml"`},
		{"bad chart", []string{"compare", "--chart", "p.gif", root}, ".png or .svg"},
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
