package loadgen_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/burstbench/burst/internal/loadgen"
	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/internal/redistest"
	"github.com/burstbench/burst/loadprofiles"
)

func client(t testing.TB, addr string) *queue.Client {
	t.Helper()
	q, err := queue.Dial(context.Background(), queue.Options{Addr: addr, Keys: queue.KeysFor(redistest.Prefix(t))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if err := q.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	return q
}

func arrivals(n int, every time.Duration) []loadprofiles.Arrival {
	a := make([]loadprofiles.Arrival, n)
	for i := range a {
		a[i] = loadprofiles.Arrival{Offset: time.Duration(i) * every, Steps: 1, PromptTokens: 500, OutputTokens: 100}
	}
	return a
}

func TestBurstIsOnePipelineAndAccounted(t *testing.T) {
	q := client(t, redistest.Start(t).Addr)
	rep, err := loadgen.Run(context.Background(), loadgen.Options{Run: "r", Arrivals: arrivals(50, 0), Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Intended != 50 || rep.Sent != 50 || rep.Dropped != 0 {
		t.Fatalf("report = %d intended %d sent %d dropped", rep.Intended, rep.Sent, rep.Dropped)
	}
	// One pipeline: every task carries the same send time.
	for _, s := range rep.Sends {
		if !s.Sent.Equal(rep.Sends[0].Sent) || s.EntryID == "" {
			t.Fatalf("task %s sent at %v (first at %v), entry %q: the burst was not one pipeline", s.TaskID, s.Sent, rep.Sends[0].Sent, s.EntryID)
		}
	}
	st, err := q.Sample(context.Background())
	if err != nil || st.Length != 50 || st.Lag != 50 {
		t.Fatalf("stream after burst: %+v %v", st, err)
	}
	ids := rep.EntryIDs()
	if len(ids) != 50 || ids[queue.TaskID("r", 49)] == "" {
		t.Errorf("EntryIDs = %d entries", len(ids))
	}
}

func TestScheduleIsKept(t *testing.T) {
	q := client(t, redistest.Start(t).Addr)
	// 20 tasks, one every 10 ms: the last goes out ≈190 ms after the first.
	rep, err := loadgen.Run(context.Background(), loadgen.Options{Run: "r", Arrivals: arrivals(20, 10*time.Millisecond), Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	span := rep.Sends[19].Sent.Sub(rep.Sends[0].Sent)
	if span < 185*time.Millisecond || span > 400*time.Millisecond {
		t.Errorf("20 tasks 10ms apart spanned %v, want ≈190ms", span)
	}
	for _, s := range rep.Sends {
		if s.Sent.Before(s.Intended) {
			t.Errorf("task %s sent %v before its intended time", s.TaskID, s.Intended.Sub(s.Sent))
		}
	}
}

func TestCancelDropsTheRest(t *testing.T) {
	q := client(t, redistest.Start(t).Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	rep, err := loadgen.Run(ctx, loadgen.Options{Run: "r", Arrivals: arrivals(100, 10*time.Millisecond), Queue: q})
	if err == nil {
		t.Fatal("cancelled run returned no error")
	}
	if rep.Sent+rep.Dropped != 100 || rep.Sent == 0 || rep.Dropped == 0 {
		t.Fatalf("sent %d + dropped %d, want 100 with both > 0", rep.Sent, rep.Dropped)
	}
	st, _ := q.Sample(context.Background())
	if st.Length != int64(rep.Sent) {
		t.Errorf("stream holds %d entries, report says %d sent", st.Length, rep.Sent)
	}
	for _, s := range rep.Sends[rep.Sent:] {
		if s.Dropped != "cancelled" {
			t.Errorf("task %s: dropped %q, want cancelled", s.TaskID, s.Dropped)
		}
	}
}

func TestUnsortedRejected(t *testing.T) {
	q := client(t, redistest.Start(t).Addr)
	a := arrivals(2, time.Millisecond)
	a[0], a[1] = a[1], a[0]
	if _, err := loadgen.Run(context.Background(), loadgen.Options{Arrivals: a, Queue: q}); err == nil {
		t.Error("unsorted arrivals accepted")
	}
}

// BenchmarkEnqueueBurst100k fires a 100,000-task burst (all due at once) and
// reports the enqueue rate next to redis-benchmark's XADD rate for a
// comparable payload and pipelining on the same server.
func BenchmarkEnqueueBurst100k(b *testing.B) {
	if os.Getenv("GOGC") == "" { // as burst runs (internal/cli.Main)
		defer debug.SetGCPercent(debug.SetGCPercent(loadgen.GCPercent))
	}
	srv := redistest.Start(b)
	const n = 100_000
	var spent time.Duration
	for range b.N {
		q := client(b, srv.Addr) // a fresh, empty stream each time (not timed)
		start := time.Now()
		rep, err := loadgen.Run(context.Background(), loadgen.Options{Run: "bench", Arrivals: arrivals(n, 0), Queue: q})
		spent += time.Since(start)
		if err != nil || rep.Sent != n {
			b.Fatalf("sent %d: %v", rep.Sent, err)
		}
	}
	rate := float64(n*b.N) / spent.Seconds()
	b.ReportMetric(rate, "tasks/s")
	if ref := redisBenchmarkXADD(b, srv.Addr, n); ref > 0 {
		b.ReportMetric(ref, "redis-benchmark-xadd/s")
		b.ReportMetric(rate/ref, "ratio")
	}
}

// redisBenchmarkXADD runs redis-benchmark with an XADD of the same fields a
// task carries, 4 connections pipelining 1000 commands (as the generator).
func redisBenchmarkXADD(b *testing.B, addr string, n int) float64 {
	bin, err := exec.LookPath("redis-benchmark")
	if err != nil {
		b.Logf("redis-benchmark not found (apt-get install redis-tools): no reference rate")
		return 0
	}
	host, port, _ := strings.Cut(addr, ":")
	args := []string{"-h", host, "-p", port, "-n", strconv.Itoa(n), "-c", "4", "-P", "1000", "-q",
		"XADD", "rb:tasks", "*", "task_id", "bench-000001", "run", "bench", "seq", "1", "steps", "1",
		"prompt_tokens", "500", "output_tokens", "100", "priority", "0",
		"intended_ns", "1796406862721000000", "sent_ns", "1796406862721000000"}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		b.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`([0-9.]+) requests per second`).FindStringSubmatch(string(out))
	if m == nil {
		b.Fatalf("redis-benchmark output not understood:\n%s", out)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// BenchmarkSendTimeError5k sends 5,000 tasks/s for 2 s and reports the
// generator's send-time error (actual − intended) at p50 and p99.
func BenchmarkSendTimeError5k(b *testing.B) {
	srv := redistest.Start(b)
	var rep *loadgen.Report
	for range b.N {
		q := client(b, srv.Addr)
		var err error
		rep, err = loadgen.Run(context.Background(), loadgen.Options{Run: "bench", Arrivals: arrivals(10_000, 200*time.Microsecond), Queue: q})
		if err != nil {
			b.Fatal(err)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(rep.SendLagPercentile(0.5)), "p50-ms")
	b.ReportMetric(ms(rep.SendLagPercentile(0.99)), "p99-ms")
	b.ReportMetric(ms(rep.MaxSendLag), "max-ms")
	b.ReportMetric(float64(rep.Late), "late")
	fmt.Fprintf(os.Stderr, "send-time error at 5000 tasks/s: p50 %v p99 %v max %v, %d late (>5ms) of %d\n",
		rep.SendLagPercentile(0.5), rep.SendLagPercentile(0.99), rep.MaxSendLag, rep.Late, rep.Sent)
}
