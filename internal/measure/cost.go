package measure

import (
	"fmt"
	"math"

	"github.com/burstbench/burst/results"
	"github.com/burstbench/burst/scenario"
)

func cost(sc *scenario.Scenario, s results.Scaling, tokens int64, cluster bool, drainMs *float64, in Input) results.Cost {
	c := results.Cost{Tokens: tokens}
	if s.ReplicaSeconds != nil {
		c.ReplicaHours = *s.ReplicaSeconds / 3600
	}
	if sc == nil {
		return c
	}
	p := sc.Prices
	perReplicaHour := p.WorkerHour + sc.Worker.GPUs*p.GPUHour
	c.USD = c.ReplicaHours*perReplicaHour + float64(tokens)/1e6*p.Per1MTokens
	c.Assumptions = fmt.Sprintf("$%.4g per worker-hour + %.4g GPU × $%.4g per GPU-hour per replica; $%.4g per 1M tokens (%d tokens)",
		p.WorkerHour, sc.Worker.GPUs, p.GPUHour, p.Per1MTokens, tokens)
	// The article's comparison: the same traffic served by the peak replica
	// count, always on, over the observed window. On the local target the
	// fixed worker processes are that peak and nothing scales.
	switch {
	case cluster && s.PeakReplicas != nil && in.Cluster != nil:
		window := in.Cluster.ObservedEnd.Sub(in.Cluster.ObservedStart).Hours()
		rh := math.Round(float64(*s.PeakReplicas)*window*1e9) / 1e9
		always := rh*perReplicaHour + float64(tokens)/1e6*p.Per1MTokens
		always = math.Round(always*1e6) / 1e6
		c.AlwaysOnReplicaHours, c.AlwaysOnUSD = &rh, &always
		c.Assumptions += fmt.Sprintf("; always-on: %d replicas (the observed peak) for the observed %.0f s window", *s.PeakReplicas, window*3600)
	case !cluster && in.Replicas > 0 && !in.WorkersStart.IsZero():
		rh, always := c.ReplicaHours, c.USD
		c.AlwaysOnReplicaHours, c.AlwaysOnUSD = &rh, &always
		c.Assumptions += fmt.Sprintf("; always-on: %d replicas (the local target's fixed worker count: nothing scales, so always-on equals what was used) for the observed %.0f s window",
			in.Replicas, in.WorkersEnd.Sub(in.WorkersStart).Seconds())
	}
	return c
}

// sloFigure returns the observed value of an SLO figure.
func sloFigures(s *results.Summary) map[string]*float64 {
	left := float64(s.Leftover.Pending) + float64(s.Leftover.Undelivered)
	fig := map[string]*float64{
		"first_ready_ms":    s.Scaling.FirstReadyMs,
		"activation_ms":     s.Scaling.ActivationMs,
		"drain_ms":          s.DrainMs,
		"leftover":          &left,
		"lost":              results.F(float64(s.Ledger.Lost)),
		"dead_lettered":     results.F(float64(s.Tasks.DeadLettered)),
		"cost_usd":          results.F(s.Cost.USD),
		"completion_p95_ms": nil,
		"completion_p99_ms": nil,
		"queue_wait_p95_ms": nil,
	}
	if c := s.LatencyMs.Completion; c.N > 0 {
		fig["completion_p95_ms"] = results.F(c.P95)
		fig["completion_p99_ms"] = results.F(c.P99)
	}
	if q := s.LatencyMs.QueueWait; q.N > 0 {
		fig["queue_wait_p95_ms"] = results.F(q.P95)
	}
	return fig
}

// evaluateSLO checks every limit of the scenario. A figure that was not
// observed (null, e.g. a drain that never happened) breaches its limit.
func evaluateSLO(sc *scenario.Scenario, s *results.Summary) results.SLOResult {
	r := results.SLOResult{Passed: true, Breaches: []results.Breach{}}
	if sc == nil {
		return r
	}
	figs := sloFigures(s)
	l := sc.SLO
	for _, lim := range []struct {
		name  string
		limit *float64
	}{
		{"first_ready_ms", l.FirstReadyMs}, {"activation_ms", l.ActivationMs}, {"drain_ms", l.DrainMs},
		{"completion_p95_ms", l.CompletionP95Ms}, {"completion_p99_ms", l.CompletionP99Ms}, {"queue_wait_p95_ms", l.QueueWaitP95Ms},
		{"leftover", l.Leftover}, {"lost", l.Lost}, {"dead_lettered", l.DeadLettered}, {"cost_usd", l.CostUSD},
	} {
		if lim.limit == nil {
			continue
		}
		obs := figs[lim.name]
		if obs == nil || *obs > *lim.limit {
			r.Passed = false
			r.Breaches = append(r.Breaches, results.Breach{Figure: lim.name, Limit: *lim.limit, Observed: obs})
		}
	}
	return r
}
