package results

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// IncompleteSuffix ends the name of a run directory that a sweep set aside
// because the run was interrupted or failed. LoadSets skips such directories.
const IncompleteSuffix = ".incomplete"

// Unit says how a figure is formatted.
type Unit int

// Units of comparison figures.
const (
	UnitMs    Unit = iota // milliseconds, printed as ms, s or m:s
	UnitCount             // a count of tasks
	UnitHours             // replica-hours
	UnitUSD               // US dollars
)

// Figure is one figure a comparison reports per configuration. Lower is
// better for every figure.
type Figure struct {
	// Key is the figure's name in CSV headers and SLO limits, e.g. completion_p95_ms.
	Key string
	// Header is the column header of the tables.
	Header string
	// Name is the figure in sentences ("completion p95").
	Name string
	Unit Unit
	// Value returns the run's value, nil when the run did not observe it.
	Value func(*Summary) *float64
}

func percentile(get func(Stat) float64) func(*Summary) *float64 {
	return func(s *Summary) *float64 {
		if s.LatencyMs.Completion.N == 0 {
			return nil
		}
		return F(get(s.LatencyMs.Completion))
	}
}

// Figures are the columns of a comparison, in order.
var Figures = []Figure{
	{"activation_ms", "activation", "activation", UnitMs, func(s *Summary) *float64 { return s.Scaling.ActivationMs }},
	{"first_ready_ms", "first ready", "first Ready", UnitMs, func(s *Summary) *float64 { return s.Scaling.FirstReadyMs }},
	{"peak_ready_ms", "peak ready", "peak Ready", UnitMs, func(s *Summary) *float64 { return s.Scaling.PeakReadyMs }},
	{"drain_ms", "drain", "drain", UnitMs, func(s *Summary) *float64 { return s.DrainMs }},
	{"completion_p50_ms", "compl. p50", "completion p50", UnitMs, percentile(func(s Stat) float64 { return s.P50 })},
	{"completion_p95_ms", "compl. p95", "completion p95", UnitMs, percentile(func(s Stat) float64 { return s.P95 })},
	{"completion_p99_ms", "compl. p99", "completion p99", UnitMs, percentile(func(s Stat) float64 { return s.P99 })},
	{"leftover", "leftover", "leftover", UnitCount, func(s *Summary) *float64 {
		return F(float64(s.Leftover.Pending) + float64(s.Leftover.Undelivered))
	}},
	{"lost", "lost", "lost", UnitCount, func(s *Summary) *float64 { return F(float64(s.Ledger.Lost)) }},
	{"replica_hours", "replica-h", "replica-hours", UnitHours, func(s *Summary) *float64 {
		if s.Scaling.ReplicaSeconds == nil {
			return nil
		}
		return F(s.Cost.ReplicaHours)
	}},
	{"cost_usd", "cost", "cost", UnitUSD, func(s *Summary) *float64 { return F(s.Cost.USD) }},
}

// alwaysOn is the article's comparison: the same traffic served by the peak
// replica count for the whole window.
var (
	alwaysOn   = Figure{"always_on_usd", "always-on cost", "always-on cost", UnitUSD, func(s *Summary) *float64 { return s.Cost.AlwaysOnUSD }}
	alwaysOnRH = Figure{"always_on_replica_hours", "always-on replica-h", "always-on replica-hours", UnitHours,
		func(s *Summary) *float64 { return s.Cost.AlwaysOnReplicaHours }}
)

// costFigures are the figures beyond Figures that the cost table and the
// CSV report.
var costFigures = []Figure{alwaysOnRH, alwaysOn}

// figure returns the figure with key k.
func figure(k string) Figure {
	for _, f := range Figures {
		if f.Key == k {
			return f
		}
	}
	for _, f := range costFigures {
		if f.Key == k {
			return f
		}
	}
	panic("results: no figure " + k)
}

// Estimate is a figure over the repeats of one configuration: the mean and
// the half-width of its 95 % confidence interval (Student t, n−1 degrees of
// freedom). CI95 is 0 when fewer than two repeats observed the figure.
type Estimate struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	CI95 float64 `json:"ci95"`
}

// NewEstimate summarises samples as mean ± 95 % interval.
func NewEstimate(xs []float64) Estimate {
	n := len(xs)
	if n == 0 {
		return Estimate{}
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(n)
	e := Estimate{N: n, Mean: mean}
	if n < 2 {
		return e
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / float64(n-1))
	e.CI95 = StudentT975(n-1) * sd / math.Sqrt(float64(n))
	return e
}

// StudentT975 is the 0.975 quantile of Student's t distribution with df
// degrees of freedom: the factor of a two-sided 95 % interval.
func StudentT975(df int) float64 {
	if df < 1 {
		return math.NaN()
	}
	lo, hi := 0.0, 1000.0
	for range 200 {
		mid := (lo + hi) / 2
		if tCDF(mid, float64(df)) < 0.975 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// tCDF is P(T ≤ t) for t ≥ 0.
func tCDF(t, df float64) float64 {
	return 1 - 0.5*betaInc(df/2, 0.5, df/(df+t*t))
}

// betaInc is the regularized incomplete beta function I_x(a, b).
func betaInc(a, b, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	lab, _ := math.Lgamma(a + b)
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log(1-x))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(a, b, x) / a
	}
	return 1 - front*betaCF(b, a, 1-x)/b
}

// betaCF evaluates the continued fraction of the incomplete beta function
// (modified Lentz method).
func betaCF(a, b, x float64) float64 {
	const eps, tiny = 1e-15, 1e-300
	clamp := func(v float64) float64 {
		if math.Abs(v) < tiny {
			return tiny
		}
		return v
	}
	c, d := 1.0, 1/clamp(1-(a+b)*x/(a+1))
	h := d
	for m := 1.0; m <= 500; m++ {
		aa := m * (b - m) * x / ((a - 1 + 2*m) * (a + 2*m))
		d = 1 / clamp(1+aa*d)
		c = clamp(1 + aa/c)
		h *= d * c
		aa = -(a + m) * (a + b + m) * x / ((a + 2*m) * (a + 1 + 2*m))
		d = 1 / clamp(1+aa*d)
		c = clamp(1 + aa/c)
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}

// RunSet is the runs found under one directory given to compare. Runs of
// one set with the same configuration are repeats of one row; runs of
// different sets are never merged.
type RunSet struct {
	// Name labels the set's rows when several sets are compared; empty for
	// run directories given one by one.
	Name string
	Runs []*Run
}

// LoadSets loads the runs under dirs. A directory holding summary.json is a
// run; any other directory (a sweep) is searched for runs, skipping
// directories that end in IncompleteSuffix. Run directories given directly
// form one set with an empty name; every other directory is a set of its own.
func LoadSets(dirs []string) ([]RunSet, error) {
	loose := RunSet{}
	var sets []RunSet
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, SummaryFile)); err == nil {
			r, err := Load(d)
			if err != nil {
				return nil, err
			}
			loose.Runs = append(loose.Runs, r)
			continue
		}
		set := RunSet{Name: filepath.Base(filepath.Clean(d))}
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() {
				return nil
			}
			if strings.HasSuffix(e.Name(), IncompleteSuffix) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, SummaryFile)); err != nil {
				return nil
			}
			r, err := Load(p)
			if err != nil {
				return err
			}
			set.Runs = append(set.Runs, r)
			return filepath.SkipDir
		})
		if err != nil {
			return nil, fmt.Errorf("find runs in %s: %w", d, err)
		}
		if len(set.Runs) == 0 {
			return nil, fmt.Errorf("find runs in %s: no run directory (one holding %s) below it", d, SummaryFile)
		}
		sets = append(sets, set)
	}
	if len(loose.Runs) > 0 {
		sets = append([]RunSet{loose}, sets...)
	}
	return sets, nil
}

// Row is one configuration of a comparison and its repeats.
type Row struct {
	// Index numbers the row from 1, as printed in the tables and the chart.
	Index int
	// Label names the configuration: the settings that differ between rows.
	Label string
	// Set is the name of the RunSet the row came from.
	Set string
	// Config is the configuration (YAML path → value): the sweep settings,
	// or, for runs without any, the scenario fields that differ between rows.
	Config map[string]string
	// Runs are the repeats.
	Runs []*Summary
	// Dirs are the run directories, in the order of Runs.
	Dirs []string
	// Values holds the estimate of every figure by Figure.Key.
	Values map[string]Estimate
	// SLOBreached counts repeats that breached an SLO; Breaches names the
	// breached figures.
	SLOBreached int
	Breaches    []string
	// LedgerInvalid counts repeats that lost a task or saw an unexpected one.
	LedgerInvalid int
	// Undrained counts repeats that did not finish every task (drain null):
	// their cost covers only part of the work.
	Undrained int
	// Pareto is true when no other row is at least as good on both cost and
	// completion p95 and better on one.
	Pareto bool

	set int // position of the row's set, for ordering
}

// Eligible reports whether the row can be recommended: every repeat
// drained and passed its SLOs with a valid ledger.
func (r *Row) Eligible() bool { return r.SLOBreached == 0 && r.LedgerInvalid == 0 && r.Undrained == 0 }

// Comparison is a table of configurations with their figures, the Pareto
// front of cost against completion p95 and a recommendation.
type Comparison struct {
	Rows []*Row
	// Fixed holds the settings every row shares (not repeated in labels).
	Fixed map[string]string
	// CostKey is the figure used as cost for the Pareto front: cost_usd, or
	// replica_hours when every run cost $0 (no prices in the scenario).
	CostKey string
	// Recommendation says which row wins on which figure, in one line.
	Recommendation string
	// Caveats lists wins whose intervals overlap the runner-up's.
	Caveats []string
	// Prices describes the prices the runs were costed at.
	Prices []string
}

// Compare groups the runs of each set by configuration and computes every
// figure's estimate, the Pareto front and the recommendation.
func Compare(sets []RunSet) (*Comparison, error) {
	c := &Comparison{Fixed: map[string]string{}}
	for si, set := range sets {
		byKey := map[string]*Row{}
		for _, r := range set.Runs {
			k := identity(&r.Summary)
			row := byKey[k]
			if row == nil {
				row = &Row{Set: set.Name, Config: maps.Clone(r.Summary.Config), set: si}
				byKey[k] = row
				c.Rows = append(c.Rows, row)
			}
			s := r.Summary
			row.Runs = append(row.Runs, &s)
			row.Dirs = append(row.Dirs, r.Dir)
		}
	}
	if len(c.Rows) == 0 {
		return nil, errors.New("compare: no runs")
	}
	for _, row := range c.Rows {
		idx := make([]int, len(row.Runs))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(i, j int) bool { return row.Runs[idx[i]].StartedAt.Before(row.Runs[idx[j]].StartedAt) })
		runs, dirs := make([]*Summary, len(idx)), make([]string, len(idx))
		for i, k := range idx {
			runs[i], dirs[i] = row.Runs[k], row.Dirs[k]
		}
		row.Runs, row.Dirs = runs, dirs
	}
	sort.SliceStable(c.Rows, func(i, j int) bool {
		a, b := c.Rows[i], c.Rows[j]
		if a.set != b.set {
			return a.set < b.set
		}
		return a.Runs[0].StartedAt.Before(b.Runs[0].StartedAt)
	})
	c.label(len(sets) > 1)
	for i, row := range c.Rows {
		row.Index = i + 1
		row.Values = map[string]Estimate{}
		breached := map[string]bool{}
		for _, f := range append(slices.Clone(Figures), costFigures...) {
			var xs []float64
			for _, s := range row.Runs {
				if v := f.Value(s); v != nil {
					xs = append(xs, *v)
				}
			}
			row.Values[f.Key] = NewEstimate(xs)
		}
		for _, s := range row.Runs {
			if !s.SLO.Passed {
				row.SLOBreached++
				for _, b := range s.SLO.Breaches {
					breached[b.Figure] = true
				}
			}
			if !s.Ledger.Valid {
				row.LedgerInvalid++
			}
			if s.DrainMs == nil {
				row.Undrained++
			}
		}
		row.Breaches = slices.Sorted(maps.Keys(breached))
	}
	c.CostKey = "replica_hours"
	for _, row := range c.Rows {
		if row.Values["cost_usd"].Mean > 0 {
			c.CostKey = "cost_usd"
		}
	}
	c.markPareto()
	c.recommend()
	c.Prices = prices(c.Rows)
	return c, nil
}

// identity is what makes two runs repeats of one configuration: the same
// scenario name, settings and effective scenario.
func identity(s *Summary) string {
	b, _ := json.Marshal(struct {
		Name     string
		Config   map[string]string
		Scenario any
	}{s.ScenarioName, s.Config, s.Scenario})
	return string(b)
}

// label names every row by the settings that differ between rows.
func (c *Comparison) label(manySets bool) {
	withConfig := true
	for _, r := range c.Rows {
		if len(r.Config) == 0 {
			withConfig = false
		}
	}
	if !withConfig {
		// Runs made by burst run carry no settings: the scenario's name, and
		// the scenario fields that differ between rows of the same name,
		// stand in for them.
		flat := make([]map[string]string, len(c.Rows))
		for i, r := range c.Rows {
			flat[i] = map[string]string{}
			flatten(r.Runs[0].Scenario, "", flat[i])
			delete(flat[i], "name")
			delete(flat[i], "description")
		}
		for i, r := range c.Rows {
			name := scenarioName(r.Runs[0])
			r.Config = map[string]string{"scenario": name}
			for j, g := range c.Rows {
				if j == i || scenarioName(g.Runs[0]) != name {
					continue
				}
				for k, v := range flat[i] {
					if w, ok := flat[j][k]; !ok || w != v {
						r.Config[k] = v
					}
				}
				for k := range flat[j] {
					if _, ok := flat[i][k]; !ok {
						r.Config[k] = "—"
					}
				}
			}
		}
	}
	// Settings equal in every row are stated once.
	keys := map[string]bool{}
	for _, r := range c.Rows {
		for k := range r.Config {
			keys[k] = true
		}
	}
	for k := range keys {
		v, same := c.Rows[0].Config[k]
		for _, r := range c.Rows[1:] {
			if w, ok := r.Config[k]; !ok || w != v {
				same = false
				break
			}
		}
		if same && len(c.Rows) > 1 {
			c.Fixed[k] = v
		}
	}
	seen := map[string]int{}
	for _, r := range c.Rows {
		var parts []string
		if _, fixed := c.Fixed["scenario"]; !fixed && !withConfig {
			parts = append(parts, r.Config["scenario"])
		}
		for _, k := range slices.Sorted(maps.Keys(r.Config)) {
			if _, fixed := c.Fixed[k]; !fixed && (withConfig || k != "scenario") {
				parts = append(parts, k+"="+r.Config[k])
			}
		}
		r.Label = strings.Join(parts, " ")
		if r.Label == "" {
			r.Label = scenarioName(r.Runs[0])
		}
		if manySets && r.Set != "" {
			r.Label = r.Set + ": " + r.Label
		}
		seen[r.Label]++
		if seen[r.Label] > 1 {
			r.Label += " (" + r.Runs[0].RunID + ")"
		}
	}
}

// flatten turns a decoded JSON document into path → value strings.
func flatten(v any, prefix string, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(x, p, out)
		}
	case nil:
	default:
		if prefix == "" {
			return
		}
		switch x := t.(type) {
		case string:
			out[prefix] = x
		case float64:
			out[prefix] = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			b, _ := json.Marshal(x)
			out[prefix] = string(b)
		}
	}
}

// scenarioValue reads a field of a run's effective scenario by path.
func scenarioValue(s *Summary, path string) (any, bool) {
	b, err := json.Marshal(s.Scenario)
	if err != nil {
		return nil, false
	}
	var cur any
	if json.Unmarshal(b, &cur) != nil {
		return nil, false
	}
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

// prices describes the distinct prices the rows' scenarios set.
func prices(rows []*Row) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		for _, s := range r.Runs {
			p, ok := scenarioValue(s, "prices")
			if !ok {
				continue
			}
			m, _ := p.(map[string]any)
			num := func(k string) float64 { f, _ := m[k].(float64); return f }
			gpus := 0.0
			if g, ok := scenarioValue(s, "worker.gpus"); ok {
				gpus, _ = g.(float64)
			}
			d := fmt.Sprintf("$%s per worker-hour, $%s per GPU-hour × %s GPU per worker, $%s per 1M tokens",
				fmtNum(num("workerHour")), fmtNum(num("gpuHour")), fmtNum(gpus), fmtNum(num("per1MTokens")))
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// recommend finds, for each figure, the eligible row with the lowest mean
// and says which row wins on which figure.
func (c *Comparison) recommend() {
	var eligible []*Row
	for _, r := range c.Rows {
		if r.Eligible() {
			eligible = append(eligible, r)
		}
	}
	if len(eligible) == 0 {
		c.Recommendation = "no configuration passed every SLO with a valid ledger in all repeats: none can be recommended"
		return
	}
	if len(c.Rows) == 1 {
		c.Recommendation = "one configuration: nothing to compare"
		return
	}
	wins := map[*Row][]string{}
	var order []*Row
	overlaps := map[[2]int][]string{}
	var pairs [][2]int
	for _, f := range Figures {
		var best, second *Row
		tie := false
		for _, r := range eligible {
			e := r.Values[f.Key]
			if e.N == 0 {
				continue
			}
			switch {
			case best == nil || e.Mean < best.Values[f.Key].Mean:
				best, second, tie = r, best, false
			case e.Mean == best.Values[f.Key].Mean:
				tie = true
			case second == nil || e.Mean < second.Values[f.Key].Mean:
				second = r
			}
		}
		if best == nil || second == nil || tie {
			continue // nothing to win: one row observed it, or the best rows tie
		}
		if _, ok := wins[best]; !ok {
			order = append(order, best)
		}
		wins[best] = append(wins[best], f.Name)
		b, s := best.Values[f.Key], second.Values[f.Key]
		if b.N > 1 && s.N > 1 && b.Mean+b.CI95 >= s.Mean-s.CI95 {
			k := [2]int{best.Index, second.Index}
			if _, ok := overlaps[k]; !ok {
				pairs = append(pairs, k)
			}
			overlaps[k] = append(overlaps[k], f.Name)
		}
	}
	for _, k := range pairs {
		c.Caveats = append(c.Caveats, fmt.Sprintf("%s (#%d vs #%d)", strings.Join(overlaps[k], ", "), k[0], k[1]))
	}
	var parts []string
	sort.SliceStable(order, func(i, j int) bool { return len(wins[order[i]]) > len(wins[order[j]]) })
	for _, r := range order {
		parts = append(parts, fmt.Sprintf("#%d (%s) wins on %s", r.Index, r.Label, strings.Join(wins[r], ", ")))
	}
	var front []string
	for _, r := range c.Rows {
		if r.Pareto {
			front = append(front, "#"+strconv.Itoa(r.Index))
		}
	}
	line := strings.Join(parts, "; ")
	if line == "" && len(eligible) == 1 {
		line = fmt.Sprintf("#%d (%s) is the only eligible configuration", eligible[0].Index, eligible[0].Label)
	} else if line == "" {
		line = "every eligible configuration ties"
	}
	if len(front) > 0 {
		line += fmt.Sprintf("; Pareto front (%s vs completion p95): %s", figure(c.CostKey).Name, strings.Join(front, ", "))
	}
	if n := len(c.Rows) - len(eligible); n > 0 {
		line += fmt.Sprintf("; %d configuration(s) excluded for breached SLOs, an invalid ledger or no drain", n)
	}
	c.Recommendation = line
}

// fmtSig formats v with sig significant digits (at most 8 decimals).
func fmtSig(v float64, sig int) string {
	return strconv.FormatFloat(v, 'f', sigDecimals(v, sig), 64)
}

func sigDecimals(v float64, sig int) int {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	d := sig - 1 - int(math.Floor(math.Log10(math.Abs(v))))
	return max(0, min(8, d))
}

// Format writes a value of the figure for people.
func (f Figure) Format(v float64) string {
	switch f.Unit {
	case UnitMs:
		return FmtMs(&v)
	case UnitUSD:
		return "$" + fmtSig(v, 3)
	default:
		return fmtSig(v, 3)
	}
}

// Cell writes an estimate as "mean ± ci95", with "(n=k)" when only k of
// runs repeats observed the figure, and "—" when none did.
func (f Figure) Cell(e Estimate, runs int) string {
	if e.N == 0 {
		return "—"
	}
	s := f.Format(e.Mean)
	if e.N > 1 && e.CI95 > 0 {
		if f.Unit == UnitMs {
			s += " ± " + FmtMs(&e.CI95)
		} else {
			// The mean to 3 significant digits, both to the interval's first one.
			d := max(sigDecimals(e.Mean, 3), sigDecimals(e.CI95, 1))
			s = strconv.FormatFloat(e.Mean, 'f', d, 64) + " ± " + strconv.FormatFloat(e.CI95, 'f', d, 64)
			if f.Unit == UnitUSD {
				s = "$" + s
			}
		}
	}
	if e.N < runs {
		s += fmt.Sprintf(" (n=%d)", e.N)
	}
	return s
}

// gates says whether the row's repeats passed their SLOs and ledger.
func (r *Row) gates() string {
	var parts []string
	if r.SLOBreached > 0 {
		parts = append(parts, fmt.Sprintf("SLO breached %d/%d: %s", r.SLOBreached, len(r.Runs), strings.Join(r.Breaches, ", ")))
	}
	if r.LedgerInvalid > 0 {
		parts = append(parts, fmt.Sprintf("ledger invalid %d/%d", r.LedgerInvalid, len(r.Runs)))
	}
	if r.Undrained > 0 {
		parts = append(parts, fmt.Sprintf("not drained %d/%d", r.Undrained, len(r.Runs)))
	}
	if len(parts) == 0 {
		return "pass"
	}
	return strings.Join(parts, "; ")
}

// shown returns the figures some row observed (the table's columns) and
// the names of those no row observed.
func (c *Comparison) shown() (figs []Figure, absent []string) {
	for _, f := range Figures {
		seen := false
		for _, r := range c.Rows {
			if r.Values[f.Key].N > 0 {
				seen = true
			}
		}
		if seen {
			figs = append(figs, f)
		} else {
			absent = append(absent, f.Name)
		}
	}
	return figs, absent
}

func (c *Comparison) header() []string {
	h := []string{"#", "configuration", "n"}
	figs, _ := c.shown()
	for _, f := range figs {
		h = append(h, f.Header)
	}
	return append(h, "gates", "pareto")
}

func (c *Comparison) rows() [][]string {
	var out [][]string
	figs, _ := c.shown()
	for _, r := range c.Rows {
		row := []string{strconv.Itoa(r.Index), r.Label, strconv.Itoa(len(r.Runs))}
		for _, f := range figs {
			row = append(row, f.Cell(r.Values[f.Key], len(r.Runs)))
		}
		pareto := ""
		if r.Pareto {
			pareto = "yes"
		}
		out = append(out, append(row, r.gates(), pareto))
	}
	return out
}

// hasAlwaysOn reports whether any row knows its always-on cost.
func (c *Comparison) hasAlwaysOn() bool {
	for _, r := range c.Rows {
		if r.Values[alwaysOnRH.Key].N > 0 || r.Values[alwaysOn.Key].N > 0 {
			return true
		}
	}
	return false
}

func (c *Comparison) costHeader() []string {
	return []string{"#", "configuration", "replica-h", alwaysOnRH.Header, "cost", alwaysOn.Header, "autoscaling saves"}
}

func (c *Comparison) costRows() [][]string {
	var out [][]string
	rh, usd := figure("replica_hours"), figure("cost_usd")
	for _, r := range c.Rows {
		n := len(r.Runs)
		out = append(out, []string{strconv.Itoa(r.Index), r.Label, rh.Cell(r.Values[rh.Key], n), alwaysOnRH.Cell(r.Values[alwaysOnRH.Key], n),
			usd.Cell(r.Values[usd.Key], n), alwaysOn.Cell(r.Values[alwaysOn.Key], n), saving(r)})
	}
	return out
}

// saving is the share of the always-on cost that autoscaling saved, in
// dollars, or in replica-hours when nothing had a price.
func saving(r *Row) string {
	used, always := r.Values["cost_usd"], r.Values[alwaysOn.Key]
	if always.N == 0 || always.Mean == 0 {
		used, always = r.Values["replica_hours"], r.Values[alwaysOnRH.Key]
	}
	if always.N == 0 || always.Mean == 0 || used.N == 0 {
		return "—"
	}
	pct := 100 * (1 - used.Mean/always.Mean)
	if math.Abs(pct) < 0.5 {
		pct = 0
	}
	return fmt.Sprintf("%.0f %%", pct)
}

// notes are the lines printed under the table.
func (c *Comparison) notes() []string {
	var out []string
	if len(c.Fixed) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(c.Fixed)) {
			parts = append(parts, k+"="+c.Fixed[k])
		}
		out = append(out, "every row: "+strings.Join(parts, " "))
	}
	if _, absent := c.shown(); len(absent) > 0 {
		out = append(out, "not observed by any run (null on this target): "+strings.Join(absent, ", "))
	}
	out = append(out, fmt.Sprintf("mean ± half-width of the 95 %% Student-t interval over n repeats; pareto: no other row is at least as good on both %s and completion p95 and better on one", figure(c.CostKey).Name))
	out = append(out, "recommendation: "+c.Recommendation)
	if len(c.Caveats) > 0 {
		out = append(out, "not significant (the 95 % intervals overlap; run more repeats): "+strings.Join(c.Caveats, "; "))
	}
	return out
}

// costNotes state the assumptions behind the cost table.
func (c *Comparison) costNotes() []string {
	out := []string{"cost = replica-hours × (worker-hour price + GPUs per worker × GPU-hour price) + tokens / 1M × per-1M-token price"}
	for _, p := range c.Prices {
		out = append(out, "prices: "+p)
	}
	out = append(out, "always-on at peak: the same traffic served by the peak replica count (local target: the fixed worker count) for the whole observed window, tokens priced the same; see each run's report.md for its window and tokens")
	return out
}

// WriteTable writes the comparison as terminal tables with notes.
func (c *Comparison) WriteTable(w io.Writer) error {
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAlignment(tw.AlignLeft))
	t.Header(c.header())
	if err := t.Bulk(c.rows()); err != nil {
		return err
	}
	if err := t.Render(); err != nil {
		return err
	}
	for _, n := range c.notes() {
		if _, err := fmt.Fprintln(w, n); err != nil {
			return err
		}
	}
	if !c.hasAlwaysOn() {
		return nil
	}
	fmt.Fprintln(w)
	t = tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAlignment(tw.AlignLeft))
	t.Header(c.costHeader())
	if err := t.Bulk(c.costRows()); err != nil {
		return err
	}
	if err := t.Render(); err != nil {
		return err
	}
	for _, n := range c.costNotes() {
		if _, err := fmt.Fprintln(w, n); err != nil {
			return err
		}
	}
	return nil
}

// WriteMarkdown writes the comparison as Markdown (for report files and
// $GITHUB_STEP_SUMMARY).
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "## burst comparison\n\n")
	if err := markdownTable(w, c.header(), c.rows()); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, n := range c.notes() {
		if k, v, ok := strings.Cut(n, ": "); ok && k == "recommendation" {
			n = "**Recommendation:** " + v
		}
		fmt.Fprintf(w, "- %s\n", n)
	}
	if !c.hasAlwaysOn() {
		return nil
	}
	fmt.Fprintf(w, "\n### Cost: autoscaled vs always-on at peak\n\n")
	if err := markdownTable(w, c.costHeader(), c.costRows()); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, n := range c.costNotes() {
		if _, err := fmt.Fprintf(w, "- %s\n", n); err != nil {
			return err
		}
	}
	return nil
}

// WriteCSV writes one line per configuration: its settings, then mean,
// 95 % half-width and n of every figure (empty when not observed).
func (c *Comparison) WriteCSV(w io.Writer) error {
	keys := map[string]bool{}
	for _, r := range c.Rows {
		for k := range r.Config {
			keys[k] = true
		}
	}
	cfg := slices.Sorted(maps.Keys(keys))
	figs := append(slices.Clone(Figures), costFigures...)
	head := []string{"index", "configuration", "set", "n"}
	head = append(head, cfg...)
	for _, f := range figs {
		head = append(head, f.Key+"_mean", f.Key+"_ci95", f.Key+"_n")
	}
	head = append(head, "slo_breached_runs", "slo_breaches", "ledger_invalid_runs", "pareto", "dirs")
	cw := csv.NewWriter(w)
	if err := cw.Write(head); err != nil {
		return err
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
	for _, r := range c.Rows {
		rec := []string{strconv.Itoa(r.Index), r.Label, r.Set, strconv.Itoa(len(r.Runs))}
		for _, k := range cfg {
			rec = append(rec, r.Config[k])
		}
		for _, f := range figs {
			e := r.Values[f.Key]
			if e.N == 0 {
				rec = append(rec, "", "", "0")
				continue
			}
			rec = append(rec, num(e.Mean), num(e.CI95), strconv.Itoa(e.N))
		}
		rec = append(rec, strconv.Itoa(r.SLOBreached), strings.Join(r.Breaches, ";"), strconv.Itoa(r.LedgerInvalid),
			strconv.FormatBool(r.Pareto), strings.Join(r.Dirs, ";"))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteBench writes every run in Go benchmark format, named by its row's
// configuration, so that benchstat groups the repeats and compares two
// sweeps: benchstat old.txt new.txt.
func (c *Comparison) WriteBench(w io.Writer) error {
	var runs []*Summary
	for _, r := range c.Rows {
		for _, s := range r.Runs {
			cp := *s
			cp.Config = maps.Clone(r.Config)
			delete(cp.Config, "scenario") // already in the name
			runs = append(runs, &cp)
		}
	}
	return WriteBench(w, runs)
}
