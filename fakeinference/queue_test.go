package fakeinference_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/burstbench/burst/fakeinference"
	"github.com/openai/openai-go/v3"
)

func TestQueueBeyondMaxNumSeqsAndFullQueue429(t *testing.T) {
	// Not parallel: timing is checked, so it runs before the parallel tests.
	const (
		itl    = 20 * time.Millisecond
		tokens = 11 // one request runs 200 ms
		run    = (tokens - 1) * itl
	)
	_, ts, client := start(t, instant(t, func(c *fakeinference.Config) {
		c.InterTokenLatency, c.MaxNumSeqs, c.MaxWaitingQueueLength = itl, 2, 2
		c.RetryAfter = 3 * time.Second
	}))
	type result struct {
		took time.Duration
		err  error
	}
	results := make(chan result, 4)
	send := func() {
		begin := time.Now()
		_, err := client.Chat.Completions.New(context.Background(), chatParams(tokens, "work"))
		results <- result{time.Since(begin), err}
	}
	gauge := func(name string) func() bool {
		return func() bool { return metric(t, ts.URL, name+`{model_name="burst-fake-model"}`) == 2 }
	}
	go send()
	go send()
	waitFor(t, 5*time.Second, "2 running", gauge("vllm:num_requests_running"))
	go send()
	go send()
	waitFor(t, 5*time.Second, "2 waiting", gauge("vllm:num_requests_waiting"))

	// Both slots and the whole queue are taken: the fifth gets 429 at once.
	begin := time.Now()
	_, err := client.Chat.Completions.New(context.Background(), chatParams(tokens, "one too many"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fifth request: err %v, want 429", err)
	}
	if got := apiErr.Response.Header.Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After = %q, want \"3\"", got)
	}
	if took := time.Since(begin); took > run/2 {
		t.Errorf("the 429 took %v; want it at once, not after waiting", took)
	}

	var slow int
	for range 4 {
		r := <-results
		if r.err != nil {
			t.Fatalf("queued request failed: %v", r.err)
		}
		if r.took >= run*3/2 {
			slow++
		}
	}
	if slow != 2 {
		t.Errorf("%d requests took ≥ 1.5 run times (%v); want the 2 queued ones", slow, run*3/2)
	}
	// The queue time of the two that waited is in the metrics.
	if n := metric(t, ts.URL, `vllm:request_queue_time_seconds_count{`); n != 4 {
		t.Errorf("queue time observations = %v, want 4", n)
	}
	if sum := metric(t, ts.URL, `vllm:request_queue_time_seconds_sum{`); sum < run.Seconds() || sum > 2*run.Seconds()+0.05 {
		t.Errorf("queue time sum = %.3fs, want 2 waits of a little under %v each", sum, run)
	}
	if n := metric(t, ts.URL, `http_requests_total{handler="/v1/chat/completions",method="POST",status="429"}`); n != 1 {
		t.Errorf("429 count = %v, want 1", n)
	}
}

func TestMaxNumSeqsRaisedAtRuntimeAdmitsWaiters(t *testing.T) {
	// Not parallel: timing is checked, so it runs before the parallel tests.
	s, ts, client := start(t, instant(t, func(c *fakeinference.Config) {
		c.InterTokenLatency, c.MaxNumSeqs = 100*time.Millisecond, 1
	}))
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := client.Chat.Completions.New(context.Background(), chatParams(3, "x"))
			errs <- err
		}()
	}
	waitFor(t, 5*time.Second, "1 waiting", func() bool {
		return metric(t, ts.URL, `vllm:num_requests_waiting{`) == 1
	})
	cfg := s.Config()
	cfg.MaxNumSeqs = 4
	if err := s.SetConfig(cfg); err != nil {
		t.Fatalf("SetConfig: %v", err)
	}
	waitFor(t, time.Second, "both running", func() bool {
		return metric(t, ts.URL, `vllm:num_requests_running{`) == 2
	})
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("request: %v", err)
		}
	}
}
