package observe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/internal/redistest"
)

func TestRedisSamplerRecordsAndAlarmsOnNullLag(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	q, err := queue.Dial(ctx, queue.Options{Addr: srv.Addr, Keys: queue.KeysFor(redistest.Prefix(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	tl := &Timeline{}
	s := &RedisSampler{Queue: q, Interval: 20 * time.Millisecond, Timeline: tl}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = s.Run(sctx); close(done) }()

	ids, err := q.Enqueue(ctx, []queue.Task{{ID: "a", Run: "r", Steps: 1}, {ID: "b", Run: "r", Steps: 1}, {ID: "c", Run: "r", Steps: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Read(ctx, "w1", 1, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	// Deleting an undelivered entry makes the group's lag null.
	if err := q.Delete(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	stop()
	<-done

	var sawBacklog, alarms int
	var nullSamples int
	for _, e := range tl.Events() {
		switch {
		case e.Source == "redis" && e.Kind == "sample" && e.Values["length"] == 3 && e.Values["lag"] == 2 && e.Values["pending"] == 1:
			if !strings.Contains(e.Message, "w1=1") {
				t.Errorf("sample message %q lacks the per-consumer pending count", e.Message)
			}
			sawBacklog++
		case e.Source == "redis" && e.Kind == "sample" && e.Values["length"] == 2:
			if _, ok := e.Values["lag"]; ok {
				t.Errorf("sample after XDEL has lag %v, want none (null)", e.Values["lag"])
			}
			nullSamples++
		case e.Kind == "lag-null":
			alarms++
			if !strings.HasPrefix(e.Message, "ALARM") {
				t.Errorf("alarm message = %q", e.Message)
			}
		}
	}
	if sawBacklog == 0 || nullSamples == 0 {
		t.Fatalf("samples: %d with the backlog, %d with a null lag; want both", sawBacklog, nullSamples)
	}
	if alarms != 1 {
		t.Errorf("lag-null alarms = %d, want exactly 1 (one per transition)", alarms)
	}
	if st, ok := tl.LastRedis(); !ok || !st.LagNull() {
		t.Errorf("LastRedis = %+v, %v; want the null-lag sample", st, ok)
	}
}
