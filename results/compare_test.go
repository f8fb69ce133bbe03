package results

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./results -run %s -update rewrites it)\ngot:\n%s\nwant:\n%s", name, t.Name(), got, want)
	}
}

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeRun is a summary of one run with the figures a comparison reads.
type fakeRun struct {
	config        map[string]string
	start         int // minutes after epoch
	replicas      float64
	drain, p95    float64
	firstReady    *float64
	usd, alwaysOn float64
	breach        string
	lost          int
}

func (f fakeRun) summary() Summary {
	s := Summary{
		Schema: Schema, RunID: "run-" + time.Duration(f.start*int(time.Minute)).String(), Target: "local", ScenarioName: "spike",
		Scenario: map[string]any{"name": "spike", "worker": map[string]any{"replicas": f.replicas, "gpus": 0.0},
			"prices": map[string]any{"workerHour": 0.1, "gpuHour": 0.0, "per1MTokens": 0.0}},
		Config: f.config, StartedAt: epoch.Add(time.Duration(f.start) * time.Minute),
		Tasks:     Tasks{Enqueued: 50, Completed: 50 - f.lost},
		Ledger:    Ledger{Valid: f.lost == 0, Lost: f.lost},
		DrainMs:   F(f.drain),
		LatencyMs: Latencies{Completion: Stat{N: 50, P50: f.p95 / 2, P95: f.p95, P99: f.p95 * 1.1, Max: f.p95 * 1.2}},
		SLO:       SLOResult{Passed: f.breach == ""},
		Scaling:   Scaling{ReplicaSeconds: F(f.usd / 0.1 * 3600), FirstReadyMs: f.firstReady},
		Cost:      Cost{ReplicaHours: f.usd / 0.1, USD: f.usd},
	}
	if f.alwaysOn > 0 {
		s.Cost.AlwaysOnUSD = F(f.alwaysOn)
		s.Cost.AlwaysOnReplicaHours = F(f.alwaysOn / 0.1)
	}
	if f.breach != "" {
		s.SLO.Breaches = []Breach{{Figure: f.breach, Limit: 1000, Observed: F(f.drain)}}
	}
	return s
}

func cfg(conc, reps string) map[string]string {
	return map[string]string{"worker.concurrency": conc, "worker.replicas": reps, "inference.preset": "instant"}
}

// sweepFixture is a 2×2 sweep with 2 repeats, interleaved as the sweep
// runs it, where one configuration breaches its drain SLO in one repeat.
func sweepFixture() []RunSet {
	runs := []fakeRun{
		{config: cfg("2", "1"), start: 0, replicas: 1, drain: 2900, p95: 2800, usd: 0.0010, alwaysOn: 0.0010},
		{config: cfg("2", "2"), start: 1, replicas: 2, drain: 1500, p95: 1450, usd: 0.0012, alwaysOn: 0.0012},
		{config: cfg("4", "1"), start: 2, replicas: 1, drain: 1600, p95: 1500, usd: 0.0007, alwaysOn: 0.0007},
		{config: cfg("4", "2"), start: 3, replicas: 2, drain: 900, p95: 850, usd: 0.0011, alwaysOn: 0.0022, breach: "drain_ms"},
		{config: cfg("2", "1"), start: 4, replicas: 1, drain: 3100, p95: 3000, usd: 0.0011, alwaysOn: 0.0011},
		{config: cfg("2", "2"), start: 5, replicas: 2, drain: 1550, p95: 1500, usd: 0.0012, alwaysOn: 0.0012},
		{config: cfg("4", "1"), start: 6, replicas: 1, drain: 1700, p95: 1600, usd: 0.0008, alwaysOn: 0.0008},
		{config: cfg("4", "2"), start: 7, replicas: 2, drain: 950, p95: 900, usd: 0.0011, alwaysOn: 0.0022},
	}
	set := RunSet{Name: "sweep-spike"}
	for i, f := range runs {
		set.Runs = append(set.Runs, &Run{Dir: filepath.Join("sweep-spike", strings.Repeat("x", i%4+1)), Summary: f.summary()})
	}
	return []RunSet{set}
}

func TestStudentT975(t *testing.T) {
	tests := []struct {
		df   int
		want float64
	}{{1, 12.706}, {2, 4.303}, {3, 3.182}, {4, 2.776}, {9, 2.262}, {29, 2.045}, {100, 1.984}, {100000, 1.960}}
	for _, tc := range tests {
		if got := StudentT975(tc.df); math.Abs(got-tc.want) > 0.0006 {
			t.Errorf("StudentT975(%d) = %.4f, want %.3f", tc.df, got, tc.want)
		}
	}
	if !math.IsNaN(StudentT975(0)) {
		t.Error("StudentT975(0) is a number, want NaN")
	}
}

func TestNewEstimate(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want Estimate
	}{
		{"none", nil, Estimate{}},
		{"one", []float64{7}, Estimate{N: 1, Mean: 7}},
		{"three", []float64{1, 2, 3}, Estimate{N: 3, Mean: 2, CI95: 4.3027 / math.Sqrt(3)}},
		{"equal", []float64{5, 5}, Estimate{N: 2, Mean: 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NewEstimate(tc.xs)
			if got.N != tc.want.N || math.Abs(got.Mean-tc.want.Mean) > 1e-9 || math.Abs(got.CI95-tc.want.CI95) > 1e-3 {
				t.Errorf("NewEstimate(%v) = %+v, want %+v", tc.xs, got, tc.want)
			}
		})
	}
}

func TestParetoFront(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
		ok   []bool
		want []bool
	}{
		{"one dominates", []float64{1, 2}, []float64{1, 2}, []bool{true, true}, []bool{true, false}},
		{"trade-off", []float64{1, 2, 3}, []float64{3, 2, 1}, []bool{true, true, true}, []bool{true, true, true}},
		{"dominated in the middle", []float64{1, 2, 3}, []float64{3, 4, 1}, []bool{true, true, true}, []bool{true, false, true}},
		{"equal points both optimal", []float64{1, 1}, []float64{2, 2}, []bool{true, true}, []bool{true, true}},
		{"same cost, slower", []float64{1, 1}, []float64{2, 3}, []bool{true, true}, []bool{true, false}},
		{"unobserved never optimal", []float64{0, 5}, []float64{0, 5}, []bool{false, true}, []bool{false, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParetoFront(tc.x, tc.y, tc.ok)
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("ParetoFront = %v, want %v", got, tc.want)
					break
				}
			}
		})
	}
}

func TestCompareSweep(t *testing.T) {
	c, err := Compare(sweepFixture())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rows) != 4 {
		t.Fatalf("%d rows, want 4 (2×2 configurations)", len(c.Rows))
	}
	wantLabels := []string{"worker.concurrency=2 worker.replicas=1", "worker.concurrency=2 worker.replicas=2",
		"worker.concurrency=4 worker.replicas=1", "worker.concurrency=4 worker.replicas=2"}
	for i, r := range c.Rows {
		if r.Label != wantLabels[i] || len(r.Runs) != 2 || r.Index != i+1 {
			t.Errorf("row %d = %q with %d runs, want %q with 2", r.Index, r.Label, len(r.Runs), wantLabels[i])
		}
	}
	if c.Fixed["inference.preset"] != "instant" || len(c.Fixed) != 1 {
		t.Errorf("fixed = %v, want only inference.preset=instant", c.Fixed)
	}
	if c.CostKey != "cost_usd" {
		t.Errorf("cost key %q, want cost_usd", c.CostKey)
	}
	drain := c.Rows[0].Values["drain_ms"]
	// {2900, 3100}: sd 141.42, t(1) 12.706, half-width 12.706 × 141.42 / √2.
	if drain.N != 2 || drain.Mean != 3000 || math.Abs(drain.CI95-1270.6) > 0.1 {
		t.Errorf("drain of row 1 = %+v, want 3000 ± 1270.6 (n=2)", drain)
	}
	// #3 is cheapest, #4 fastest; #1 and #2 are dominated.
	for i, want := range []bool{false, false, true, true} {
		if c.Rows[i].Pareto != want {
			t.Errorf("row %d pareto = %v, want %v", i+1, c.Rows[i].Pareto, want)
		}
	}
	if r := c.Rows[3]; r.SLOBreached != 1 || r.Eligible() || len(r.Breaches) != 1 || r.Breaches[0] != "drain_ms" {
		t.Errorf("row 4: breached %d %v eligible %v, want 1 [drain_ms] false", r.SLOBreached, r.Breaches, r.Eligible())
	}
	// #4 breached an SLO: the fastest eligible row is #2, the cheapest #3.
	for _, want := range []string{"#2 (worker.concurrency=2 worker.replicas=2) wins on drain, completion p50, completion p95, completion p99",
		"#3 (worker.concurrency=4 worker.replicas=1) wins on replica-hours, cost", "Pareto front (cost vs completion p95): #3, #4",
		"1 configuration(s) excluded"} {
		if !strings.Contains(c.Recommendation, want) {
			t.Errorf("recommendation lacks %q:\n%s", want, c.Recommendation)
		}
	}
}

func TestCompareGolden(t *testing.T) {
	c, err := Compare(sweepFixture())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"compare.table.golden", func(b *bytes.Buffer) error { return c.WriteTable(b) }},
		{"compare.md.golden", func(b *bytes.Buffer) error { return c.WriteMarkdown(b) }},
		{"compare.csv.golden", func(b *bytes.Buffer) error { return c.WriteCSV(b) }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, b.Bytes())
		})
	}
}

func TestCompareCSVColumns(t *testing.T) {
	c, err := Compare(sweepFixture())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := c.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	if len(recs) != 5 {
		t.Fatalf("%d CSV records, want header + 4", len(recs))
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, h := range []string{"worker.concurrency", "worker.replicas", "completion_p95_ms_mean", "completion_p95_ms_ci95", "cost_usd_n", "pareto"} {
		if _, ok := col[h]; !ok {
			t.Errorf("CSV lacks column %s: %v", h, recs[0])
		}
	}
	if got := recs[1][col["drain_ms_mean"]]; got != "3000" {
		t.Errorf("drain_ms_mean of row 1 = %q, want 3000", got)
	}
	if got := recs[4][col["pareto"]]; got != "true" {
		t.Errorf("pareto of row 4 = %q, want true", got)
	}
	// activation does not apply to the local target: empty, never 0.
	if got := recs[1][col["activation_ms_mean"]]; got != "" {
		t.Errorf("activation_ms_mean = %q, want empty", got)
	}
}

func TestCompareBenchParsesWithBenchfmt(t *testing.T) {
	c, err := Compare(sweepFixture())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := c.WriteBench(&b); err != nil {
		t.Fatal(err)
	}
	r := benchfmt.NewReader(&b, "bench.txt")
	names := map[string]int{}
	units := map[string]bool{}
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.Result:
			names[string(rec.Name.Full())]++
			for _, v := range rec.Values {
				units[v.Unit] = true
			}
		case *benchfmt.SyntaxError:
			t.Errorf("benchfmt rejects a line: %v", rec)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if len(names) != 4 {
		t.Errorf("%d benchmark names, want 4 configurations: %v", len(names), names)
	}
	want := "Burst/scenario=spike/inference.preset=instant/worker.concurrency=2/worker.replicas=1"
	if names[want] != 2 {
		t.Errorf("%s has %d results, want 2 repeats; names: %v", want, names[want], names)
	}
	for _, u := range []string{"drain-ms", "completion-p95-ms", "usd", "replica-h", "lost"} {
		if !units[u] {
			t.Errorf("no %s values; units: %v", u, units)
		}
	}
}

func TestCompareLooseRunsDeriveLabels(t *testing.T) {
	// Runs made by burst run carry no settings: rows are told apart by the
	// scenario fields that differ, and identical scenarios are repeats.
	set := RunSet{}
	for i, reps := range []float64{1, 2, 1} {
		f := fakeRun{start: i, replicas: reps, drain: 1000 * reps, p95: 900 * reps, usd: 0}
		set.Runs = append(set.Runs, &Run{Dir: "r" + string(rune('a'+i)), Summary: f.summary()})
	}
	c, err := Compare([]RunSet{set})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rows) != 2 || c.Rows[0].Label != "worker.replicas=1" || len(c.Rows[0].Runs) != 2 || c.Rows[1].Label != "worker.replicas=2" {
		for _, r := range c.Rows {
			t.Logf("row %q runs %d", r.Label, len(r.Runs))
		}
		t.Fatalf("want rows worker.replicas=1 (2 runs) and worker.replicas=2")
	}
	if c.Rows[0].Dirs[0] != "ra" || c.Rows[0].Dirs[1] != "rc" {
		t.Errorf("dirs of row 1 = %v, want [ra rc]", c.Rows[0].Dirs)
	}
	// Nothing cost money: replica-hours stand in for cost.
	if c.CostKey != "replica_hours" {
		t.Errorf("cost key = %q, want replica_hours", c.CostKey)
	}
}

func TestCompareLooseRunsOfSeveralScenarios(t *testing.T) {
	// make bench: one run of each shipped scenario in one directory.
	set := RunSet{Name: "bench"}
	for i, name := range []string{"spike-50-lag", "spike-50-lag-pending", "seed-article", "spike-50-lag"} {
		f := fakeRun{start: i, replicas: 2, drain: 1000, p95: 900, usd: 0.001}
		s := f.summary()
		s.ScenarioName = name
		s.Scenario = map[string]any{"name": name, "description": "about " + name, "scaler": map[string]any{"trigger": name}}
		if i == 3 {
			s.Scenario.(map[string]any)["scaler"].(map[string]any)["lagCount"] = 10.0
		}
		set.Runs = append(set.Runs, &Run{Summary: s})
	}
	c, err := Compare([]RunSet{set})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"spike-50-lag scaler.lagCount=—", "spike-50-lag-pending", "seed-article", "spike-50-lag scaler.lagCount=10"}
	if len(c.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(c.Rows), len(want))
	}
	for i, r := range c.Rows {
		if r.Label != want[i] {
			t.Errorf("row %d label = %q, want %q", i+1, r.Label, want[i])
		}
	}
}

func TestCompareSetsAreNotMerged(t *testing.T) {
	a, b := sweepFixture()[0], sweepFixture()[0]
	a.Name, b.Name = "before", "after"
	c, err := Compare([]RunSet{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rows) != 8 {
		t.Fatalf("%d rows, want 8: the same configuration in two sweeps is two rows", len(c.Rows))
	}
	if !strings.HasPrefix(c.Rows[0].Label, "before: ") || !strings.HasPrefix(c.Rows[4].Label, "after: ") {
		t.Errorf("labels %q, %q: want the set names first", c.Rows[0].Label, c.Rows[4].Label)
	}
}

func TestCompareNoEligibleRow(t *testing.T) {
	set := RunSet{Name: "s"}
	for i, conc := range []string{"1", "2"} {
		f := fakeRun{config: cfg(conc, "1"), start: i, replicas: 1, drain: 1000, p95: 900, usd: 0.001, breach: "drain_ms"}
		set.Runs = append(set.Runs, &Run{Summary: f.summary()})
	}
	c, err := Compare([]RunSet{set})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.Recommendation, "none can be recommended") {
		t.Errorf("recommendation = %q", c.Recommendation)
	}
	var b bytes.Buffer
	if err := c.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "SLO breached 1/1: drain_ms") {
		t.Errorf("table does not name the breach:\n%s", b.String())
	}
}

func TestCompareNoRuns(t *testing.T) {
	if _, err := Compare(nil); err == nil {
		t.Error("Compare(nil) succeeded, want an error")
	}
}

func TestFigureCell(t *testing.T) {
	ms, usd, count := figure("drain_ms"), figure("cost_usd"), figure("lost")
	tests := []struct {
		name string
		f    Figure
		e    Estimate
		runs int
		want string
	}{
		{"null", ms, Estimate{}, 2, "—"},
		{"one run", ms, Estimate{N: 1, Mean: 1500}, 1, "1.50 s"},
		{"interval", ms, Estimate{N: 3, Mean: 1500, CI95: 250}, 3, "1.50 s ± 250 ms"},
		{"partly observed", ms, Estimate{N: 2, Mean: 800, CI95: 20}, 3, "800 ms ± 20 ms (n=2)"},
		{"dollars", usd, Estimate{N: 2, Mean: 0.001234, CI95: 0.0001}, 2, "$0.00123 ± 0.00010"},
		{"equal repeats", count, Estimate{N: 2, Mean: 0}, 2, "0"},
		{"small interval", count, Estimate{N: 3, Mean: 2, CI95: 0.004}, 3, "2.000 ± 0.004"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Cell(tc.e, tc.runs); got != tc.want {
				t.Errorf("Cell(%+v) = %q, want %q", tc.e, got, tc.want)
			}
		})
	}
}

func TestLoadSets(t *testing.T) {
	root := t.TempDir()
	sweep := filepath.Join(root, "sweep")
	loose := filepath.Join(root, "loose")
	fx := sweepFixture()[0].Runs
	for i, r := range fx[:4] {
		if err := Write(filepath.Join(sweep, "cfg"+string(rune('a'+i)), "rep-1"), &Run{Summary: r.Summary}); err != nil {
			t.Fatal(err)
		}
	}
	// An interrupted run set aside by a sweep is not a result.
	if err := Write(filepath.Join(sweep, "cfga", "rep-2"+IncompleteSuffix), &Run{Summary: fx[4].Summary}); err != nil {
		t.Fatal(err)
	}
	if err := Write(loose, &Run{Summary: fx[5].Summary}); err != nil {
		t.Fatal(err)
	}
	sets, err := LoadSets([]string{sweep, loose})
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 || sets[0].Name != "" || len(sets[0].Runs) != 1 || sets[1].Name != "sweep" || len(sets[1].Runs) != 4 {
		t.Fatalf("sets = %d, want the loose run first, then sweep with 4 runs", len(sets))
	}
	if _, err := LoadSets([]string{t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no run directory") {
		t.Errorf("LoadSets of an empty dir: %v, want 'no run directory'", err)
	}
}

// A configuration that left tasks behind costs less only because it did
// less work: it must not win on cost.
func TestCompareUndrainedRowCannotWin(t *testing.T) {
	set := RunSet{Name: "s"}
	drained := fakeRun{config: cfg("4", "1"), start: 0, replicas: 1, drain: 20000, p95: 18000, usd: 0.01}
	stuck := fakeRun{config: cfg("1", "1"), start: 1, replicas: 1, drain: 0, p95: 0, usd: 0}
	set.Runs = append(set.Runs, &Run{Summary: drained.summary()})
	s := stuck.summary()
	s.DrainMs, s.Tasks.Completed, s.LatencyMs = nil, 0, Latencies{}
	set.Runs = append(set.Runs, &Run{Summary: s})
	c, err := Compare([]RunSet{set})
	if err != nil {
		t.Fatal(err)
	}
	var undrained *Row
	for _, r := range c.Rows {
		if r.Undrained > 0 {
			undrained = r
		}
	}
	if undrained == nil || undrained.Eligible() {
		t.Fatalf("undrained row = %+v, want one that is not eligible", undrained)
	}
	if strings.Contains(c.Recommendation, fmt.Sprintf("#%d (", undrained.Index)) || !strings.Contains(c.Recommendation, "is the only eligible configuration") {
		t.Errorf("recommendation = %q, want only the drained row named", c.Recommendation)
	}
	var b bytes.Buffer
	if err := c.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "not drained 1/1") {
		t.Errorf("table does not mark the undrained row:\n%s", b.String())
	}
}
