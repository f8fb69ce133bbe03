package measure

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/burstbench/burst/internal/observe"
	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/results"
	"github.com/burstbench/burst/scenario"
)

// HPA mechanics assumed by the expectation (Kubernetes defaults).
const (
	HPASyncPeriod = 15 * time.Second
)

// ClusterInput carries what only a cluster target observes.
type ClusterInput struct {
	// ObservedStart and ObservedEnd bound the watch window.
	ObservedStart time.Time
	ObservedEnd   time.Time
	// InitialReplicas is the Deployment's status.replicas when watching began.
	InitialReplicas int
}

// Event sources and kinds the Kubernetes observer emits (see internal/observe).
const (
	srcDeployment   = "deployment"
	srcPod          = "pod"
	srcScaledObject = "scaledobject"
	srcEvent        = "event"
	srcHPA          = "hpa"
	srcRedis        = "redis"
)

type podTimes struct {
	name                                     string
	created, scheduled, started, ready, gone time.Time
}

func clusterScaling(sum *results.Summary, in Input, t0, lastFinish time.Time) {
	sc := in.Scenario
	ci := in.Cluster
	s := &sum.Scaling
	min := int(sc.Scaler.Min())
	rel := func(t time.Time) *float64 {
		if t.IsZero() {
			return nil
		}
		return results.F(results.Ms(t.Sub(t0)))
	}

	pods := map[string]*podTimes{}
	pod := func(n string) *podTimes {
		if pods[n] == nil {
			pods[n] = &podTimes{name: n}
		}
		return pods[n]
	}
	var reps []repl
	var activation time.Time
	var polls []time.Time
	for _, e := range in.Events {
		switch e.Source {
		case srcPod:
			p := pod(e.Object)
			set := func(t *time.Time) {
				if t.IsZero() {
					*t = e.At
				}
			}
			switch e.Kind {
			case "created":
				set(&p.created)
			case "scheduled":
				set(&p.scheduled)
			case "started":
				set(&p.started)
			case "ready":
				set(&p.ready)
			case "deleted":
				set(&p.gone)
			}
		case srcDeployment:
			if e.Kind == "replicas" {
				reps = append(reps, repl{e.At, int(e.Values["spec_replicas"]), int(e.Values["replicas"]), int(e.Values["ready_replicas"])})
			}
		case srcScaledObject:
			if e.Kind == "active" && !e.At.Before(t0) && activation.IsZero() {
				activation = e.At
			}
		case srcEvent:
			if (e.Kind == "KEDAScaleTargetActivated" || e.Kind == "SuccessfulRescale") && !e.At.Before(t0) {
				polls = append(polls, e.At)
			}
		}
	}
	// Activation: the ScaledObject turns active, or replicas leave 0.
	prevSpec := ci.InitialReplicas
	for _, r := range reps {
		if !r.at.Before(t0) && prevSpec == 0 && r.spec > 0 {
			if activation.IsZero() || r.at.Before(activation) {
				activation = r.at
			}
			break
		}
		prevSpec = r.spec
	}
	s.ActivationMs = rel(activation)
	s.NeverActivated = activation.IsZero()
	if s.NeverActivated {
		sum.Alarms = append(sum.Alarms, fmt.Sprintf("the ScaledObject never activated in the %.0f s observed", ci.ObservedEnd.Sub(t0).Seconds()))
	}

	// Readiness after t0, in order.
	var readyAt []time.Time
	alreadyReady := 0
	for _, p := range pods {
		if p.ready.IsZero() {
			continue
		}
		if p.ready.Before(t0) {
			if p.gone.IsZero() || p.gone.After(t0) {
				alreadyReady++
			}
			continue
		}
		readyAt = append(readyAt, p.ready)
	}
	slices.SortFunc(readyAt, func(a, b time.Time) int { return a.Compare(b) })
	switch {
	case alreadyReady > 0:
		s.FirstReadyMs = results.F(0)
	case len(readyAt) > 0:
		s.FirstReadyMs = rel(readyAt[0])
	}
	for _, t := range readyAt {
		s.KthReadyMs = append(s.KthReadyMs, results.Ms(t.Sub(t0)))
	}

	// Peak ready replicas while the burst was served (t0 → drain) and when it
	// was first reached; replicas that became Ready after the drain only add
	// cost, and show up in max_replicas.
	end := ci.ObservedEnd
	if sum.DrainMs != nil {
		end = lastFinish
	}
	peak, peakAt, most := 0, time.Time{}, 0
	for _, r := range reps {
		if r.at.Before(t0) {
			continue
		}
		most = max(most, r.ready, r.have)
		if r.ready > peak && !r.at.After(end) {
			peak, peakAt = r.ready, r.at
		}
	}
	if peak == 0 && alreadyReady > 0 {
		peak = alreadyReady
		peakAt = t0
	}
	s.PeakReplicas = results.I(peak)
	s.PeakReadyMs = rel(peakAt)
	s.MaxReplicas = results.I(max(most, peak))

	// Scale-down: last ack → replicas back at min: the Deployment's spec at
	// min for good and the last surplus pod gone (a pod told to stop while
	// it finishes in-flight tasks still counts until it is deleted).
	if !lastFinish.IsZero() && len(reps) > 0 && reps[len(reps)-1].spec <= min {
		var atMin time.Time
		for i := len(reps) - 1; i >= 0 && reps[i].spec <= min; i-- {
			atMin = reps[i].at
		}
		back := atMin
		for _, p := range pods {
			if !p.gone.IsZero() && p.gone.After(t0) && p.gone.After(back) {
				back = p.gone
			}
		}
		s.ScaleDownMs = results.F(max(0, results.Ms(back.Sub(lastFinish))))
	}

	// Replica-seconds: every worker pod's life, created → deleted, within the
	// window from t0 to the end of observation. A terminating pod that is
	// still finishing its tasks holds its node (and GPU) as much as a running
	// one, which the Deployment's status.replicas no longer counts; that
	// integral is the fallback when no pod was observed.
	rs, ok := podSeconds(pods, t0, ci.ObservedEnd)
	if !ok {
		rs = replicaSeconds(reps, ci.InitialReplicas, t0, ci.ObservedEnd)
	}
	s.ReplicaSeconds = &rs

	// Flaps: 0↔1 transitions and changes of scale direction.
	flaps, dir, spec := 0, 0, ci.InitialReplicas
	for _, r := range reps {
		if r.spec == spec {
			continue
		}
		if (spec == 0) != (r.spec == 0) {
			flaps++
		}
		d := 1
		if r.spec < spec {
			d = -1
		}
		if dir != 0 && d != dir {
			flaps++
		}
		dir, spec = d, r.spec
	}
	s.Flaps = results.I(flaps)

	// Pods killed while holding tasks: a pod that was deleted while its
	// consumer still had pending entries (in the first Redis sample after
	// the deletion) left unfinished work behind for reclaim.
	killed := 0
	for _, p := range pods {
		if p.gone.IsZero() || p.gone.Before(t0) {
			continue
		}
		if pendingAfter(in.Events, p.name, p.gone) > 0 {
			killed++
		}
	}
	s.PodsKilledWithTasks = results.I(killed)

	// Expected first Ready from KEDA's mechanics.
	podStart := medianPodStart(pods)
	s.ExpectedFirstReadyMs, s.ExpectedAssumptions = expectedFirstReady(sc, podStart, alreadyReady > 0)

	sum.Waterfall = waterfall(in, pods, specChanges(reps), polls, t0)
	sum.Notes = append(sum.Notes, "timestamps are watch-event arrival times on the harness clock (ms); kind nodes share the host clock, on a real cluster worker records use the node clocks")
}

// pendingAfter returns the consumer's pending count in the first Redis sample
// at or after t (from the sample's per-consumer message "name=n ...").
func pendingAfter(evs []observe.Event, consumer string, t time.Time) int {
	for _, e := range evs {
		if e.Source != srcRedis || e.Kind != "sample" || e.At.Before(t) {
			continue
		}
		for _, f := range strings.Fields(e.Message) {
			name, n, ok := strings.Cut(f, "=")
			if ok && name == consumer {
				var v int
				fmt.Sscan(n, &v)
				return v
			}
		}
		return 0
	}
	return 0
}

func medianPodStart(pods map[string]*podTimes) time.Duration {
	var ds []time.Duration
	for _, p := range pods {
		if !p.created.IsZero() && !p.ready.IsZero() && p.ready.After(p.created) {
			ds = append(ds, p.ready.Sub(p.created))
		}
	}
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// expectedFirstReady is the analytic expectation of t0 → first Ready.
func expectedFirstReady(sc *scenario.Scenario, podStart time.Duration, alreadyReady bool) (*float64, string) {
	if alreadyReady || sc.Scaler.Min() > 0 {
		return results.F(0), "minReplicaCount ≥ 1: a worker is already Ready when the burst lands"
	}
	switch sc.Scaler.Trigger {
	case scenario.TriggerPending:
		return nil, "pending mode from zero never activates (no consumer, XPENDING stays 0): no finite expectation"
	case scenario.TriggerCPU:
		return nil, "a CPU HPA cannot scale from zero"
	}
	p := sc.Scaler.PollingInterval.Duration
	exp := p/2 + podStart
	return results.F(results.Ms(exp)), fmt.Sprintf("the KEDA operator activates 0→1 at its next poll, on average pollingInterval/2 = %s after the burst, then the pod takes the measured median create→Ready time %s",
		p/2, podStart.Round(time.Millisecond))
}

type specChange struct {
	at   time.Time
	spec int
}

// podSeconds sums the pods' lives clipped to [from, to]; a pod whose deletion
// was not seen lives to the end. It reports false when there are no pods.
func podSeconds(pods map[string]*podTimes, from, to time.Time) (float64, bool) {
	var sum float64
	for _, p := range pods {
		born := p.created
		for _, t := range []time.Time{p.scheduled, p.started, p.ready} {
			if born.IsZero() || (!t.IsZero() && t.Before(born)) {
				born = t
			}
		}
		if born.IsZero() {
			born = from // only its deletion was seen: it existed before
		}
		end := to
		if !p.gone.IsZero() && p.gone.Before(to) {
			end = p.gone
		}
		if born.Before(from) {
			born = from
		}
		if end.After(born) {
			sum += end.Sub(born).Seconds()
		}
	}
	return sum, len(pods) > 0
}

// replicaSeconds integrates the Deployment's status.replicas over [from, to].
func replicaSeconds(reps []repl, initial int, from, to time.Time) float64 {
	cur := initial
	for _, r := range reps {
		if r.at.Before(from) {
			cur = r.have
		}
	}
	var rs float64
	last := from
	for _, r := range reps {
		if r.at.Before(from) {
			continue
		}
		if r.at.After(to) {
			break
		}
		rs += float64(cur) * r.at.Sub(last).Seconds()
		cur, last = r.have, r.at
	}
	if to.After(last) {
		rs += float64(cur) * to.Sub(last).Seconds()
	}
	return rs
}

// repl is one observation of the worker Deployment's replica counts.
type repl struct {
	at                time.Time
	spec, have, ready int
}

// specChanges returns the moments the Deployment's spec.replicas changed.
func specChanges(reps []repl) []specChange {
	var out []specChange
	prev := -1
	for _, r := range reps {
		if r.spec != prev {
			out = append(out, specChange{r.at, r.spec})
			prev = r.spec
		}
	}
	return out
}

// waterfall follows each pod created after t0 from the scale event that
// asked for it to its first ack.
func waterfall(in Input, pods map[string]*podTimes, changes []specChange, polls []time.Time, t0 time.Time) []results.WaterfallRow {
	firstRead := map[string]time.Time{}
	firstAck := map[string]time.Time{}
	for _, r := range in.Results {
		if t, ok := firstRead[r.Consumer]; !ok || r.Read.Before(t) {
			firstRead[r.Consumer] = r.Read
		}
		if r.Status == queue.StatusCompleted {
			if t, ok := firstAck[r.Consumer]; !ok || r.Finished.Before(t) {
				firstAck[r.Consumer] = r.Finished
			}
		}
	}
	var list []*podTimes
	for _, p := range pods {
		if !p.created.IsZero() && !p.created.Before(t0) {
			list = append(list, p)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].created.Before(list[j].created) })
	rel := func(t time.Time) *float64 {
		if t.IsZero() {
			return nil
		}
		return results.F(results.Ms(t.Sub(t0)))
	}
	var rows []results.WaterfallRow
	for _, p := range list {
		var change specChange
		for _, c := range changes {
			if !c.at.After(p.created) {
				change = c
			}
		}
		var poll time.Time
		for _, t := range polls {
			if !t.After(p.created) {
				poll = t
			}
		}
		rows = append(rows, results.WaterfallRow{Replicas: change.spec, Pod: p.name, PollMs: rel(poll), ReplicasChanged: rel(change.at),
			ScheduledMs: rel(p.scheduled), StartedMs: rel(p.started), ReadyMs: rel(p.ready),
			FirstReadMs: rel(firstRead[p.name]), FirstAckMs: rel(firstAck[p.name])})
	}
	return rows
}
