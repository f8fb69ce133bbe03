package queue_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/burstbench/burst/internal/queue"
)

// pendingByID returns the pending entries keyed by id.
func pendingByID(t *testing.T, c *queue.Client) map[string]queue.PendingEntry {
	t.Helper()
	ps, err := c.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]queue.PendingEntry{}
	for _, p := range ps {
		m[p.ID] = p
	}
	return m
}

// Touch resets the idle time of the caller's entries without counting a
// delivery, and reports (without stealing back) entries another consumer
// took over or that were acked.
func TestTouch(t *testing.T) {
	c := dial(t)
	ctx := context.Background()
	if _, err := c.Enqueue(ctx, []queue.Task{{ID: "a", Steps: 1}, {ID: "b", Steps: 1}, {ID: "c", Steps: 1}}); err != nil {
		t.Fatal(err)
	}
	ds, err := c.Read(ctx, "w1", 3, 100*time.Millisecond)
	if err != nil || len(ds) != 3 {
		t.Fatalf("Read = %v, %v", ds, err)
	}
	a, b, cc := ds[0].EntryID, ds[1].EntryID, ds[2].EntryID
	time.Sleep(150 * time.Millisecond)

	lost, err := c.Touch(ctx, "w1", []string{a, b, cc})
	if err != nil || len(lost) != 0 {
		t.Fatalf("Touch of own entries = %v, %v; want none lost", lost, err)
	}
	p := pendingByID(t, c)
	for _, id := range []string{a, b, cc} {
		if p[id].Idle >= 100*time.Millisecond || p[id].Deliveries != 1 || p[id].Consumer != "w1" {
			t.Errorf("after Touch, %s: %+v; want idle reset, 1 delivery, owner w1", id, p[id])
		}
	}

	// a is acked; w2 takes b (now the oldest pending entry) over.
	if err := c.Complete(ctx, a, queue.Result{TaskID: "a", Status: queue.StatusCompleted}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	got, err := c.Reclaim(ctx, "w2", 10*time.Millisecond, 1)
	if err != nil || len(got) != 1 || got[0].EntryID != b || got[0].Count != 2 {
		t.Fatalf("Reclaim = %+v, %v; want %s on delivery 2", got, err, b)
	}
	stolen := b
	lost, err = c.Touch(ctx, "w1", []string{a, b, cc})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{a, b}
	slices.Sort(lost)
	if !slices.Equal(lost, want) {
		t.Errorf("Touch = lost %v, want %v", lost, want)
	}
	if p := pendingByID(t, c); p[stolen].Consumer != "w2" {
		t.Errorf("after Touch by w1, %s belongs to %q, want w2 (not stolen back)", stolen, p[stolen].Consumer)
	}
	if lost, err := c.Touch(ctx, "w1", nil); err != nil || lost != nil {
		t.Errorf("Touch(nil) = %v, %v", lost, err)
	}
}

// RemoveConsumerIfIdle deletes a consumer only when it holds no pending
// entries: deleting one that does would lose them.
func TestRemoveConsumerIfIdle(t *testing.T) {
	c := dial(t)
	ctx := context.Background()
	if _, err := c.Enqueue(ctx, []queue.Task{{ID: "a", Steps: 1}}); err != nil {
		t.Fatal(err)
	}
	ds, err := c.Read(ctx, "w1", 1, 100*time.Millisecond)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Read = %v, %v", ds, err)
	}
	removed, err := c.RemoveConsumerIfIdle(ctx, "w1")
	if err != nil || removed {
		t.Fatalf("RemoveConsumerIfIdle with a pending entry = %v, %v; want kept", removed, err)
	}
	if p := pendingByID(t, c); p[ds[0].EntryID].Consumer != "w1" {
		t.Fatalf("pending entry lost: %v", p)
	}
	if err := c.Complete(ctx, ds[0].EntryID, queue.Result{TaskID: "a", Status: queue.StatusCompleted}); err != nil {
		t.Fatal(err)
	}
	removed, err = c.RemoveConsumerIfIdle(ctx, "w1")
	if err != nil || !removed {
		t.Fatalf("RemoveConsumerIfIdle with nothing pending = %v, %v; want removed", removed, err)
	}
	if s, err := c.Sample(ctx); err != nil || s.Consumers != 0 {
		t.Errorf("consumers after removal: %d (%v), want 0", s.Consumers, err)
	}
}
