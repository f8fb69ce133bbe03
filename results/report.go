package results

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// FmtMs formats a millisecond figure for people: "—" for null, "850 ms",
// "12.35 s", "3m05s".
func FmtMs(p *float64) string {
	if p == nil {
		return "—"
	}
	v := *p
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
	case v < 1000:
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	case v < 120000:
		return strconv.FormatFloat(v/1000, 'f', 2, 64) + " s"
	}
	s := int(v / 1000)
	return fmt.Sprintf("%dm%02ds", s/60, s%60)
}

func fmtInt(p *int) string {
	if p == nil {
		return "—"
	}
	return strconv.Itoa(*p)
}

func fmtStat(s Stat) string {
	if s.N == 0 {
		return "n=0"
	}
	return fmt.Sprintf("p50 %s · p95 %s · p99 %s · max %s (n=%d)", FmtMs(&s.P50), FmtMs(&s.P95), FmtMs(&s.P99), FmtMs(&s.Max), s.N)
}

// Rows returns the summary as (figure, value) rows, the content of both the
// terminal table and report.md.
func Rows(s *Summary) [][]string {
	sc := s.Scaling
	rows := [][]string{
		{"run", s.RunID + " (" + s.Target + ")"},
		{"tasks", fmt.Sprintf("%d enqueued · %d completed · %d failed · %d dead-lettered", s.Tasks.Enqueued, s.Tasks.Completed, s.Tasks.Failed, s.Tasks.DeadLettered)},
		{"ledger", fmt.Sprintf("%s · lost %d · duplicated %d · unexpected %d · still pending %d", validWord(s.Ledger.Valid), s.Ledger.Lost, s.Ledger.Duplicated, s.Ledger.Unexpected, s.Ledger.StillPending)},
		{"completion", fmtStat(s.LatencyMs.Completion)},
		{"queue wait", fmtStat(s.LatencyMs.QueueWait)},
		{"service", fmtStat(s.LatencyMs.Service)},
		{"ttft", fmtStat(s.LatencyMs.TTFT)},
		{"drain", FmtMs(s.DrainMs)},
		{"leftover", fmt.Sprintf("pending %d · lag %s · undelivered %d", s.Leftover.Pending, lagWord(s.Leftover.Lag), s.Leftover.Undelivered)},
		{"activation", FmtMs(sc.ActivationMs) + neverWord(sc.NeverActivated)},
		{"first ready", FmtMs(sc.FirstReadyMs) + expectedWord(sc.FirstReadyMs, sc.ExpectedFirstReadyMs)},
		{"first task started", FmtMs(sc.FirstTaskStartedMs)},
		{"peak replicas", fmtInt(sc.PeakReplicas) + " ready at " + FmtMs(sc.PeakReadyMs) + maxWord(sc.PeakReplicas, sc.MaxReplicas)},
		{"scale-down", FmtMs(sc.ScaleDownMs)},
		{"replica-seconds", fmtFloat(sc.ReplicaSeconds, 1)},
		{"flaps", fmtInt(sc.Flaps)},
		{"pods killed with tasks", fmtInt(sc.PodsKilledWithTasks)},
		{"loadgen", fmt.Sprintf("%d/%d sent · %d late · %d dropped · send lag p50 %s p99 %s max %s", s.Loadgen.Sent, s.Loadgen.Intended,
			s.Loadgen.Late, s.Loadgen.Dropped, FmtMs(&s.Loadgen.SendLagP50Ms), FmtMs(&s.Loadgen.SendLagP99Ms), FmtMs(&s.Loadgen.MaxSendLagMs))},
		{"cost", fmt.Sprintf("%.4f replica-hours · $%.4f", s.Cost.ReplicaHours, s.Cost.USD) + alwaysOnWord(s.Cost.AlwaysOnUSD)},
		{"slo", sloWord(s.SLO)},
	}
	for _, a := range s.Alarms {
		rows = append(rows, []string{"ALARM", a})
	}
	return rows
}

func validWord(v bool) string {
	if v {
		return "valid"
	}
	return "INVALID"
}

func lagWord(p *int64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatInt(*p, 10)
}

func neverWord(never bool) string {
	if never {
		return " (never activated)"
	}
	return ""
}

func expectedWord(obs, exp *float64) string {
	if exp == nil {
		return ""
	}
	s := " (expected " + FmtMs(exp)
	if obs != nil && *exp > 0 {
		s += fmt.Sprintf(", observed/expected %.2f", *obs / *exp)
	}
	return s + ")"
}

func alwaysOnWord(p *float64) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf(" (always-on at peak: $%.4f)", *p)
}

func maxWord(peak, most *int) string {
	if peak == nil || most == nil || *most <= *peak {
		return ""
	}
	return fmt.Sprintf(" (max %d after the drain)", *most)
}

func fmtFloat(p *float64, prec int) string {
	if p == nil {
		return "—"
	}
	return strconv.FormatFloat(*p, 'f', prec, 64)
}

func sloWord(r SLOResult) string {
	if r.Passed {
		return "passed"
	}
	var parts []string
	for _, b := range r.Breaches {
		obs := "null"
		if b.Observed != nil {
			obs = strconv.FormatFloat(*b.Observed, 'g', 6, 64)
		}
		parts = append(parts, fmt.Sprintf("%s %s > %s", b.Figure, obs, strconv.FormatFloat(b.Limit, 'g', 6, 64)))
	}
	return "BREACHED: " + strings.Join(parts, "; ")
}

// PrintTable writes the summary as a terminal table.
func PrintTable(w io.Writer, s *Summary) error {
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAlignment(tw.AlignLeft))
	t.Header([]string{"figure", "value"})
	if err := t.Bulk(Rows(s)); err != nil {
		return err
	}
	return t.Render()
}

// WriteReport writes report.md: the summary table in Markdown plus the
// waterfall and notes.
func WriteReport(w io.Writer, s *Summary) error {
	fmt.Fprintf(w, "# burst run %s\n\n", s.RunID)
	if err := markdownTable(w, []string{"figure", "value"}, Rows(s)); err != nil {
		return err
	}
	if len(s.Waterfall) > 0 {
		fmt.Fprintf(w, "\n## Scale-up waterfall (ms from t0)\n\n")
		var rows [][]string
		for _, r := range s.Waterfall {
			rows = append(rows, []string{strconv.Itoa(r.Replicas), r.Pod, FmtMs(r.PollMs), FmtMs(r.ReplicasChanged), FmtMs(r.ScheduledMs),
				FmtMs(r.StartedMs), FmtMs(r.ReadyMs), FmtMs(r.FirstReadMs), FmtMs(r.FirstAckMs)})
		}
		if err := markdownTable(w, []string{"replicas", "pod", "KEDA poll", "replicas changed", "scheduled", "started", "ready", "first read", "first ack"}, rows); err != nil {
			return err
		}
	}
	if len(s.Notes) > 0 || s.Scaling.ExpectedAssumptions != "" || s.Cost.Assumptions != "" {
		fmt.Fprintf(w, "\n## Notes\n\n")
		for _, n := range s.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
		if a := s.Scaling.ExpectedAssumptions; a != "" {
			fmt.Fprintf(w, "- expected first Ready: %s\n", a)
		}
		if a := s.Cost.Assumptions; a != "" {
			fmt.Fprintf(w, "- cost: %s\n", a)
		}
	}
	return nil
}

func markdownTable(w io.Writer, head []string, rows [][]string) error {
	t := tablewriter.NewTable(w, tablewriter.WithRenderer(renderer.NewMarkdown()), tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAlignment(tw.AlignLeft), tablewriter.WithHeaderAlignment(tw.AlignLeft))
	t.Header(head)
	if err := t.Bulk(rows); err != nil {
		return err
	}
	return t.Render()
}

// BenchName is the Go benchmark name of a run: its scenario name and the
// sweep settings, so benchstat groups repeats and compares configurations.
func BenchName(s *Summary) string {
	name := "BenchmarkBurst/scenario=" + benchSafe(scenarioName(s))
	keys := make([]string, 0, len(s.Config))
	for k := range s.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name += "/" + benchSafe(k) + "=" + benchSafe(s.Config[k])
	}
	return name
}

func scenarioName(s *Summary) string {
	if s.ScenarioName != "" {
		return s.ScenarioName
	}
	return "unnamed"
}

func benchSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '/' {
			return '_'
		}
		return r
	}, s)
}

// WriteBench writes runs in Go benchmark format, one line per run:
// "BenchmarkBurst/scenario=x 1 41200 activation-ms 63000 drain-ms …". Null
// figures are left out. benchstat compares two such files.
func WriteBench(w io.Writer, runs []*Summary) error {
	for _, s := range runs {
		var b strings.Builder
		b.WriteString(BenchName(s))
		b.WriteString(" 1")
		add := func(p *float64, unit string) {
			if p != nil {
				fmt.Fprintf(&b, " %s %s", strconv.FormatFloat(*p, 'f', -1, 64), unit)
			}
		}
		sc := s.Scaling
		add(sc.ActivationMs, "activation-ms")
		add(sc.FirstReadyMs, "first-ready-ms")
		add(sc.PeakReadyMs, "peak-ready-ms")
		add(s.DrainMs, "drain-ms")
		if c := s.LatencyMs.Completion; c.N > 0 {
			add(F(c.P50), "completion-p50-ms")
			add(F(c.P95), "completion-p95-ms")
			add(F(c.P99), "completion-p99-ms")
		}
		add(F(float64(s.Leftover.Pending)+float64(s.Leftover.Undelivered)), "leftover")
		add(F(float64(s.Ledger.Lost)), "lost")
		add(F(s.Cost.ReplicaHours), "replica-h")
		add(F(s.Cost.USD), "usd")
		b.WriteByte('\n')
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}
