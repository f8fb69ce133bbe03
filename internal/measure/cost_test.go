package measure

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/burstbench/burst/internal/loadgen"
	"github.com/burstbench/burst/internal/observe"
	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/scenario"
)

func TestCostAlwaysOnComparison(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	entry := fmt.Sprintf("%d-0", base.UnixMilli())
	rep := &loadgen.Report{Sends: []loadgen.Send{{TaskID: "a", EntryID: entry, Sent: base, Intended: base}}, Intended: 1, Sent: 1}
	// The task finishes after the scale-up to 4 ready replicas (at 20 s).
	result := queue.Result{TaskID: "a", Status: queue.StatusCompleted, Enqueued: base, Started: base, Finished: base.Add(25 * time.Second),
		PromptTokens: 600_000, OutputTokens: 400_000}
	sc := &scenario.Scenario{Name: "x", Worker: scenario.Worker{GPUs: 1},
		Prices: scenario.Prices{WorkerHour: 0.5, GPUHour: 3.5, Per1MTokens: 2}}
	tests := []struct {
		name            string
		in              Input
		wantRH, wantUSD float64
		wantAlwaysRH    float64
		wantAlwaysUSD   float64
		wantAssumption  string
	}{
		{
			name: "local: the fixed workers are the peak",
			in:   Input{Target: "local", Replicas: 3, WorkersStart: base, WorkersEnd: base.Add(30 * time.Minute)},
			// 3 × 0.5 h at $4 per replica-hour + 1M tokens at $2.
			wantRH: 1.5, wantUSD: 8, wantAlwaysRH: 1.5, wantAlwaysUSD: 8,
			wantAssumption: "always-on: 3 replicas (the local target's fixed worker count",
		},
		{
			name:           "cluster: peak replicas for the observed window",
			in:             Input{Target: "kind", Cluster: &ClusterInput{ObservedStart: base, ObservedEnd: base.Add(time.Hour)}},
			wantAssumption: "always-on: 4 replicas (the observed peak) for the observed 3600 s window",
			// replica-hours come from the cluster's observations; the peak
			// of 4 for the hour costs 4 × $4 + $2 for the tokens.
			wantAlwaysRH: 4, wantAlwaysUSD: 18,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.RunID, in.Scenario, in.Loadgen, in.Started, in.Finished = "r", sc, rep, base, base.Add(time.Hour)
			in.Results = []queue.Result{result}
			in.Final = queue.Stats{GroupExists: true, LastDeliveredID: entry}
			if in.Cluster != nil {
				in.Events = clusterEventsPeak4(base)
			}
			c := Compute(in).Summary.Cost
			if in.Cluster == nil && (math.Abs(c.ReplicaHours-tc.wantRH) > 1e-9 || math.Abs(c.USD-tc.wantUSD) > 1e-9) {
				t.Errorf("used: %v replica-hours, $%v; want %v, $%v", c.ReplicaHours, c.USD, tc.wantRH, tc.wantUSD)
			}
			if c.AlwaysOnReplicaHours == nil || c.AlwaysOnUSD == nil {
				t.Fatalf("always-on not computed: %+v", c)
			}
			if math.Abs(*c.AlwaysOnReplicaHours-tc.wantAlwaysRH) > 1e-6 || math.Abs(*c.AlwaysOnUSD-tc.wantAlwaysUSD) > 1e-6 {
				t.Errorf("always-on: %v replica-hours, $%v; want %v, $%v", *c.AlwaysOnReplicaHours, *c.AlwaysOnUSD, tc.wantAlwaysRH, tc.wantAlwaysUSD)
			}
			if !strings.Contains(c.Assumptions, tc.wantAssumption) || !strings.Contains(c.Assumptions, "$2 per 1M tokens (1000000 tokens)") {
				t.Errorf("assumptions = %q, want %q and the token price", c.Assumptions, tc.wantAssumption)
			}
		})
	}
}

// clusterEventsPeak4 is a Deployment that scales 0 → 4 ready replicas.
func clusterEventsPeak4(base time.Time) []observe.Event {
	ev := func(d time.Duration, spec, ready float64) observe.Event {
		return observe.Event{At: base.Add(d), Source: "deployment", Kind: "replicas",
			Values: map[string]float64{"spec_replicas": spec, "replicas": spec, "ready_replicas": ready}}
	}
	return []observe.Event{ev(time.Second, 1, 0), ev(5*time.Second, 4, 1), ev(20*time.Second, 4, 4), ev(50*time.Minute, 0, 0)}
}
