package queue_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/internal/redistest"
)

func dial(t *testing.T) *queue.Client {
	t.Helper()
	srv := redistest.Start(t)
	c, err := queue.Dial(context.Background(), queue.Options{Addr: srv.Addr, Keys: queue.KeysFor(redistest.Prefix(t))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTaskRoundTrip(t *testing.T) {
	c := dial(t)
	ctx := context.Background()
	now := time.Now()
	in := []queue.Task{
		{ID: queue.TaskID("r1", 0), Run: "r1", Seq: 0, Steps: 3, PromptTokens: 100, OutputTokens: 20, Priority: 2, Intended: now, Sent: now.Add(time.Millisecond)},
		{ID: queue.TaskID("r1", 1), Run: "r1", Seq: 1, Steps: 1, Intended: now, Sent: now},
	}
	ids, err := c.Enqueue(ctx, in)
	if err != nil || len(ids) != 2 {
		t.Fatalf("Enqueue = %v, %v", ids, err)
	}
	ds, err := c.Read(ctx, "w1", 10, 100*time.Millisecond)
	if err != nil || len(ds) != 2 {
		t.Fatalf("Read = %v, %v", ds, err)
	}
	got, err := queue.ParseTask(ds[0].Values)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != in[0].ID || got.Steps != 3 || got.PromptTokens != 100 || got.Priority != 2 || !got.Sent.Equal(in[0].Sent) {
		t.Errorf("ParseTask = %+v, want %+v", got, in[0])
	}
	st, err := c.Sample(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Length != 2 || st.Pending != 2 || st.Lag != 0 || st.PendingByConsumer["w1"] != 2 {
		t.Errorf("Sample = %+v, want length 2, pending 2, lag 0", st)
	}
	r := queue.Result{TaskID: got.ID, Run: "r1", EntryID: ds[0].EntryID, Consumer: "w1", Status: queue.StatusCompleted,
		Enqueued: got.Sent, Read: ds[0].Read, Started: now, Finished: now, Deliveries: 1, Attempts: 3, Steps: 3,
		TTFT: []time.Duration{time.Millisecond, 2 * time.Millisecond, 1500 * time.Microsecond}}
	if err := c.Complete(ctx, ds[0].EntryID, r); err != nil {
		t.Fatal(err)
	}
	rs, bad, err := c.Results(ctx, "r1")
	if err != nil || len(bad) != 0 || len(rs) != 1 {
		t.Fatalf("Results = %v, %v, %v", rs, bad, err)
	}
	if rs[0].TaskID != got.ID || len(rs[0].TTFT) != 3 || rs[0].TTFT[2] != 1500*time.Microsecond {
		t.Errorf("result round trip = %+v", rs[0])
	}
	st, _ = c.Sample(ctx)
	if st.Pending != 1 || st.Results != 1 {
		t.Errorf("after Complete: pending %d results %d, want 1 and 1", st.Pending, st.Results)
	}
}

func TestReclaimCountsDeliveries(t *testing.T) {
	c := dial(t)
	ctx := context.Background()
	if _, err := c.Enqueue(ctx, []queue.Task{{ID: "a", Run: "r", Steps: 1}, {ID: "b", Run: "r", Steps: 1}}); err != nil {
		t.Fatal(err)
	}
	if ds, err := c.Read(ctx, "dead", 2, 0); err != nil || len(ds) != 2 {
		t.Fatalf("Read = %v, %v", ds, err)
	}
	time.Sleep(20 * time.Millisecond)
	ds, err := c.Reclaim(ctx, "alive", 10*time.Millisecond, 10)
	if err != nil || len(ds) != 2 {
		t.Fatalf("Reclaim = %v, %v", ds, err)
	}
	for _, d := range ds {
		if d.Count != 2 || !d.Reclaimed {
			t.Errorf("reclaimed %s: count %d reclaimed %v, want 2 true", d.EntryID, d.Count, d.Reclaimed)
		}
	}
	if err := c.DeadLetter(ctx, ds[0], queue.Result{TaskID: "a", Run: "r", Consumer: "alive"}, "too many deliveries"); err != nil {
		t.Fatal(err)
	}
	st, _ := c.Sample(ctx)
	if st.DeadLetters != 1 || st.Pending != 1 || st.PendingByConsumer["alive"] != 1 {
		t.Errorf("after DeadLetter: %+v", st)
	}
	rs, _, _ := c.Results(ctx, "r")
	if len(rs) != 1 || rs[0].Status != queue.StatusDeadLettered {
		t.Errorf("dead-letter result = %+v", rs)
	}
}

func TestNullLag(t *testing.T) {
	c := dial(t)
	ctx := context.Background()
	ids, err := c.Enqueue(ctx, []queue.Task{{ID: "a", Run: "r", Steps: 1}, {ID: "b", Run: "r", Steps: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(ctx, "w", 1, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	st, err := c.Sample(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.LagNull() {
		t.Errorf("lag after XDEL of an undelivered entry = %d, want null (-1)", st.Lag)
	}
}

func TestDialUnreachable(t *testing.T) {
	start := time.Now()
	_, err := queue.Dial(context.Background(), queue.Options{Addr: "127.0.0.1:1", DialTimeout: time.Second})
	if err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Dial took %v, want < 5s", d)
	}
	if got := err.Error(); !strings.Contains(got, "127.0.0.1:1") {
		t.Errorf("error %q does not name the address", got)
	}
}
