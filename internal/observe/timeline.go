// Package observe records what happens during a run on one timeline, stamped
// with the harness clock: Redis samples of the task stream (XLEN, XPENDING,
// XINFO GROUPS) and, on cluster targets, Kubernetes watch events for the
// worker Deployment, its ReplicaSets and Pods, the HPA, the ScaledObject and
// Events.
package observe

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/burstbench/burst/internal/queue"
)

// Event is one timeline entry: a sample or a state change.
type Event struct {
	At      time.Time
	Source  string // redis, deployment, replicaset, pod, hpa, scaledobject, event, loadgen
	Kind    string // sample, created, scheduled, started, ready, deleted, replicas, active, ...
	Object  string
	Values  map[string]float64
	Message string
}

// Timeline collects events from several observers; it is safe for
// concurrent use.
type Timeline struct {
	mu        sync.Mutex
	events    []Event
	last      queue.Stats
	haveLast  bool
	listeners []func(Event)
}

// Add appends an event.
func (t *Timeline) Add(e Event) {
	t.mu.Lock()
	t.events = append(t.events, e)
	ls := t.listeners
	t.mu.Unlock()
	for _, l := range ls {
		l(e)
	}
}

// Listen registers f to be called with every event added from now on.
func (t *Timeline) Listen(f func(Event)) {
	t.mu.Lock()
	t.listeners = append(t.listeners, f)
	t.mu.Unlock()
}

// Events returns a time-ordered copy of the events.
func (t *Timeline) Events() []Event {
	t.mu.Lock()
	out := slices.Clone(t.events)
	t.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// LastRedis returns the latest Redis sample.
func (t *Timeline) LastRedis() (queue.Stats, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last, t.haveLast
}

// RedisSampler samples the queue state into a timeline.
type RedisSampler struct {
	Queue    *queue.Client
	Interval time.Duration // at most 500ms; default 250ms
	Timeline *Timeline
}

// Sample takes one sample now and records it.
func (s *RedisSampler) Sample(ctx context.Context) (queue.Stats, error) {
	st, err := s.Queue.Sample(ctx)
	if err != nil {
		return st, err
	}
	s.record(st)
	return st, nil
}

func (s *RedisSampler) record(st queue.Stats) {
	t := s.Timeline
	t.mu.Lock()
	prev, had := t.last, t.haveLast
	t.last, t.haveLast = st, true
	t.mu.Unlock()
	vals := map[string]float64{
		"length": float64(st.Length), "pending": float64(st.Pending), "entries_read": float64(st.EntriesRead),
		"consumers": float64(st.Consumers), "results": float64(st.Results), "dead": float64(st.DeadLetters),
	}
	if !st.LagNull() {
		vals["lag"] = float64(st.Lag)
	}
	t.Add(Event{At: st.At, Source: "redis", Kind: "sample", Values: vals, Message: consumerPending(st.PendingByConsumer)})
	if st.LagNull() && (!had || !prev.LagNull()) {
		t.Add(Event{At: st.At, Source: "redis", Kind: "lag-null",
			Message: "ALARM: consumer-group lag is null (undelivered entries were deleted or trimmed); KEDA reads the lag trigger as inactive"})
	}
}

func consumerPending(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}

// Run samples every Interval until ctx ends. Sampling errors are recorded as
// events and retried; Run returns nil when ctx ends.
func (s *RedisSampler) Run(ctx context.Context) error {
	iv := s.Interval
	if iv <= 0 || iv > 500*time.Millisecond {
		iv = 250 * time.Millisecond
	}
	tick := time.NewTicker(iv)
	defer tick.Stop()
	for {
		if _, err := s.Sample(ctx); err != nil && ctx.Err() == nil {
			s.Timeline.Add(Event{At: time.Now(), Source: "redis", Kind: "error", Message: err.Error()})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
