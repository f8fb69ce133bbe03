// Package loadgen fires a load profile's schedule into the task stream,
// open-loop: each task is sent at its intended time whether or not earlier
// tasks have finished. Tasks due together go out in one pipelined round trip
// (a 50-task burst is one XADD pipeline). Every task is accounted for: it is
// either sent (with its intended and actual send time) or dropped (with the
// reason); the generator never silently slows down.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/burstbench/burst/internal/progress"
	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/loadprofiles"
)

// GCPercent is the garbage collector target burst runs with (unless GOGC
// is set): a large burst allocates a few hundred bytes per task, and the
// default of 100 spends a fifth of the client's CPU on collection while
// redis-server competes for the same cores. Memory stays small (100,000
// tasks take tens of MB).
const GCPercent = 400

// Options configure one generator run.
type Options struct {
	// Run is the run id; task ids are queue.TaskID(Run, seq).
	Run string
	// Arrivals is the schedule, sorted by offset.
	Arrivals []loadprofiles.Arrival
	// Queue is where tasks go.
	Queue *queue.Client
	// MaxBatch caps the tasks in one pipeline (default 1000).
	MaxBatch int
	// Pipelines is how many pipelines may be in flight at once when the
	// generator has a backlog (default 4).
	Pipelines int
	// LateAfter counts a task late when it was sent more than this after its
	// intended time (default 5ms).
	LateAfter time.Duration
	// DropAfter drops a task instead of sending it when the generator is
	// more than this behind its intended time; 0 never drops.
	DropAfter time.Duration
	// Bar shows progress; nil shows none.
	Bar *progress.Bar
}

// Send is the fate of one scheduled task.
type Send struct {
	Seq      int64
	TaskID   string
	EntryID  string // empty when dropped
	Intended time.Time
	// Sent is when the task was handed to Redis (zero when dropped).
	Sent time.Time
	// Dropped is the reason the task was not sent, or "".
	Dropped string
}

// Lag is how late the task was sent (0 for dropped tasks).
func (s Send) Lag() time.Duration {
	if s.Sent.IsZero() {
		return 0
	}
	return s.Sent.Sub(s.Intended)
}

// Report summarises a generator run.
type Report struct {
	// Start is the schedule's origin: offset 0 maps to Start.
	Start time.Time
	// Sends holds every scheduled task in schedule order.
	Sends []Send
	// Counts.
	Intended, Sent, Late, Dropped int
	// MaxSendLag is the largest Sent − Intended.
	MaxSendLag time.Duration
	// SendErrors holds the distinct errors that dropped tasks.
	SendErrors []string
}

// SendLagPercentile returns the q-quantile (0..1) of send lag over sent tasks.
func (r *Report) SendLagPercentile(q float64) time.Duration {
	lags := make([]time.Duration, 0, len(r.Sends))
	for _, s := range r.Sends {
		if s.Dropped == "" {
			lags = append(lags, s.Lag())
		}
	}
	if len(lags) == 0 {
		return 0
	}
	slices.Sort(lags)
	i := int(q*float64(len(lags)-1) + 0.5)
	return lags[i]
}

// EntryIDs maps task id → stream entry id for every sent task.
func (r *Report) EntryIDs() map[string]string {
	m := make(map[string]string, len(r.Sends))
	for _, s := range r.Sends {
		if s.EntryID != "" {
			m[s.TaskID] = s.EntryID
		}
	}
	return m
}

type batch struct {
	first, n int // index range into sends
}

// Run fires the schedule and returns when every task is sent or dropped. A
// cancelled ctx stops sending: the remaining tasks are dropped with reason
// "cancelled" and the report is still returned, with ctx's error.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Queue == nil {
		return nil, errors.New("loadgen: no queue")
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	if o.Pipelines <= 0 {
		o.Pipelines = 4
	}
	if o.LateAfter <= 0 {
		o.LateAfter = 5 * time.Millisecond
	}
	if !slices.IsSortedFunc(o.Arrivals, func(a, b loadprofiles.Arrival) int { return cmpDur(a.Offset, b.Offset) }) {
		return nil, errors.New("loadgen: arrivals are not sorted by offset")
	}
	if err := o.Queue.Warm(ctx, o.Pipelines); err != nil {
		return nil, err
	}
	// Build every task before the clock starts, so the first sends are not
	// late by the time it takes; intended times are stamped at send time.
	n := len(o.Arrivals)
	rep := &Report{Sends: make([]Send, n), Intended: n}
	tasks := make([]queue.Task, n)
	for i, a := range o.Arrivals {
		id := queue.TaskID(o.Run, int64(i))
		rep.Sends[i] = Send{Seq: int64(i), TaskID: id}
		tasks[i] = queue.Task{ID: id, Run: o.Run, Seq: int64(i), Steps: a.Steps, PromptTokens: a.PromptTokens,
			OutputTokens: a.OutputTokens, Priority: a.Priority}
	}
	start := time.Now()
	rep.Start = start

	var (
		mu      sync.Mutex
		errSeen = map[string]bool{}
	)
	noteErr := func(msg string) {
		mu.Lock()
		if !errSeen[msg] {
			errSeen[msg] = true
			rep.SendErrors = append(rep.SendErrors, msg)
		}
		mu.Unlock()
	}
	// Senders: each owns a disjoint index range per batch, so no locking on sends.
	work := make(chan batch, o.Pipelines)
	var wg sync.WaitGroup
	for range o.Pipelines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				chunk := tasks[b.first : b.first+b.n]
				now := time.Now()
				for i := range chunk {
					chunk[i].Intended = start.Add(o.Arrivals[b.first+i].Offset)
					chunk[i].Sent = now
				}
				ids, err := o.Queue.Enqueue(context.WithoutCancel(ctx), chunk)
				for i := range b.n {
					s := &rep.Sends[b.first+i]
					s.Intended = chunk[i].Intended
					if i < len(ids) {
						s.EntryID, s.Sent = ids[i], now
					} else {
						s.Dropped = "send failed: " + errString(err)
					}
				}
				if err != nil {
					noteErr(err.Error())
				}
				o.Bar.Add(b.n)
			}
		}()
	}

	var ctxErr error
	next := 0
	for next < n {
		due := o.Arrivals[next].Offset
		if err := sleepUntil(ctx, start.Add(due)); err != nil {
			ctxErr = err
			break
		}
		elapsed := time.Since(start)
		// Everything due by now goes out now, in batches of at most MaxBatch.
		end := next
		for end < n && o.Arrivals[end].Offset <= elapsed {
			end++
		}
		if end == next { // woke a hair early
			end = next + 1
		}
		if o.DropAfter > 0 {
			for next < end && elapsed-o.Arrivals[next].Offset > o.DropAfter {
				rep.Sends[next].Intended = start.Add(o.Arrivals[next].Offset)
				rep.Sends[next].Dropped = fmt.Sprintf("generator more than %s behind schedule", o.DropAfter)
				o.Bar.Add(1)
				next++
			}
		}
		for next < end {
			k := min(o.MaxBatch, end-next)
			select {
			case work <- batch{first: next, n: k}:
				next += k
			case <-ctx.Done():
				ctxErr = ctx.Err()
			}
			if ctxErr != nil {
				break
			}
		}
		if ctxErr != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	for i := next; i < n; i++ {
		if rep.Sends[i].EntryID == "" && rep.Sends[i].Dropped == "" {
			rep.Sends[i].Intended = start.Add(o.Arrivals[i].Offset)
			rep.Sends[i].Dropped = "cancelled"
		}
	}
	for _, s := range rep.Sends {
		if s.Dropped != "" {
			rep.Dropped++
			continue
		}
		rep.Sent++
		lag := s.Lag()
		if lag > o.LateAfter {
			rep.Late++
		}
		rep.MaxSendLag = max(rep.MaxSendLag, lag)
	}
	if ctxErr != nil {
		return rep, fmt.Errorf("generator stopped with %d of %d tasks sent: %w", rep.Sent, n, ctxErr)
	}
	if len(rep.SendErrors) > 0 {
		return rep, fmt.Errorf("generator dropped %d of %d tasks: %s", rep.Dropped, n, rep.SendErrors[0])
	}
	return rep, nil
}

// sleepUntil waits for t with sub-millisecond accuracy: a timer sleep to
// shortly before t, then yielding until t.
func sleepUntil(ctx context.Context, t time.Time) error {
	const spin = 300 * time.Microsecond
	if d := time.Until(t) - spin; d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
	for time.Now().Before(t) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		runtime.Gosched()
	}
	return ctx.Err()
}

func cmpDur(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func errString(err error) string {
	if err == nil {
		return "no id returned"
	}
	return err.Error()
}
