package measure

import (
	"fmt"
	"testing"
	"time"

	"github.com/burstbench/burst/internal/loadgen"
	"github.com/burstbench/burst/internal/observe"
	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/scenario"
)

// A lag-only scale-down while tasks run: the Deployment goes to 0 before the
// last ack; pod a finishes its tasks and is deleted after it, pod b is
// deleted still holding an entry.
func TestScaleDownInFlight(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	at := func(s float64) time.Time { return base.Add(time.Duration(s * float64(time.Second))) }
	entry := fmt.Sprintf("%d-0", base.UnixMilli())
	rep := &loadgen.Report{Sends: []loadgen.Send{{TaskID: "x", EntryID: entry, Sent: base, Intended: base}}, Intended: 1, Sent: 1}
	dep := func(s float64, spec, have, ready float64) observe.Event {
		return observe.Event{At: at(s), Source: "deployment", Kind: "replicas", Values: map[string]float64{"spec_replicas": spec, "replicas": have, "ready_replicas": ready}}
	}
	pod := func(s float64, name, kind string) observe.Event {
		return observe.Event{At: at(s), Source: "pod", Kind: kind, Object: name}
	}
	sample := func(s float64, msg string) observe.Event {
		return observe.Event{At: at(s), Source: "redis", Kind: "sample", Message: msg}
	}
	events := []observe.Event{
		dep(-1, 0, 0, 0),
		dep(4, 2, 2, 0), pod(4, "a", "created"), pod(4, "b", "created"),
		pod(5, "a", "ready"), pod(5.5, "b", "ready"), dep(5.5, 2, 2, 2),
		dep(12, 0, 0, 0), // cooldown: scaled to zero while a still runs
		pod(25, "b", "deleted"), sample(25.2, "b=1"),
		pod(31, "a", "deleted"), sample(31.2, ""),
	}
	zero := int32(0)
	sc := &scenario.Scenario{Name: "s", Scaler: scenario.Scaler{Trigger: "lag", MinReplicaCount: &zero, PollingInterval: scenario.D(5 * time.Second)}}
	run := Compute(Input{RunID: "r", Target: "kind", Scenario: sc, Loadgen: rep, Started: base, Finished: at(40), Events: events,
		Results: []queue.Result{{TaskID: "x", Status: queue.StatusCompleted, Consumer: "a", Enqueued: base, Read: at(5), Started: at(5), Finished: at(30)}},
		Final:   queue.Stats{GroupExists: true, LastDeliveredID: entry},
		Cluster: &ClusterInput{ObservedStart: base, ObservedEnd: at(40)}})
	s := run.Summary.Scaling
	if s.PodsKilledWithTasks == nil || *s.PodsKilledWithTasks != 1 {
		t.Errorf("pods killed with tasks = %v, want 1 (b left an entry pending; a finished before it was deleted)", s.PodsKilledWithTasks)
	}
	if s.ScaleDownMs == nil || *s.ScaleDownMs != 1000 {
		t.Errorf("scale-down = %v, want 1000 ms (last ack at 30 s → last pod gone at 31 s)", s.ScaleDownMs)
	}
	if s.PeakReplicas == nil || *s.PeakReplicas != 2 || s.FirstReadyMs == nil || *s.FirstReadyMs != 5000 {
		t.Errorf("peak %v first ready %v, want 2 and 5000", s.PeakReplicas, s.FirstReadyMs)
	}
	if s.ActivationMs == nil || *s.ActivationMs != 4000 || s.NeverActivated {
		t.Errorf("activation = %v, want 4000", s.ActivationMs)
	}
	if s.Flaps == nil || *s.Flaps != 3 {
		t.Errorf("flaps = %v, want 3 (0→2, the reversal, 2→0)", s.Flaps)
	}
	if want := 27.0 + 21.0; s.ReplicaSeconds == nil || *s.ReplicaSeconds != want {
		t.Errorf("replica-seconds = %v, want %v (pod a 4 → 31 s, pod b 4 → 25 s, terminating time included)", s.ReplicaSeconds, want)
	}

	// Without pod events, the Deployment's status.replicas: 2 from 4 s to 12 s.
	var noPods []observe.Event
	for _, e := range events {
		if e.Source != "pod" {
			noPods = append(noPods, e)
		}
	}
	run = Compute(Input{RunID: "r", Target: "kind", Scenario: sc, Loadgen: rep, Started: base, Finished: at(40), Events: noPods,
		Results: []queue.Result{{TaskID: "x", Status: queue.StatusCompleted, Consumer: "a", Enqueued: base, Read: at(5), Started: at(5), Finished: at(30)}},
		Final:   queue.Stats{GroupExists: true, LastDeliveredID: entry},
		Cluster: &ClusterInput{ObservedStart: base, ObservedEnd: at(40)}})
	if rs := run.Summary.Scaling.ReplicaSeconds; rs == nil || *rs != 16 {
		t.Errorf("replica-seconds without pod events = %v, want 16 (status.replicas 2 from 4 s to 12 s)", rs)
	}
}

func TestPodSecondsClipsToTheWindow(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	at := func(s float64) time.Time { return base.Add(time.Duration(s * float64(time.Second))) }
	pods := map[string]*podTimes{
		"before":    {created: at(-100), ready: at(-90)},           // min replica: alive all window → 10 s
		"gone":      {created: at(2), gone: at(5)},                 // 3 s
		"late":      {created: at(8)},                              // to the end → 2 s
		"deleted":   {gone: at(4)},                                 // only its deletion seen → 0 → 4 s
		"old-gone":  {created: at(-10), gone: at(-5)},              // before the window → 0
		"after":     {created: at(11), gone: at(12)},               // after the window → 0
		"no-create": {scheduled: at(1), ready: at(3), gone: at(6)}, // born at its first sign → 5 s
	}
	got, ok := podSeconds(pods, at(0), at(10))
	if want := 10.0 + 3 + 2 + 4 + 5; !ok || got != want {
		t.Errorf("podSeconds = %v, %v; want %v, true", got, ok, want)
	}
	if _, ok := podSeconds(map[string]*podTimes{}, at(0), at(10)); ok {
		t.Error("podSeconds of no pods reported ok")
	}
}
