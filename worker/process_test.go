package worker_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/burstbench/burst/internal/queue"
)

// pendingOf lists the entry ids pending for consumer.
func (e *env) pendingOf(consumer string) []string {
	e.t.Helper()
	ps, err := e.q.Pending(context.Background())
	if err != nil {
		e.t.Fatalf("pending: %v", err)
	}
	var ids []string
	for _, p := range ps {
		if p.Consumer == consumer {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// kill -9 of a worker process mid-burst: the entries it held are reclaimed by
// another worker after RECLAIM_MIN_IDLE; every task ends with a result, none
// is lost, and duplicates (a task id recorded twice) are counted.
func TestKill9MidBurstIsReclaimed(t *testing.T) {
	t.Parallel()
	endpoint, _ := fake(t, slow(50*time.Millisecond))
	e := newEnv(t, endpoint)
	a := startProc(t, "a", e.processEnv("a", 4))
	a.waitLog("worker ready", 10*time.Second)
	ids := e.enqueue(12, 1, 10, 20) // ≈ 1 s per task

	// Let a finish some tasks and hold 4 more, then kill it without warning.
	waitFor(t, 15*time.Second, func() bool {
		s := e.sample()
		return s.Results >= 2 && s.PendingByConsumer["a"] == 4
	}, func() string { return "worker a never had results and 4 tasks in flight" })
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.wait(5 * time.Second)
	orphans := e.pendingOf("a")
	if len(orphans) == 0 {
		t.Fatal("killed worker left nothing pending: the test proves nothing")
	}
	doneByA := len(e.results())

	b := startProc(t, "b", e.processEnv("b", 4))
	rs := e.waitDrained(ids, 30*time.Second)

	got := byTask(rs)
	lost := 0
	for _, id := range ids {
		if len(got[id]) == 0 {
			lost++
		}
	}
	duplicates := len(rs) - len(got)
	t.Logf("a finished %d tasks before kill -9 and held %d; %d results for %d tasks; lost %d; duplicates %d",
		doneByA, len(orphans), len(rs), len(ids), lost, duplicates)
	if lost != 0 {
		t.Errorf("lost %d tasks", lost)
	}
	byEntry := map[string][]queue.Result{}
	for _, r := range rs {
		byEntry[r.EntryID] = append(byEntry[r.EntryID], r)
		if r.Status != queue.StatusCompleted {
			t.Errorf("task %s: %s (%s), want completed", r.TaskID, r.Status, r.Error)
		}
	}
	for _, id := range orphans {
		rr := byEntry[id]
		if len(rr) != 1 || rr[0].Consumer != "b" || rr[0].Deliveries != 2 {
			t.Errorf("orphaned entry %s: results %+v, want one by b on delivery 2", id, rr)
		}
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := b.wait(10 * time.Second); code != 0 {
		t.Errorf("worker b exited %d after SIGTERM, want 0", code)
	}
}

// SIGTERM mid-burst: the process stops reading, finishes its in-flight tasks
// (their results exist), exits 0, and leaves the rest to a second worker;
// nothing is lost or duplicated.
func TestSIGTERMFinishesInFlightAndExits0(t *testing.T) {
	t.Parallel()
	endpoint, _ := fake(t, slow(50*time.Millisecond))
	e := newEnv(t, endpoint)
	a := startProc(t, "a", e.processEnv("a", 3))
	a.waitLog("worker ready", 10*time.Second)
	ids := e.enqueue(10, 1, 10, 30) // ≈ 1.5 s per task

	waitFor(t, 10*time.Second, func() bool { return e.sample().PendingByConsumer["a"] == 3 },
		func() string { return "worker a never had 3 tasks in flight" })
	inflight := e.pendingOf("a")
	sigAt := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(10 * time.Second); code != 0 {
		t.Fatalf("worker exited %d after SIGTERM, want 0", code)
	}
	a.waitLog("worker stopped", time.Second)

	rs := e.results()
	byEntry := map[string]queue.Result{}
	for _, r := range rs {
		byEntry[r.EntryID] = r
	}
	if len(rs) != len(inflight) {
		t.Errorf("worker a recorded %d results, want exactly its %d in-flight tasks", len(rs), len(inflight))
	}
	for _, id := range inflight {
		r, ok := byEntry[id]
		if !ok || r.Status != queue.StatusCompleted || r.Consumer != "a" || !r.Finished.After(sigAt) {
			t.Errorf("in-flight entry %s: result %+v (found %v), want completed by a after the signal", id, r, ok)
		}
	}
	if p := e.pendingOf("a"); len(p) != 0 {
		t.Errorf("entries still pending for a after its graceful stop: %v", p)
	}

	startWorker(t, e.config("b", 4))
	rs = e.waitDrained(ids, 20*time.Second)
	got := byTask(rs)
	for _, id := range ids {
		if len(got[id]) != 1 {
			t.Errorf("task %s has %d results, want exactly 1", id, len(got[id]))
		}
	}
}

// A second signal during the graceful stop exits at once with 130; the
// unfinished tasks stay pending for reclaim.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	endpoint, _ := fake(t, slow(100*time.Millisecond))
	e := newEnv(t, endpoint)
	a := startProc(t, "a", e.processEnv("a", 2, "SHUTDOWN_GRACE=30s"))
	a.waitLog("worker ready", 10*time.Second)
	e.enqueue(2, 1, 10, 50) // ≈ 5 s per task
	waitFor(t, 10*time.Second, func() bool { return e.sample().PendingByConsumer["a"] == 2 },
		func() string { return "worker a never had 2 tasks in flight" })
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a.waitLog("worker stopping", 5*time.Second)
	start := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(3 * time.Second); code != 130 {
		t.Errorf("exit code after a second signal: %d, want 130", code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("exit took %s after the second signal", d)
	}
	if p := e.pendingOf("a"); len(p) != 2 {
		t.Errorf("pending for a after forced exit: %v, want its 2 unfinished tasks", p)
	}
	if n := len(e.results()); n != 0 {
		t.Errorf("%d results after forced exit, want 0", n)
	}
}

// Invalid configuration exits 2 naming every bad field; an unreachable Redis
// exits 1 naming the address.
func TestProcessExitCodes(t *testing.T) {
	t.Parallel()
	base := []string{"PATH=/usr/bin:/bin", "HTTP_ADDR=off", "CONSUMER_NAME=x"}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want []string
	}{
		{"missing endpoint", nil, nil, 2, []string{"INFERENCE_ENDPOINT"}},
		{"bad env values", []string{"INFERENCE_ENDPOINT=http://h/v1", "CONCURRENCY=many", "RECLAIM_MIN_IDLE=soon"}, nil, 2,
			[]string{"CONCURRENCY", "RECLAIM_MIN_IDLE", `"many" is not a whole number`}},
		{"bad flag value", []string{"INFERENCE_ENDPOINT=http://h/v1"}, []string{"--max-deliveries", "0", "--block=fast"}, 2,
			[]string{"MAX_DELIVERIES (--max-deliveries)", "--block"}},
		{"unknown flag", []string{"INFERENCE_ENDPOINT=http://h/v1"}, []string{"--nope"}, 2, []string{"-nope"}},
		{"help", nil, []string{"--help"}, 0, []string{"--concurrency", "CONCURRENCY", "RECLAIM_MIN_IDLE", "Exit codes"}},
		{"unreachable redis", []string{"INFERENCE_ENDPOINT=http://h/v1", "REDIS_ADDR=127.0.0.1:1"}, nil, 1, []string{"127.0.0.1:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProc(t, tc.name, append(append([]string{}, base...), tc.env...), tc.args...)
			if code := p.wait(10 * time.Second); code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, p.stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(p.stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, p.stderr.String())
				}
			}
		})
	}
}
