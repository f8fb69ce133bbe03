package fakeinference_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/burstbench/burst/fakeinference"
	"github.com/openai/openai-go/v3"
)

func TestChatCompletionNonStreaming(t *testing.T) {
	t.Parallel()
	_, _, client := start(t, instant(t, func(c *fakeinference.Config) { c.DefaultMaxTokens = 9 }))
	cases := []struct {
		name   string
		params func() openai.ChatCompletionNewParams
		want   int64
	}{
		{"max_tokens", func() openai.ChatCompletionNewParams { return chatParams(7, "hello there") }, 7},
		{"max_completion_tokens wins", func() openai.ChatCompletionNewParams {
			p := chatParams(7, "hello there")
			p.MaxCompletionTokens = openai.Int(3)
			return p
		}, 3},
		{"default-max-tokens when unset", func() openai.ChatCompletionNewParams { return chatParams(0, "hello") }, 9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Chat.Completions.New(context.Background(), tc.params())
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if resp.Object != "chat.completion" || resp.Model != testModel || !strings.HasPrefix(resp.ID, "chatcmpl-") {
				t.Errorf("object, model, id = %q, %q, %q; want chat.completion, %q, chatcmpl-…", resp.Object, resp.Model, resp.ID, testModel)
			}
			if len(resp.Choices) != 1 {
				t.Fatalf("choices = %d, want 1", len(resp.Choices))
			}
			ch := resp.Choices[0]
			if ch.FinishReason != "length" || ch.Message.Role != "assistant" {
				t.Errorf("finish_reason, role = %q, %q; want length, assistant", ch.FinishReason, ch.Message.Role)
			}
			if got := int64(len(strings.Fields(ch.Message.Content))); got != tc.want {
				t.Errorf("content %q has %d words, want %d", ch.Message.Content, got, tc.want)
			}
			u := resp.Usage
			if u.CompletionTokens != tc.want || u.PromptTokens < 1 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Errorf("usage = %+v; want completion %d and total = prompt + completion", u, tc.want)
			}
		})
	}
}

func TestChatStreamingMatchesLatencyModel(t *testing.T) {
	// Not parallel: timing is checked, so it runs before the parallel tests.
	const (
		ttft   = 50 * time.Millisecond
		itl    = 10 * time.Millisecond
		tokens = 20
		// Tolerances for a loaded 2-core machine; the benchmark measures tight numbers.
		ttftTol = 15 * time.Millisecond
		itlTol  = 3 * time.Millisecond
	)
	for _, mode := range streamModes {
		t.Run(string(mode), func(t *testing.T) {
			_, _, client := startMode(t, instant(t, func(c *fakeinference.Config) {
				c.PrefillOverhead, c.InterTokenLatency = ttft, itl
			}), mode)
			checkStreamTiming(t, client, ttft, itl, tokens, ttftTol, itlTol)
		})
	}
}

func checkStreamTiming(t *testing.T, client openai.Client, ttft, itl time.Duration, tokens int, ttftTol, itlTol time.Duration) {
	t.Helper()
	var ttfts, gaps []time.Duration
	for i := range 3 {
		st := streamChat(context.Background(), client, chatParams(int64(tokens), "time me"))
		if st.streamErr != nil {
			t.Fatalf("request %d: stream error: %v", i, st.streamErr)
		}
		if st.tokens != tokens || !st.sawUsage || st.usage.CompletionTokens != int64(tokens) || st.finish != "length" {
			t.Fatalf("request %d: tokens %d, usage %+v (seen %v), finish %q; want %d tokens, usage in the last chunk, length",
				i, st.tokens, st.usage, st.sawUsage, st.finish, tokens)
		}
		if st.ttft < ttft-time.Millisecond {
			t.Errorf("request %d: TTFT %v is earlier than the model's %v", i, st.ttft, ttft)
		}
		if min := ttft + time.Duration(tokens-1)*itl - time.Millisecond; st.total < min {
			t.Errorf("request %d: took %v, less than the model's %v", i, st.total, min)
		}
		ttfts = append(ttfts, st.ttft)
		gaps = append(gaps, st.gaps...)
	}
	if m := median(ttfts); m < ttft-time.Millisecond || m > ttft+ttftTol {
		t.Errorf("median TTFT = %v, want %v (−1ms/+%v)", m, ttft, ttftTol)
	}
	if m := median(gaps); m < itl-itlTol || m > itl+itlTol {
		t.Errorf("median inter-token gap = %v, want %v ± %v", m, itl, itlTol)
	}
}

func TestPrefillTimeGrowsWithPromptTokens(t *testing.T) {
	// Not parallel: timing is checked, so it runs before the parallel tests.
	const perToken = 2 * time.Millisecond
	_, _, client := start(t, instant(t, func(c *fakeinference.Config) { c.PrefillTimePerToken = perToken }))
	prompt := strings.Repeat("word ", 30)
	st := streamChat(context.Background(), client, chatParams(2, prompt))
	if st.streamErr != nil || !st.sawUsage {
		t.Fatalf("stream error %v, usage seen %v", st.streamErr, st.sawUsage)
	}
	want := time.Duration(st.usage.PromptTokens) * perToken
	if st.usage.PromptTokens < 30 {
		t.Errorf("prompt_tokens = %d for a 30-word prompt, want ≥ 30", st.usage.PromptTokens)
	}
	if st.ttft < want-time.Millisecond || st.ttft > want+20*time.Millisecond {
		t.Errorf("TTFT = %v, want prompt tokens (%d) × %v = %v (−1ms/+20ms)", st.ttft, st.usage.PromptTokens, perToken, want)
	}
}

func TestLoadFactorSlowsRunningRequests(t *testing.T) {
	// Not parallel: timing is checked, so it runs before the parallel tests.
	const itl = 10 * time.Millisecond
	// max-num-seqs 2 and F 3: one request runs at factor 1, two at factor 3.
	_, _, client := start(t, instant(t, func(c *fakeinference.Config) {
		c.InterTokenLatency, c.MaxNumSeqs, c.TimeFactorUnderLoad = itl, 2, 3
	}))
	alone := streamChat(context.Background(), client, chatParams(10, "alone"))
	results := make(chan streamTiming, 2)
	for range 2 {
		go func() { results <- streamChat(context.Background(), client, chatParams(10, "together")) }()
	}
	r1, r2 := <-results, <-results
	for _, st := range []streamTiming{alone, r1, r2} {
		if st.streamErr != nil {
			t.Fatalf("stream error: %v", st.streamErr)
		}
	}
	if m := median(alone.gaps); m < itl-3*time.Millisecond || m > itl+5*time.Millisecond {
		t.Errorf("alone: median gap %v, want %v (factor 1)", m, itl)
	}
	both := append(append([]time.Duration(nil), r1.gaps...), r2.gaps...)
	if m := median(both); m < 3*itl-5*time.Millisecond || m > 3*itl+8*time.Millisecond {
		t.Errorf("two running of max-num-seqs 2 with F=3: median gap %v, want %v", m, 3*itl)
	}
}

func TestCompletionsEndpoint(t *testing.T) {
	t.Parallel()
	_, _, client := start(t, instant(t, func(c *fakeinference.Config) { c.Mode = fakeinference.ModeEcho }))
	prompt := "the queue drains fast"
	params := openai.CompletionNewParams{
		Model:     testModel,
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
		MaxTokens: openai.Int(50),
	}
	resp, err := client.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if resp.Object != "text_completion" || len(resp.Choices) != 1 {
		t.Fatalf("object %q, %d choices; want text_completion, 1", resp.Object, len(resp.Choices))
	}
	// Echo mode: the prompt back; it is shorter than max_tokens, so "stop".
	if got := resp.Choices[0].Text; got != prompt || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("text, finish = %q, %q; want %q, stop", got, resp.Choices[0].FinishReason, prompt)
	}
	if resp.Usage.CompletionTokens != 4 || resp.Usage.PromptTokens != 4 {
		t.Errorf("usage = %+v, want 4 prompt and 4 completion tokens", resp.Usage)
	}

	params.MaxTokens = openai.Int(3)
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Completions.NewStreaming(context.Background(), params)
	var text strings.Builder
	chunks, usage := 0, int64(0)
	for stream.Next() {
		c := stream.Current()
		for _, ch := range c.Choices {
			if ch.Text != "" {
				chunks++
				text.WriteString(ch.Text)
			}
		}
		if c.Usage.CompletionTokens > 0 {
			usage = c.Usage.CompletionTokens
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if chunks != 3 || text.String() != "the queue drains" || usage != 3 {
		t.Errorf("streamed %d chunks %q, usage %d; want 3 chunks \"the queue drains\", usage 3", chunks, text.String(), usage)
	}
}

func TestOutputLengthDistribution(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		edit      func(*fakeinference.Config)
		maxTokens int64
		ignoreEOS bool
		check     func(lengths []int64) string
	}{
		{"max", nil, 12, false, func(l []int64) string {
			for _, n := range l {
				if n != 12 {
					return "a length differs from max_tokens 12"
				}
			}
			return ""
		}},
		{"uniform varies within 1..max", func(c *fakeinference.Config) { c.OutputLength = fakeinference.OutputUniform }, 12, false, func(l []int64) string {
			seen := map[int64]bool{}
			for _, n := range l {
				if n < 1 || n > 12 {
					return "a length is outside 1..12"
				}
				seen[n] = true
			}
			if len(seen) < 5 {
				return "fewer than 5 distinct lengths in 40 requests"
			}
			return ""
		}},
		{"normal capped by max_tokens", func(c *fakeinference.Config) {
			c.OutputLength, c.OutputLengthMean, c.OutputLengthStdDev = fakeinference.OutputNormal, 5, 0
		}, 20, false, func(l []int64) string {
			for _, n := range l {
				if n != 5 {
					return "a length differs from the mean 5 with std-dev 0"
				}
			}
			return ""
		}},
		{"ignore_eos gives max", func(c *fakeinference.Config) { c.OutputLength = fakeinference.OutputUniform }, 12, true, func(l []int64) string {
			for _, n := range l {
				if n != 12 {
					return "ignore_eos did not give max_tokens"
				}
			}
			return ""
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, ts, _ := start(t, instant(t, tc.edit))
			var lengths []int64
			for range 40 {
				body, _ := json.Marshal(map[string]any{"model": testModel, "prompt": "x", "max_tokens": tc.maxTokens, "ignore_eos": tc.ignoreEOS})
				code, _, out := post(t, ts.URL+"/v1/completions", string(body))
				if code != http.StatusOK {
					t.Fatalf("status %d: %s", code, out)
				}
				var r struct {
					Choices []struct {
						Text         string `json:"text"`
						FinishReason string `json:"finish_reason"`
					} `json:"choices"`
					Usage struct {
						CompletionTokens int64 `json:"completion_tokens"`
					} `json:"usage"`
				}
				if err := json.Unmarshal([]byte(out), &r); err != nil {
					t.Fatalf("decode %s: %v", out, err)
				}
				n := r.Usage.CompletionTokens
				wantFinish := "stop"
				if n == tc.maxTokens {
					wantFinish = "length"
				}
				if r.Choices[0].FinishReason != wantFinish || int64(len(strings.Fields(r.Choices[0].Text))) != n {
					t.Fatalf("%d tokens, text %q, finish %q; want as many words and finish %q", n, r.Choices[0].Text, r.Choices[0].FinishReason, wantFinish)
				}
				lengths = append(lengths, n)
			}
			if msg := tc.check(lengths); msg != "" {
				t.Errorf("%s: lengths %v", msg, lengths)
			}
		})
	}
}

func TestRequestValidationErrors(t *testing.T) {
	t.Parallel()
	_, ts, client := start(t, instant(t, func(c *fakeinference.Config) { c.MaxModelLen = 100 }))
	chat, compl := ts.URL+"/v1/chat/completions", ts.URL+"/v1/completions"
	cases := []struct {
		name, url, body string
		status          int
		param, code     string
	}{
		{"not JSON", chat, `{"model":`, 400, "", ""},
		{"no messages", chat, `{"model":"burst-fake-model","messages":[]}`, 400, "messages", ""},
		{"bad role", chat, `{"messages":[{"role":"robot","content":"hi"}]}`, 400, "messages[0].role", ""},
		{"max_tokens 0", chat, `{"messages":[{"role":"user","content":"hi"}],"max_tokens":0}`, 400, "max_tokens", ""},
		{"n 2", chat, `{"messages":[{"role":"user","content":"hi"}],"n":2}`, 400, "n", ""},
		{"stream_options without stream", chat, `{"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}`, 400, "stream_options", ""},
		{"context too long", chat, `{"messages":[{"role":"user","content":"hi"}],"max_tokens":200}`, 400, "max_tokens", ""},
		{"unknown model", chat, `{"model":"gpt-9","messages":[{"role":"user","content":"hi"}]}`, 404, "model", "model_not_found"},
		{"no prompt", compl, `{"model":"burst-fake-model"}`, 400, "prompt", ""},
		{"two prompts", compl, `{"prompt":["a","b"]}`, 400, "prompt", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, hdr, body := post(t, tc.url, tc.body)
			if code != tc.status {
				t.Fatalf("status = %d, want %d (body %s)", code, tc.status, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var e struct {
				Error *struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == nil {
				t.Fatalf("body %s is not OpenAI's {\"error\": {...}} shape: %v", body, err)
			}
			if e.Error.Message == "" || e.Error.Type != "invalid_request_error" {
				t.Errorf("message %q, type %q; want a message and invalid_request_error", e.Error.Message, e.Error.Type)
			}
			if got := deref(e.Error.Param); got != tc.param {
				t.Errorf("param = %q, want %q", got, tc.param)
			}
			if got := deref(e.Error.Code); got != tc.code {
				t.Errorf("code = %q, want %q", got, tc.code)
			}
		})
	}
	t.Run("SDK sees *openai.Error", func(t *testing.T) {
		_, err := client.Chat.Completions.New(context.Background(), chatParams(500, "hi"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "max_tokens" {
			t.Fatalf("err = %v; want *openai.Error 400 on max_tokens", err)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestModelsAndServedModelNames(t *testing.T) {
	t.Parallel()
	_, _, client := start(t, instant(t, func(c *fakeinference.Config) { c.ServedModelName = []string{"llama-8b", "alias"} }))
	page, err := client.Models.List(context.Background())
	if err != nil {
		t.Fatalf("Models.List: %v", err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "llama-8b,alias" {
		t.Errorf("model ids = %v, want [llama-8b alias]", ids)
	}
	p := chatParams(2, "hi")
	p.Model = "alias"
	resp, err := client.Chat.Completions.New(context.Background(), p)
	if err != nil || resp.Model != "alias" {
		t.Fatalf("request for alias: resp %v, err %v; want model alias answered", resp, err)
	}
	p.Model = testModel // not served any more
	if _, err := client.Chat.Completions.New(context.Background(), p); err == nil {
		t.Fatalf("request for an unserved model succeeded, want 404")
	}
}

func TestMetricsUseVLLMNames(t *testing.T) {
	t.Parallel()
	_, ts, client := start(t, instant(t, nil))
	if st := streamChat(context.Background(), client, chatParams(3, "hi")); st.streamErr != nil {
		t.Fatalf("stream: %v", st.streamErr)
	}
	post(t, ts.URL+"/v1/chat/completions", `{"model":"nope","messages":[{"role":"user","content":"x"}]}`)
	for _, name := range []string{
		`vllm:num_requests_running{model_name="burst-fake-model"}`,
		`vllm:num_requests_waiting{model_name="burst-fake-model"}`,
		`vllm:time_to_first_token_seconds_count{model_name="burst-fake-model"}`,
		`vllm:inter_token_latency_seconds_count{model_name="burst-fake-model"}`,
		`vllm:e2e_request_latency_seconds_count{model_name="burst-fake-model"}`,
		`vllm:request_queue_time_seconds_count{model_name="burst-fake-model"}`,
		`vllm:generation_tokens_total{model_name="burst-fake-model"}`,
		`vllm:prompt_tokens_total{model_name="burst-fake-model"}`,
		`vllm:request_success_total{finished_reason="length",model_name="burst-fake-model"}`,
		`http_requests_total{handler="/v1/chat/completions",method="POST",status="200"}`,
		`http_requests_total{handler="/v1/chat/completions",method="POST",status="404"}`,
	} {
		if v := metric(t, ts.URL, name); v < 0 {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if v := metric(t, ts.URL, `vllm:generation_tokens_total{`); v != 3 {
		t.Errorf("generation tokens = %v, want 3", v)
	}
	if v := metric(t, ts.URL, `vllm:inter_token_latency_seconds_count{`); v != 2 {
		t.Errorf("inter-token latency observations = %v, want 2 for 3 tokens", v)
	}
}

func TestReadyzAfterStartupDuration(t *testing.T) {
	t.Parallel()
	const startup = 200 * time.Millisecond
	begin := time.Now()
	_, ts, _ := start(t, instant(t, func(c *fakeinference.Config) { c.StartupDuration = startup }))
	get := func(path string) (int, http.Header) {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	if code, hdr := get("/readyz"); code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("/readyz at start = %d (Retry-After %q), want 503 with Retry-After", code, hdr.Get("Retry-After"))
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz during startup = %d, want 200", code)
	}
	waitFor(t, 5*time.Second, "/readyz 200", func() bool { code, _ := get("/readyz"); return code == http.StatusOK })
	if took := time.Since(begin); took < startup {
		t.Errorf("/readyz turned 200 after %v, before the startup duration %v", took, startup)
	}
}

func TestColdStart(t *testing.T) {
	// Not parallel: timing is checked, so it runs before the parallel tests.
	const cold = 120 * time.Millisecond
	_, _, client := start(t, instant(t, func(c *fakeinference.Config) { c.ColdStartLatency = cold }))
	first := streamChat(context.Background(), client, chatParams(2, "wake up"))
	second := streamChat(context.Background(), client, chatParams(2, "warm"))
	if first.streamErr != nil || second.streamErr != nil {
		t.Fatalf("errors: %v, %v", first.streamErr, second.streamErr)
	}
	if first.ttft < cold-time.Millisecond {
		t.Errorf("first request TTFT %v, want ≥ cold start %v", first.ttft, cold)
	}
	if second.ttft > cold/2 {
		t.Errorf("second request TTFT %v, want no cold start (< %v)", second.ttft, cold/2)
	}
}

func TestEchoModeChat(t *testing.T) {
	t.Parallel()
	_, _, client := start(t, instant(t, func(c *fakeinference.Config) { c.Mode = fakeinference.ModeEcho }))
	p := chatParams(10, "ignored")
	p.Messages = []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("be brief"),
		openai.UserMessage("first question"),
		openai.AssistantMessage("an answer"),
		openai.UserMessage("scale the workers, now!"),
	}
	resp, err := client.Chat.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got := resp.Choices[0].Message.Content; got != "scale the workers, now!" || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("echo = %q (finish %q), want the last user message and stop", got, resp.Choices[0].FinishReason)
	}
	// A prompt of only white space has nothing to echo: random words instead.
	p.Messages = []openai.ChatCompletionMessageParamUnion{openai.UserMessage("   ")}
	resp, err = client.Chat.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatalf("New with a blank prompt: %v", err)
	}
	if n := len(strings.Fields(resp.Choices[0].Message.Content)); n != 10 {
		t.Errorf("blank prompt in echo mode: %d words, want 10", n)
	}
}
