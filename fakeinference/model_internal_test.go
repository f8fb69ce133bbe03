package fakeinference

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestLoadFactor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name             string
		f                float64
		running, maxSeqs int
		want             float64
	}{
		{"no slow-down configured", 1, 100, 256, 1},
		{"one running", 2, 1, 256, 1},
		{"all running", 2, 256, 256, 2},
		{"half way", 3, 129, 257, 2},
		{"single slot", 5, 1, 1, 1},
		{"more running than slots is capped", 2, 300, 256, 2},
		{"preset F: half to full ×1.3", 1.86, 256, 256, 1.86},
	}
	for _, tc := range cases {
		if got := loadFactor(tc.f, tc.running, tc.maxSeqs); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: loadFactor(%v, %d, %d) = %v, want %v", tc.name, tc.f, tc.running, tc.maxSeqs, got, tc.want)
		}
	}
	half := loadFactor(1.86, 128, 256)
	if r := loadFactor(1.86, 256, 256) / half; r < 1.28 || r > 1.32 {
		t.Errorf("F=1.86: full/half load = %.3f, want ≈1.3", r)
	}
}

func TestJitterIsSeededClampedAndCentred(t *testing.T) {
	t.Parallel()
	const mean, sd = 20 * time.Millisecond, 4 * time.Millisecond
	r1, r2 := rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(1, 2))
	var sum float64
	const n = 20000
	for i := range n {
		a, b := jitter(r1, mean, sd), jitter(r2, mean, sd)
		if a != b {
			t.Fatalf("draw %d: %v and %v from the same seed", i, a, b)
		}
		if a < mean-2*sd || a > mean+2*sd {
			t.Fatalf("draw %d = %v, outside mean ± 2σ", i, a)
		}
		sum += float64(a)
	}
	if got := time.Duration(sum / n); got < mean-200*time.Microsecond || got > mean+200*time.Microsecond {
		t.Errorf("mean of %d draws = %v, want %v", n, got, mean)
	}
	if got := jitter(r1, mean, 0); got != mean {
		t.Errorf("std-dev 0: %v, want %v", got, mean)
	}
	for range 1000 {
		if got := jitter(r1, time.Millisecond, 10*time.Millisecond); got < 0 {
			t.Fatalf("jitter went negative: %v", got)
		}
	}
}

func TestPickFaultDependsOnSeedAndArrivalOnly(t *testing.T) {
	t.Parallel()
	c := Config{Seed: 9, Fault429Rate: 0.2, FaultStreamCutRate: 0.3}
	d := c
	d.InterTokenLatency, d.MaxNumSeqs = time.Second, 3 // other knobs do not matter
	counts := map[fault]int{}
	for n := range uint64(10000) {
		f := pickFault(&c, n)
		if f != pickFault(&d, n) {
			t.Fatalf("request %d: fault depends on non-fault knobs", n)
		}
		counts[f]++
	}
	if counts[fault429] < 1850 || counts[fault429] > 2150 || counts[faultCut] < 2850 || counts[faultCut] > 3150 || counts[fault500] != 0 {
		t.Errorf("fault counts over 10000 = %v, want ≈2000 429 and ≈3000 cuts", counts)
	}
}

func TestSlotsFIFOAndCancel(t *testing.T) {
	t.Parallel()
	s := newSlots(1, 3)
	done := make(chan struct{})
	if waited, err := s.acquire(context.Background(), done); err != nil || waited {
		t.Fatalf("first acquire: waited %v, err %v", waited, err)
	}
	order := make(chan int, 3)
	ctxs := make([]context.CancelFunc, 3)
	for i := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		ctxs[i] = cancel
		go func() {
			if _, err := s.acquire(ctx, done); err == nil {
				order <- i
				return
			}
			order <- -1 - i
		}()
		for s.waiting.Load() != int64(i+1) {
			time.Sleep(time.Millisecond)
		}
	}
	if _, err := s.acquire(context.Background(), done); !errors.Is(err, errQueueFull) {
		t.Fatalf("acquire on a full queue = %v, want errQueueFull", err)
	}
	ctxs[1]() // the middle waiter gives up
	if got := <-order; got != -2 {
		t.Fatalf("cancelled waiter reported %d, want -2", got)
	}
	s.release()
	if got := <-order; got != 0 {
		t.Fatalf("first admitted = %d, want 0 (FIFO)", got)
	}
	s.release()
	if got := <-order; got != 2 {
		t.Fatalf("second admitted = %d, want 2", got)
	}
	s.release()
	if r, w := s.running.Load(), s.waiting.Load(); r != 0 || w != 0 {
		t.Errorf("running %d, waiting %d after all released; want 0, 0", r, w)
	}
	for _, c := range ctxs {
		c()
	}
}

func TestTokenize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want []string
	}{
		{"hello world", []string{"hello", " world"}},
		{"  a,b!", []string{"  a", ",", "b", "!"}},
		{"extraordinary", []string{"extrao", "rdinar", "y"}},
		{"naïve café", []string{"naïve", " café"}},
		{"trailing  ", []string{"traili", "ng"}},
		{"", nil},
	}
	for _, tc := range cases {
		var got []string
		tokenize(tc.in, func(s string) { got = append(got, s) })
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("tokenize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, w := range vocabulary {
		if n := countTokens(w.text); n != 1 {
			t.Errorf("vocabulary word %q is %d tokens, want 1", w.text, n)
		}
	}
}

func TestClocksWakeAtTheDeadlineAndStopOnClose(t *testing.T) {
	for name, c := range map[string]clock{"newClock": newClock(), "timer": newTimerClock()} {
		t.Run(name, func(t *testing.T) {
			// A later deadline replaced by an earlier one: the earlier counts.
			c.set(time.Now().Add(time.Hour))
			deadline := time.Now().Add(5 * time.Millisecond)
			c.set(deadline)
			if !c.wait() {
				t.Fatal("wait returned false before close")
			}
			if early := time.Until(deadline); early > 0 {
				t.Errorf("woke %v before the deadline", early)
			}
			// A past deadline fires at once rather than disarming the clock.
			c.set(time.Now().Add(-time.Second))
			if !c.wait() {
				t.Fatal("wait returned false for a past deadline")
			}
			done := make(chan bool)
			c.set(time.Now().Add(time.Hour))
			go func() { done <- c.wait() }()
			time.Sleep(10 * time.Millisecond)
			c.close()
			select {
			case ok := <-done:
				if ok {
					t.Error("wait returned true after close")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("wait still blocked 5 s after close")
			}
		})
	}
}

// A stream whose queue nobody writes down parks with a bounded queue instead
// of generating its whole answer into memory.
func TestStalledStreamParksWithABoundedQueue(t *testing.T) {
	cfg := MustPreset(PresetInstant) // every token due at once
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := genPool.Get().(*genState)
	g.pcg.Seed(1, 1)
	st := &pacedStream{
		gen:     generation{s: s, cfg: &cfg, g: g, outLen: 1_000_000, cut: -1},
		metrics: s.metrics, next: time.Now(), ep: chatEndpoint, id: []byte("chatcmpl-test"),
		created: []byte("1"), modelJSON: []byte(`"m"`), finish: "length", wake: make(chan struct{}, 1),
	}
	st.prepareChunks()
	horizon := time.Now().Add(time.Hour)
	for emits := 1; st.emit(horizon); emits++ {
		if emits > 100 {
			t.Fatalf("still emitting after %d wake-ups with %d bytes queued", emits, len(st.pending))
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.parked || st.state != streamRunning {
		t.Fatalf("parked %v, state %v; want a parked, running stream", st.parked, st.state)
	}
	if n := len(st.pending); n < maxPending || n >= maxPending+maxBatch+1024 {
		t.Errorf("%d bytes queued when parked, want [%d, %d)", n, maxPending, maxPending+maxBatch+1024)
	}
	if st.i >= 1_000_000 || len(st.pendingDue) != st.i {
		t.Errorf("%d tokens emitted, %d queued; want them equal and far fewer than 1,000,000", st.i, len(st.pendingDue))
	}
}
