package fakeinference_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/burstbench/burst/fakeinference"
	"github.com/openai/openai-go/v3"
)

// outcome classifies one streaming call as the client sees it.
func outcome(ctx context.Context, client openai.Client, hangTimeout time.Duration) string {
	ctx, cancel := context.WithTimeout(ctx, hangTimeout)
	defer cancel()
	st := streamChat(ctx, client, chatParams(4, "fault?"))
	var apiErr *openai.Error
	switch {
	case st.streamErr == nil && st.tokens == 4:
		return "ok"
	case errors.As(st.streamErr, &apiErr):
		return strconv.Itoa(apiErr.StatusCode)
	case errors.Is(st.streamErr, context.DeadlineExceeded) && st.tokens == 0:
		return "hang"
	case st.streamErr != nil:
		return "cut"
	default:
		return fmt.Sprintf("stream ended after %d tokens without an error", st.tokens)
	}
}

func faultConfig(t *testing.T, seed int64) fakeinference.Config {
	return instant(t, func(c *fakeinference.Config) {
		c.Seed = seed
		c.Fault429Rate, c.Fault500Rate, c.Fault503Rate = 0.10, 0.05, 0.05
		c.FaultHangRate, c.FaultStreamCutRate = 0.03, 0.10
	})
}

func TestFaultRatesWithinStatisticalBounds(t *testing.T) {
	t.Parallel()
	const n = 1000
	cfg := faultConfig(t, 7)
	_, ts, client := start(t, cfg)
	counts := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 64 { // hangs hold a worker for the whole timeout
		wg.Go(func() {
			for range jobs {
				o := outcome(context.Background(), client, time.Second)
				mu.Lock()
				counts[o]++
				mu.Unlock()
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	rates := map[string]float64{
		"429": cfg.Fault429Rate, "500": cfg.Fault500Rate, "503": cfg.Fault503Rate,
		"hang": cfg.FaultHangRate, "cut": cfg.FaultStreamCutRate,
	}
	rates["ok"] = 1 - (cfg.Fault429Rate + cfg.Fault500Rate + cfg.Fault503Rate + cfg.FaultHangRate + cfg.FaultStreamCutRate)
	total := 0
	for k, got := range counts {
		p, ok := rates[k]
		if !ok {
			t.Errorf("%d requests had an unexpected outcome: %s", got, k)
			continue
		}
		total += got
		mean, sd := n*p, math.Sqrt(n*p*(1-p))
		if math.Abs(float64(got)-mean) > 4*sd {
			t.Errorf("%s: %d of %d, want %.0f ± %.0f (4σ, rate %v)", k, got, n, mean, 4*sd, p)
		}
	}
	if total != n {
		t.Errorf("classified %d outcomes, want %d", total, n)
	}
	// The server's own count of injected faults agrees with the client.
	for kind, key := range map[string]string{"429": "429", "500": "500", "503": "503", "hang": "hang", "stream_cut": "cut"} {
		if got := metric(t, ts.URL, `fakeinference_faults_injected_total{kind="`+kind+`"`); int(got) != counts[key] {
			t.Errorf("fakeinference_faults_injected_total{kind=%q} = %v, client saw %d", kind, got, counts[key])
		}
	}
}

func TestFaultsAreDeterministicWithASeed(t *testing.T) {
	t.Parallel()
	sequence := func(seed int64) []string {
		cfg := faultConfig(t, seed)
		// No hangs: telling a hang from a slow answer needs a client timeout,
		// and on a loaded machine a short one misreads slow answers.
		cfg.FaultHangRate = 0
		_, _, client := start(t, cfg)
		var out []string
		for range 150 {
			out = append(out, outcome(context.Background(), client, 30*time.Second))
		}
		return out
	}
	a, b, c := sequence(42), sequence(42), sequence(43)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("seeds 42 and 43 gave the same 150 outcomes; the seed is not used")
	}
}

func TestHangEndsWhenServerCloses(t *testing.T) {
	t.Parallel()
	s, _, client := start(t, instant(t, func(c *fakeinference.Config) { c.FaultHangRate = 1 }))
	done := make(chan streamTiming, 1)
	go func() { done <- streamChat(context.Background(), client, chatParams(3, "hang")) }()
	select {
	case st := <-done:
		t.Fatalf("hung request returned before Close: %+v", st)
	case <-time.After(100 * time.Millisecond):
	}
	s.Close()
	select {
	case st := <-done:
		if st.streamErr == nil {
			t.Errorf("hung request ended without an error after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("hung request still running 5s after Close")
	}
}

func TestStreamCutMidway(t *testing.T) {
	t.Parallel()
	for _, mode := range streamModes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			_, _, client := startMode(t, instant(t, func(c *fakeinference.Config) { c.FaultStreamCutRate = 1 }), mode)
			checkStreamCut(t, client)
		})
	}
}

func checkStreamCut(t *testing.T, client openai.Client) {
	t.Helper()
	sawTokens := false
	for range 20 {
		st := streamChat(context.Background(), client, chatParams(10, "cut"))
		if st.streamErr == nil {
			t.Fatalf("cut stream ended without an error after %d tokens", st.tokens)
		}
		if st.tokens >= 10 || st.sawUsage {
			t.Fatalf("cut stream delivered %d tokens (usage %v), want fewer than 10 and no usage", st.tokens, st.sawUsage)
		}
		sawTokens = sawTokens || st.tokens > 0
	}
	if !sawTokens {
		t.Errorf("no cut stream delivered a token before the cut; want cuts mid-way")
	}
	// Non-streaming: the connection drops without an answer.
	if _, err := client.Chat.Completions.New(context.Background(), chatParams(10, "cut")); err == nil {
		t.Errorf("non-streaming request with a cut fault succeeded")
	}
}
