package measure

import (
	"fmt"
	"testing"
	"time"

	"github.com/burstbench/burst/internal/loadgen"
	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/scenario"
)

func TestLedgerAccountsForEveryTask(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	var sends []loadgen.Send
	for i := range 7 {
		s := loadgen.Send{Seq: int64(i), TaskID: fmt.Sprintf("r-%d", i), Intended: base, Sent: base,
			EntryID: fmt.Sprintf("%d-%d", base.UnixMilli(), i)}
		if i == 6 {
			s.EntryID, s.Sent, s.Dropped = "", time.Time{}, "cancelled"
		}
		sends = append(sends, s)
	}
	rep := &loadgen.Report{Sends: sends, Intended: 7, Sent: 6, Dropped: 1}
	res := func(id string, st queue.Status, fin time.Duration) queue.Result {
		return queue.Result{TaskID: id, Run: "r", Status: st, Enqueued: base, Read: base, Started: base.Add(fin / 2), Finished: base.Add(fin), Consumer: "w1"}
	}
	in := Input{
		RunID: "r", Target: "local", Loadgen: rep, Started: base, Finished: base.Add(time.Minute),
		Results: []queue.Result{
			res("r-0", queue.StatusCompleted, 100*time.Millisecond),
			res("r-1", queue.StatusCompleted, 200*time.Millisecond),
			res("r-1", queue.StatusCompleted, 300*time.Millisecond), // duplicate
			res("r-2", queue.StatusFailed, 50*time.Millisecond),
			res("zz", queue.StatusCompleted, time.Millisecond), // unexpected
		},
		Pending: []queue.PendingEntry{{ID: sends[3].EntryID, Consumer: "w2", Deliveries: 1}},
		// r-4 was delivered (≤ last-delivered id) and vanished: lost. r-5 was never delivered.
		Final: queue.Stats{GroupExists: true, Pending: 1, LastDeliveredID: sends[4].EntryID},
	}
	run := Compute(in)
	s := run.Summary
	if s.Tasks.Enqueued != 6 || s.Tasks.Completed != 2 || s.Tasks.Failed != 1 {
		t.Errorf("tasks = %+v, want 6 enqueued, 2 completed, 1 failed", s.Tasks)
	}
	l := s.Ledger
	if l.Lost != 1 || l.Duplicated != 1 || l.Unexpected != 1 || l.StillPending != 2 || l.Valid {
		t.Errorf("ledger = %+v, want lost 1 dup 1 unexpected 1 still pending 2 invalid", l)
	}
	if len(l.LostIDs) != 1 || l.LostIDs[0] != "r-4" {
		t.Errorf("lost ids = %v, want [r-4]", l.LostIDs)
	}
	if s.Leftover.Undelivered != 1 || s.Leftover.ByConsumer["w2"] != 1 {
		t.Errorf("leftover = %+v", s.Leftover)
	}
	if s.DrainMs != nil {
		t.Errorf("drain = %v, want null (not drained)", *s.DrainMs)
	}
	// Completion over completed tasks only, first completed record per task.
	if c := s.LatencyMs.Completion; c.N != 2 || c.Max != 200 || c.P50 != 100 {
		t.Errorf("completion = %+v, want n 2, p50 100, max 200", c)
	}
	status := map[string]string{}
	for _, r := range run.Tasks {
		status[r.TaskID] = r.Status
	}
	want := map[string]string{"r-0": "completed", "r-1": "completed", "r-2": "failed", "r-3": "pending", "r-4": "lost", "r-5": "undelivered", "r-6": "dropped"}
	for id, w := range want {
		if status[id] != w {
			t.Errorf("tasks.csv status of %s = %q, want %q", id, status[id], w)
		}
	}
}

func TestDrainAndSLO(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	rep := &loadgen.Report{Sends: []loadgen.Send{{TaskID: "a", EntryID: fmt.Sprintf("%d-0", base.UnixMilli()), Sent: base, Intended: base}}, Intended: 1, Sent: 1}
	lim := 10.0
	zero := 0.0
	sc := &scenario.Scenario{Name: "x", SLO: scenario.SLO{DrainMs: &lim, Lost: &zero, FirstReadyMs: &lim}}
	run := Compute(Input{RunID: "r", Target: "local", Scenario: sc, Loadgen: rep, Started: base, Finished: base.Add(time.Second),
		Results: []queue.Result{{TaskID: "a", Status: queue.StatusCompleted, Enqueued: base, Started: base, Finished: base.Add(40 * time.Millisecond)}},
		Final:   queue.Stats{GroupExists: true, LastDeliveredID: fmt.Sprintf("%d-0", base.UnixMilli())}})
	s := run.Summary
	if s.DrainMs == nil || *s.DrainMs != 40 {
		t.Fatalf("drain = %v, want 40", s.DrainMs)
	}
	if s.SLO.Passed || len(s.SLO.Breaches) != 2 {
		t.Fatalf("slo = %+v, want 2 breaches (drain 40 > 10, first_ready not observed)", s.SLO)
	}
	if b := s.SLO.Breaches[0]; b.Figure != "first_ready_ms" || b.Observed != nil {
		t.Errorf("first breach = %+v, want first_ready_ms with null observed", b)
	}
	if b := s.SLO.Breaches[1]; b.Figure != "drain_ms" || *b.Observed != 40 || b.Limit != 10 {
		t.Errorf("second breach = %+v", b)
	}
}

func TestDistributionNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	s := Distribution(ds)
	if s.N != 100 || s.P50 != 50 || s.P95 != 95 || s.P99 != 99 || s.Max != 100 {
		t.Errorf("Distribution(1..100ms) = %+v", s)
	}
	if s := Distribution([]time.Duration{7 * time.Millisecond}); s.P50 != 7 || s.P99 != 7 || s.N != 1 {
		t.Errorf("Distribution(one) = %+v", s)
	}
}
