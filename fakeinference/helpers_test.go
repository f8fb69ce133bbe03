package fakeinference_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/burstbench/burst/fakeinference"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

const testModel = "burst-fake-model"

// instant returns the instant preset with edits applied.
func instant(t *testing.T, edit func(*fakeinference.Config)) fakeinference.Config {
	t.Helper()
	c, err := fakeinference.Preset(fakeinference.PresetInstant)
	if err != nil {
		t.Fatalf("Preset(instant): %v", err)
	}
	if edit != nil {
		edit(&c)
	}
	return c
}

// start serves cfg on a loopback httptest server, as Serve does (streamed
// tokens written straight to the connection), and returns it with an SDK
// client that never retries.
func start(t *testing.T, cfg fakeinference.Config) (*fakeinference.Server, *httptest.Server, openai.Client) {
	return startMode(t, cfg, directMode)
}

// How a server under test writes streamed tokens.
type streamMode string

const (
	directMode streamMode = "direct"          // ConnContext set, as Serve does: straight to the socket
	writerMode streamMode = "response-writer" // plain Handler(): through the ResponseWriter
)

var streamModes = []streamMode{directMode, writerMode}

func startMode(t *testing.T, cfg fakeinference.Config, mode streamMode) (*fakeinference.Server, *httptest.Server, openai.Client) {
	t.Helper()
	s, err := fakeinference.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewUnstartedServer(s.Handler())
	if mode == directMode {
		ts.Config.ConnContext = s.ConnContext
	}
	ts.Start()
	t.Cleanup(func() {
		s.Close() // first: ends hung and running requests that ts.Close would wait for
		ts.Close()
	})
	client := openai.NewClient(
		option.WithBaseURL(ts.URL+"/v1"),
		option.WithAPIKey("test"),
		option.WithMaxRetries(0),
	)
	return s, ts, client
}

func chatParams(maxTokens int64, prompt string) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{
		Model:    testModel,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
	}
	if maxTokens > 0 {
		p.MaxTokens = openai.Int(maxTokens)
	}
	return p
}

// streamTiming is what a client observes of one streaming call.
type streamTiming struct {
	ttft       time.Duration   // request start → first content token
	gaps       []time.Duration // between content tokens
	tokens     int             // content chunks
	text       string
	finish     string
	usage      openai.CompletionUsage
	sawUsage   bool
	total      time.Duration
	streamErr  error
	firstChunk time.Time
}

// streamChat runs one streaming chat call with the SDK and times it.
func streamChat(ctx context.Context, client openai.Client, p openai.ChatCompletionNewParams) streamTiming {
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	var st streamTiming
	begin := time.Now()
	stream := client.Chat.Completions.NewStreaming(ctx, p)
	last := time.Time{}
	var b strings.Builder
	for stream.Next() {
		now := time.Now()
		c := stream.Current()
		if c.JSON.Usage.Valid() && c.Usage.CompletionTokens > 0 {
			st.usage, st.sawUsage = c.Usage, true
		}
		for _, ch := range c.Choices {
			if ch.FinishReason != "" {
				st.finish = ch.FinishReason
			}
			if ch.Delta.Content == "" {
				continue
			}
			b.WriteString(ch.Delta.Content)
			st.tokens++
			if last.IsZero() {
				st.ttft = now.Sub(begin)
				st.firstChunk = now
			} else {
				st.gaps = append(st.gaps, now.Sub(last))
			}
			last = now
		}
	}
	st.streamErr = stream.Err()
	st.total = time.Since(begin)
	st.text = b.String()
	return st
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// metric returns the value of the first sample of /metrics whose line starts
// with prefix (name and labels), or -1.
func metric(t *testing.T, baseURL, prefix string) float64 {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v
		}
	}
	return -1
}

// waitFor polls cond every 5 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func post(t *testing.T, url, body string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}
