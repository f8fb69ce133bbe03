package worker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burstbench/burst/fakeinference"
	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/worker"
)

// A burst of 50 tasks through two workers drains: one completed result per
// task, nothing pending, and each result carries the record the ledger needs.
func TestBurstDrainsThroughTwoWorkers(t *testing.T) {
	t.Parallel()
	endpoint, _ := fake(t, nil)
	e := newEnv(t, endpoint)
	startWorker(t, e.config("w1", 4))
	startWorker(t, e.config("w2", 4))

	ids := e.enqueue(50, 2, 30, 8)
	rs := e.waitDrained(ids, 30*time.Second)

	got := byTask(rs)
	if len(rs) != 50 || len(got) != 50 {
		t.Fatalf("got %d results for %d task ids, want 50 for 50", len(rs), len(got))
	}
	perConsumer := map[string]int{}
	for _, id := range ids {
		r := got[id][0]
		perConsumer[r.Consumer]++
		if r.Status != queue.StatusCompleted {
			t.Errorf("task %s: status %s (%s), want completed", id, r.Status, r.Error)
		}
		if r.Deliveries != 1 || r.Attempts != 2 || len(r.TTFT) != 2 || r.Steps != 2 {
			t.Errorf("task %s: deliveries %d attempts %d ttft %v steps %d, want 1, 2, two values, 2",
				id, r.Deliveries, r.Attempts, r.TTFT, r.Steps)
		}
		if r.OutputTokens != 16 || r.PromptTokens < 60 {
			t.Errorf("task %s: tokens prompt %d output %d, want ≥ 60 and 16", id, r.PromptTokens, r.OutputTokens)
		}
		if r.Enqueued.IsZero() || r.Read.Before(r.Enqueued.Add(-time.Millisecond)) || r.Started.Before(r.Read) || r.Finished.Before(r.Started) {
			t.Errorf("task %s: times out of order: enqueued %v read %v started %v finished %v",
				id, r.Enqueued, r.Read, r.Started, r.Finished)
		}
	}
	if perConsumer["w1"] == 0 || perConsumer["w2"] == 0 {
		t.Errorf("tasks per consumer %v: want both workers to take part", perConsumer)
	}
	if p, _ := e.q.Pending(context.Background()); len(p) != 0 {
		t.Errorf("pending after drain: %v", p)
	}
}

// COUNT = free slots: a worker with concurrency 3 never holds more than 3
// pending entries, while a second worker takes the rest of the burst (KEDA
// fact #5). It holds for the default (free slots) and for READ_COUNT=1.
func TestReadNeverExceedsFreeSlots(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		readCount int
	}{
		{"free slots", 0},
		{"read count 1", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			endpoint, _ := fake(t, slow(20*time.Millisecond))
			e := newEnv(t, endpoint)
			small := e.config("small", 3)
			small.ReadCount = tc.readCount
			startWorker(t, small)
			startWorker(t, e.config("big", 12))

			ids := e.enqueue(45, 1, 10, 10) // ≈ 200 ms per task
			var maxSmall, maxBig, samples int
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
					s, err := e.q.Sample(context.Background())
					if err != nil {
						continue
					}
					samples++
					maxSmall = max(maxSmall, int(s.PendingByConsumer["small"]))
					maxBig = max(maxBig, int(s.PendingByConsumer["big"]))
				}
			}()
			rs := e.waitDrained(ids, 30*time.Second)
			close(stop)
			wg.Wait()

			if maxSmall > 3 {
				t.Errorf("worker with 3 slots held %d pending entries at once, want ≤ 3", maxSmall)
			}
			if maxSmall < 1 || maxBig <= 3 {
				t.Errorf("max pending small %d big %d over %d samples: want the small worker busy and the big one holding more than 3",
					maxSmall, maxBig, samples)
			}
			n := map[string]int{}
			for _, r := range rs {
				n[r.Consumer]++
			}
			if n["small"]+n["big"] != 45 || n["big"] <= n["small"] {
				t.Errorf("tasks per worker %v: want 45 in all, most on the worker with more slots", n)
			}
		})
	}
}

// With 20 % of inference calls failing (429, 500, 503, hangs, cut streams),
// every task ends completed or dead-lettered and none is stuck pending.
func TestInjectedFaultsEndCompletedOrDeadLettered(t *testing.T) {
	t.Parallel()
	endpoint, _ := fake(t, func(c *fakeinference.Config) {
		c.Fault429Rate = 0.05
		c.Fault500Rate = 0.05
		c.Fault503Rate = 0.04
		c.FaultHangRate = 0.02
		c.FaultStreamCutRate = 0.04
		c.InterTokenLatency = time.Millisecond
	})
	e := newEnv(t, endpoint)
	for _, name := range []string{"f1", "f2"} {
		c := e.config(name, 6)
		c.MaxRetries = 1 // so that some deliveries run out of retries
		c.MaxDeliveries = 2
		c.CallTimeout = 300 * time.Millisecond
		startWorker(t, c)
	}
	ids := e.enqueue(80, 3, 10, 6)
	rs := e.waitDrained(ids, 40*time.Second)

	status := map[queue.Status]int{}
	attempts, steps, redelivered := 0, 0, 0
	for id, rr := range byTask(rs) {
		final := rr[len(rr)-1]
		status[final.Status]++
		switch final.Status {
		case queue.StatusCompleted:
			attempts += final.Attempts
			steps += final.Steps
		case queue.StatusDeadLettered:
			if final.Deliveries < 2 {
				t.Errorf("task %s dead-lettered after %d deliveries, want 2", id, final.Deliveries)
			}
		default:
			t.Errorf("task %s ended %s (%s), want completed or dead_lettered", id, final.Status, final.Error)
		}
		if final.Deliveries > 1 {
			redelivered++
		}
	}
	t.Logf("outcomes %v; %d tasks redelivered; %d attempts for %d steps of completed tasks; %d results for %d tasks",
		status, redelivered, attempts, steps, len(rs), len(ids))
	if attempts <= steps {
		t.Errorf("completed tasks made %d attempts for %d steps: want retries to show in the attempt counts", attempts, steps)
	}
	if status[queue.StatusCompleted] == 0 {
		t.Errorf("no task completed")
	}
	s := e.sample()
	if int(s.DeadLetters) != status[queue.StatusDeadLettered] {
		t.Errorf("dead-letter stream has %d entries, results say %d dead-lettered", s.DeadLetters, status[queue.StatusDeadLettered])
	}
}

// The endpoint refusing the request (404: unknown model) is not retried: the
// task is recorded as failed and acked at once.
func TestNonRetryableErrorRecordsFailed(t *testing.T) {
	t.Parallel()
	endpoint, _ := fake(t, nil)
	e := newEnv(t, endpoint)
	c := e.config("w", 2)
	c.Model = "no-such-model"
	startWorker(t, c)
	ids := e.enqueue(4, 3, 10, 4)
	rs := e.waitDrained(ids, 10*time.Second)
	for _, r := range rs {
		if r.Status != queue.StatusFailed || r.Attempts != 1 || r.Deliveries != 1 || !strings.Contains(r.Error, "404") {
			t.Errorf("task %s: status %s attempts %d deliveries %d error %q, want failed after 1 attempt with the 404 in the error",
				r.TaskID, r.Status, r.Attempts, r.Deliveries, r.Error)
		}
	}
}

// A poison entry (fields no worker can decode) is never acked as a task; it
// is redelivered by reclaim and dead-lettered on exactly the MAX_DELIVERIES-th
// delivery.
func TestPoisonEntryDeadLetteredAfterMaxDeliveries(t *testing.T) {
	t.Parallel()
	endpoint, _ := fake(t, nil)
	e := newEnv(t, endpoint)
	for _, name := range []string{"p1", "p2"} {
		c := e.config(name, 2)
		c.MaxDeliveries = 3
		startWorker(t, c)
	}
	poison, err := e.q.AddRaw(context.Background(), "garbage", "\x00\x01", "steps", "many")
	if err != nil {
		t.Fatal(err)
	}
	ids := e.enqueue(3, 1, 5, 2)
	waitFor(t, 15*time.Second, func() bool { return e.sample().DeadLetters >= 1 },
		func() string { return "poison entry never dead-lettered" })
	e.waitDrained(ids, 10*time.Second)
	time.Sleep(300 * time.Millisecond) // a second dead-lettering would show now

	dead, err := e.q.ReadAll(context.Background(), queue.KeysFor(e.prefix).DeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 {
		t.Fatalf("dead-letter stream has %d entries, want 1: %v", len(dead), dead)
	}
	d := dead[0].Values
	if d["entry_id"] != poison || d["deliveries"] != "3" || d["orig_garbage"] != "\x00\x01" {
		t.Errorf("dead-letter entry %v: want entry_id %s, deliveries 3 and the original fields", d, poison)
	}
	var dl []queue.Result
	for _, r := range e.results() {
		if r.Status == queue.StatusDeadLettered {
			dl = append(dl, r)
		}
	}
	if len(dl) != 1 || dl[0].EntryID != poison || dl[0].Deliveries != 3 || !strings.Contains(dl[0].Error, "undecodable") {
		t.Errorf("dead_lettered results %+v: want one for %s after 3 deliveries, saying undecodable", dl, poison)
	}
	if p, _ := e.q.Pending(context.Background()); len(p) != 0 {
		t.Errorf("pending after dead-lettering: %v", p)
	}
}

// A task longer than RECLAIM_MIN_IDLE is not taken over by another worker:
// the heartbeat keeps its entry's idle time low, so it runs exactly once.
func TestLongTaskIsNotReclaimed(t *testing.T) {
	t.Parallel()
	endpoint, _ := fake(t, slow(100*time.Millisecond))
	e := newEnv(t, endpoint)
	startWorker(t, e.config("long", 1))
	ids := e.enqueue(1, 1, 5, 20) // ≈ 2 s, four times RECLAIM_MIN_IDLE
	waitFor(t, 5*time.Second, func() bool { return e.sample().PendingByConsumer["long"] == 1 },
		func() string { return "task never started" })
	startWorker(t, e.config("thief", 2))
	rs := e.waitDrained(ids, 15*time.Second)
	if len(rs) != 1 || rs[0].Consumer != "long" || rs[0].Deliveries != 1 || rs[0].Status != queue.StatusCompleted {
		t.Fatalf("results %+v: want one completed result by long after 1 delivery", rs)
	}
	if d := rs[0].Finished.Sub(rs[0].Started); d < 4*500*time.Millisecond/2 {
		t.Errorf("task took %s: too short to prove the point (want ≥ 1s)", d)
	}
}

// /readyz answers 503 during STARTUP_DELAY and 200 after it; /healthz is 200
// throughout; /metrics shows the task counters.
func TestReadinessAndMetrics(t *testing.T) {
	t.Parallel()
	endpoint, _ := fake(t, nil)
	e := newEnv(t, endpoint)
	c := e.config("ready", 2)
	c.HTTPAddr = "127.0.0.1:0"
	c.StartupDelay = 800 * time.Millisecond
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, c, slog.New(slog.NewJSONHandler(logs, nil))) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	addrRE := regexp.MustCompile(`"msg":"http server listening".*"addr":"([^"]+)"`)
	var base string
	waitFor(t, 5*time.Second, func() bool {
		m := addrRE.FindStringSubmatch(logs.String())
		if m != nil {
			base = "http://" + m[1]
		}
		return m != nil
	}, func() string { return "no listening line in log:\n" + logs.String() })

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during startup delay: %d, want 503", code)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz during startup delay: %d, want 200", code)
	}
	waitFor(t, 5*time.Second, func() bool { code, _ := get("/readyz"); return code == http.StatusOK },
		func() string { return "/readyz never turned 200" })
	ids := e.enqueue(3, 2, 5, 3)
	e.waitDrained(ids, 10*time.Second)
	_, body := get("/metrics")
	for _, want := range []string{
		`burst_worker_tasks_total{status="completed"} 3`,
		`burst_worker_entries_received_total{source="read"} 3`,
		`burst_worker_inference_call_duration_seconds_count{outcome="ok"} 6`,
		`burst_worker_tasks_in_flight 0`,
		`burst_worker_slots 2`,
		`burst_worker_ready 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}

// Run refuses an invalid configuration with a *ConfigError naming the field.
func TestRunRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	c := worker.Defaults()
	c.Consumer = "x"
	err := worker.Run(context.Background(), c, nil)
	var ce *worker.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "INFERENCE_ENDPOINT") {
		t.Fatalf("Run with no endpoint: %v (%T), want a *ConfigError naming INFERENCE_ENDPOINT", err, err)
	}
}

// Run fails fast, naming the address, when Redis is unreachable.
func TestRunUnreachableRedis(t *testing.T) {
	t.Parallel()
	c := worker.Defaults()
	c.Consumer = "x"
	c.Endpoint = "http://127.0.0.1:9/v1"
	c.RedisAddr = "127.0.0.1:1"
	c.HTTPAddr = "off"
	start := time.Now()
	err := worker.Run(context.Background(), c, nil)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("Run against a closed port: %v, want an error naming 127.0.0.1:1", err)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("Run took %s to fail, want ≤ 6s", d)
	}
}

// A task whose inference keeps failing with retryable errors is not acked when
// its retries run out: it stays pending, is reclaimed (delivery 2), and on the
// MAX_DELIVERIES-th delivery goes to the dead-letter stream.
func TestRetriesExhaustedIsRedeliveredThenDeadLettered(t *testing.T) {
	t.Parallel()
	endpoint, _ := fake(t, func(c *fakeinference.Config) { c.Fault503Rate = 1 })
	e := newEnv(t, endpoint)
	c := e.config("w", 2)
	c.MaxRetries = 2
	c.MaxDeliveries = 2
	startWorker(t, c)
	ids := e.enqueue(1, 2, 5, 2)

	// First delivery: 3 attempts, then the entry stays pending, unacked.
	waitFor(t, 5*time.Second, func() bool {
		ps, _ := e.q.Pending(context.Background())
		return len(ps) == 1 && ps[0].Idle > 100*time.Millisecond
	}, func() string { return "entry not left pending after its retries ran out" })
	if n := len(e.results()); n != 0 {
		t.Fatalf("%d results after the first delivery failed, want 0 (not acked, no record)", n)
	}
	rs := e.waitDrained(ids, 10*time.Second)
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1", len(rs))
	}
	r := rs[0]
	if r.Status != queue.StatusDeadLettered || r.Deliveries != 2 || r.Attempts != 3 || !strings.Contains(r.Error, "503") {
		t.Errorf("result %+v: want dead_lettered on delivery 2 after 3 attempts, the 503 in the error", r)
	}
	if s := e.sample(); s.DeadLetters != 1 {
		t.Errorf("dead-letter stream has %d entries, want 1", s.DeadLetters)
	}
}

// When SHUTDOWN_GRACE expires before an in-flight task finishes, Run still
// returns nil, the task stays pending (its consumer is kept in the group),
// and another worker reclaims and completes it.
func TestGraceExpiryLeavesTasksPending(t *testing.T) {
	t.Parallel()
	endpoint, _ := fake(t, slow(50*time.Millisecond))
	e := newEnv(t, endpoint)
	c := e.config("short", 1)
	c.ShutdownGrace = 200 * time.Millisecond
	stop := startWorker(t, c)
	ids := e.enqueue(1, 1, 5, 30) // ≈ 1.5 s
	waitFor(t, 5*time.Second, func() bool { return e.sample().PendingByConsumer["short"] == 1 },
		func() string { return "task never started" })
	start := time.Now()
	stop() // fails the test if Run returns an error
	if d := time.Since(start); d > time.Second {
		t.Errorf("stop took %s with a 200ms grace", d)
	}
	if s := e.sample(); s.PendingByConsumer["short"] != 1 || s.Results != 0 {
		t.Fatalf("after grace expiry: pending %v results %d, want the task pending for short and no result", s.PendingByConsumer, s.Results)
	}
	startWorker(t, e.config("rescuer", 1))
	rs := e.waitDrained(ids, 10*time.Second)
	if len(rs) != 1 || rs[0].Consumer != "rescuer" || rs[0].Deliveries != 2 || rs[0].Status != queue.StatusCompleted {
		t.Errorf("results %+v: want one completed by rescuer on delivery 2", rs)
	}
}
