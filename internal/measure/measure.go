// Package measure derives every figure of a run from what was observed: the
// generator's report, the workers' result records, the final queue state and
// the timeline. It keeps the ledger that accounts for every task id.
package measure

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/burstbench/burst/internal/loadgen"
	"github.com/burstbench/burst/internal/observe"
	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/results"
	"github.com/burstbench/burst/scenario"
)

// Input is everything a run observed.
type Input struct {
	RunID    string
	Target   string
	Scenario *scenario.Scenario
	Config   map[string]string
	Versions results.Versions
	Started  time.Time
	Finished time.Time
	Loadgen  *loadgen.Report
	// Results are the result records read after the run; BadResults the
	// records that could not be decoded.
	Results    []queue.Result
	BadResults []error
	// Pending and Final are the queue state at the end.
	Pending []queue.PendingEntry
	Final   queue.Stats
	// Events is the observed timeline.
	Events []observe.Event
	// Replicas is the fixed worker count on the local target, with the
	// interval the workers ran.
	Replicas     int
	WorkersStart time.Time
	WorkersEnd   time.Time
	// Cluster holds the scaling observations of a cluster target (nil on local).
	Cluster *ClusterInput
	// Notes are carried into the summary.
	Notes  []string
	Alarms []string
}

// task is the ledger's view of one task id.
type task struct {
	send    loadgen.Send
	results []queue.Result
	final   *queue.Result
	pending *queue.PendingEntry
	undeliv bool
}

// Compute derives the run's figures and its tasks.csv and timeline.csv rows.
func Compute(in Input) *results.Run {
	sum := results.Summary{
		Schema: results.Schema, RunID: in.RunID, Target: in.Target, Versions: in.Versions,
		StartedAt: in.Started.UTC(), FinishedAt: in.Finished.UTC(), Config: in.Config,
		Notes: slices.Clone(in.Notes), Alarms: slices.Clone(in.Alarms),
	}
	if in.Scenario != nil {
		sum.Scenario = in.Scenario
		sum.ScenarioName = in.Scenario.Name
	}

	// Index what was sent.
	byID := map[string]*task{}
	var order []*task
	var t0 time.Time
	if in.Loadgen != nil {
		for _, s := range in.Loadgen.Sends {
			t := &task{send: s}
			order = append(order, t)
			if s.EntryID == "" {
				continue
			}
			byID[s.TaskID] = t
			if et, err := queue.EntryTime(s.EntryID); err == nil && (t0.IsZero() || et.Before(t0)) {
				t0 = et
			}
		}
	}
	if t0.IsZero() {
		t0 = in.Started
	}
	sum.T0 = t0.UTC()
	ms := func(t time.Time) *float64 {
		if t.IsZero() {
			return nil
		}
		return results.F(results.Ms(t.Sub(t0)))
	}

	// Attach results; count unexpected ids.
	unexpected := len(in.BadResults)
	for _, e := range in.BadResults {
		sum.Alarms = append(sum.Alarms, "undecodable result record: "+e.Error())
	}
	for _, r := range in.Results {
		t := byID[r.TaskID]
		if t == nil {
			unexpected++
			continue
		}
		t.results = append(t.results, r)
	}
	entryTask := map[string]*task{}
	for _, t := range byID {
		entryTask[t.send.EntryID] = t
	}
	for i := range in.Pending {
		if t := entryTask[in.Pending[i].ID]; t != nil {
			t.pending = &in.Pending[i]
		}
	}

	// Ledger.
	led := &sum.Ledger
	var waits, services, completions, ttfts []time.Duration
	var lastFinish, firstStart time.Time
	byConsumer := map[string]int{}
	drained := true
	var tokens int64
	for _, t := range byID {
		sum.Tasks.Enqueued++
		if len(t.results) > 1 {
			led.Duplicated++
		}
		t.final = terminal(t.results)
		for _, r := range t.results {
			tokens += int64(r.PromptTokens + r.OutputTokens)
			for _, d := range r.TTFT {
				ttfts = append(ttfts, d)
			}
		}
		if t.final == nil {
			drained = false
			switch {
			case t.pending != nil:
				led.StillPending++
				byConsumer[t.pending.Consumer]++
			case in.Final.LastDeliveredID == "" || queue.CompareIDs(t.send.EntryID, in.Final.LastDeliveredID) > 0:
				t.undeliv = true
				led.StillPending++
				sum.Leftover.Undelivered++
			default:
				led.Lost++
				if len(led.LostIDs) < 100 {
					led.LostIDs = append(led.LostIDs, t.send.TaskID)
				}
			}
			continue
		}
		r := t.final
		switch r.Status {
		case queue.StatusCompleted:
			sum.Tasks.Completed++
		case queue.StatusFailed:
			sum.Tasks.Failed++
		case queue.StatusDeadLettered:
			sum.Tasks.DeadLettered++
		}
		if r.Finished.After(lastFinish) {
			lastFinish = r.Finished
		}
		if !r.Started.IsZero() && (firstStart.IsZero() || r.Started.Before(firstStart)) {
			firstStart = r.Started
		}
		if r.Status != queue.StatusCompleted {
			continue
		}
		enq := enqueuedAt(t)
		waits = append(waits, r.Started.Sub(enq))
		services = append(services, r.Finished.Sub(r.Started))
		completions = append(completions, r.Finished.Sub(enq))
	}
	sort.Strings(led.LostIDs)
	led.Unexpected = unexpected
	led.Valid = led.Lost == 0 && led.Unexpected == 0
	sum.LatencyMs = results.Latencies{
		Completion: Distribution(completions), QueueWait: Distribution(waits),
		Service: Distribution(services), TTFT: Distribution(ttfts),
	}
	if drained && len(byID) > 0 {
		sum.DrainMs = ms(lastFinish)
	}
	sum.Leftover.Pending = in.Final.Pending
	if !in.Final.LagNull() {
		lag := in.Final.Lag
		sum.Leftover.Lag = &lag
	} else {
		sum.Alarms = append(sum.Alarms, "consumer-group lag is null at the end: undelivered entries were deleted or trimmed, and KEDA reads the lag trigger as inactive")
	}
	if len(byConsumer) > 0 {
		sum.Leftover.ByConsumer = byConsumer
	}

	// Generator.
	if lg := in.Loadgen; lg != nil {
		sum.Loadgen = results.Loadgen{Intended: lg.Intended, Sent: lg.Sent, Late: lg.Late, Dropped: lg.Dropped,
			MaxSendLagMs: results.Ms(lg.MaxSendLag), SendLagP50Ms: results.Ms(lg.SendLagPercentile(0.5)),
			SendLagP99Ms: results.Ms(lg.SendLagPercentile(0.99))}
		for _, e := range lg.SendErrors {
			sum.Alarms = append(sum.Alarms, "generator: "+e)
		}
	}

	// Scaling figures.
	sum.Scaling.FirstTaskStartedMs = ms(firstStart)
	if in.Cluster != nil {
		clusterScaling(&sum, in, t0, lastFinish)
	} else if in.Replicas > 0 && !in.WorkersStart.IsZero() {
		rs := float64(in.Replicas) * in.WorkersEnd.Sub(in.WorkersStart).Seconds()
		sum.Scaling.ReplicaSeconds = &rs
		sum.Notes = append(sum.Notes, fmt.Sprintf("local target: %d worker processes for the whole run; scaling figures do not apply and are null", in.Replicas))
	}

	// Cost and SLOs.
	sum.Cost = cost(in.Scenario, sum.Scaling, tokens, in.Cluster != nil, sum.DrainMs, in)
	sum.SLO = evaluateSLO(in.Scenario, &sum)

	run := &results.Run{Summary: sum}
	run.Tasks = taskRows(order, byID, ms)
	run.Timeline = timelineRows(in.Events, t0)
	return run
}

// terminal picks the record that decides a task's fate: the first completed
// one, else the first failed, else the first dead-lettered.
func terminal(rs []queue.Result) *queue.Result {
	for _, want := range []queue.Status{queue.StatusCompleted, queue.StatusFailed, queue.StatusDeadLettered} {
		var best *queue.Result
		for i := range rs {
			if rs[i].Status == want && (best == nil || rs[i].Finished.Before(best.Finished)) {
				best = &rs[i]
			}
		}
		if best != nil {
			return best
		}
	}
	return nil
}

func enqueuedAt(t *task) time.Time {
	if r := t.final; r != nil && !r.Enqueued.IsZero() {
		return r.Enqueued
	}
	return t.send.Sent
}

func taskRows(order []*task, byID map[string]*task, ms func(time.Time) *float64) []results.TaskRow {
	rows := make([]results.TaskRow, 0, len(order))
	for _, t := range order {
		row := results.TaskRow{TaskID: t.send.TaskID, Seq: t.send.Seq, EntryID: t.send.EntryID,
			Intended: ms(t.send.Intended), Enqueued: ms(t.send.Sent), Results: len(t.results)}
		switch {
		case t.send.EntryID == "":
			row.Status, row.Error = "dropped", t.send.Dropped
		case t.final != nil:
			r := t.final
			row.Status, row.Consumer, row.Deliver, row.Attempts, row.Steps, row.Error = string(r.Status), r.Consumer, r.Deliveries, r.Attempts, r.Steps, r.Error
			row.Started, row.Finished = ms(r.Started), ms(r.Finished)
			enq := enqueuedAt(t)
			if !r.Started.IsZero() {
				row.QueueWait = results.F(results.Ms(r.Started.Sub(enq)))
				row.Service = results.F(results.Ms(r.Finished.Sub(r.Started)))
			}
			row.Complete = results.F(results.Ms(r.Finished.Sub(enq)))
			for _, d := range r.TTFT {
				row.TTFTMs = append(row.TTFTMs, results.Ms(d))
			}
		case t.pending != nil:
			row.Status, row.Consumer, row.Deliver = "pending", t.pending.Consumer, t.pending.Deliveries
		case t.undeliv:
			row.Status = "undelivered"
		default:
			row.Status = "lost"
		}
		rows = append(rows, row)
	}
	return rows
}

func timelineRows(evs []observe.Event, t0 time.Time) []results.TimelineRow {
	rows := make([]results.TimelineRow, 0, len(evs))
	for _, e := range evs {
		rows = append(rows, results.TimelineRow{Ms: results.Ms(e.At.Sub(t0)), At: e.At, Source: e.Source, Kind: e.Kind,
			Object: e.Object, Values: e.Values, Message: e.Message})
	}
	return rows
}
