package fakeinference_test

import (
	"context"
	"testing"
	"time"

	"github.com/burstbench/burst/fakeinference"
)

// A client that leaves mid-stream frees its slot, and the server goes on.
func TestClientLeavingMidStreamFreesItsSlot(t *testing.T) {
	t.Parallel()
	for _, mode := range streamModes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			_, ts, client := startMode(t, instant(t, func(c *fakeinference.Config) {
				c.InterTokenLatency = 5 * time.Millisecond
				c.MaxNumSeqs = 1
			}), mode)
			ctx, cancel := context.WithCancel(context.Background())
			p := chatParams(1000, "leave")
			stream := client.Chat.Completions.NewStreaming(ctx, p)
			seen := 0
			for stream.Next() {
				if seen++; seen == 3 {
					cancel()
					break
				}
			}
			stream.Close()
			cancel()
			running := `vllm:num_requests_running{model_name="burst-fake-model"}`
			waitFor(t, 2*time.Second, "the slot to be freed", func() bool { return metric(t, ts.URL, running) == 0 })
			st := streamChat(context.Background(), client, chatParams(5, "next"))
			if st.streamErr != nil || st.tokens != 5 {
				t.Errorf("next stream: %d tokens, error %v; want 5 tokens", st.tokens, st.streamErr)
			}
		})
	}
}

// Close ends running streams: their connections drop at once.
func TestCloseEndsRunningStreams(t *testing.T) {
	t.Parallel()
	for _, mode := range streamModes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			s, _, client := startMode(t, instant(t, func(c *fakeinference.Config) { c.InterTokenLatency = 10 * time.Millisecond }), mode)
			done := make(chan streamTiming, 1)
			go func() { done <- streamChat(context.Background(), client, chatParams(1000, "long")) }()
			time.Sleep(100 * time.Millisecond)
			s.Close()
			select {
			case st := <-done:
				if st.streamErr == nil || st.tokens >= 1000 {
					t.Errorf("stream after Close: %d tokens, error %v; want it cut with an error", st.tokens, st.streamErr)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("stream still running 2 s after Close")
			}
		})
	}
}
