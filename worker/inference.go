package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/burstbench/burst/internal/queue"
)

// inference runs agent steps against the OpenAI-compatible endpoint. The SDK's
// own retries are disabled: the worker retries itself so that every attempt
// is counted and the backoff is the configured one.
type inference struct {
	client openai.Client
	cfg    Config
	m      *metrics
}

func newInference(cfg Config, m *metrics) *inference {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2*cfg.Concurrency + 4
	tr.MaxIdleConnsPerHost = 2*cfg.Concurrency + 4
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.Endpoint),
		option.WithHTTPClient(&http.Client{Transport: tr}),
		option.WithMaxRetries(0),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	} else {
		// Neither send a key found in the SDK's own environment lookup.
		opts = append(opts, option.WithAPIKey(""))
	}
	return &inference{client: openai.NewClient(opts...), cfg: cfg, m: m}
}

// stepResult is what one agent step (one successful call, after retries) yields.
type stepResult struct {
	TTFT         time.Duration
	PromptTokens int
	OutputTokens int
	// Attempts counts calls made for the step, the successful one included.
	Attempts int
}

// errKind says what a failed step means for the task.
type errKind int

const (
	// kindRetryable: retries ran out on errors that may pass (429, 5xx,
	// timeouts, connection errors); the delivery is left pending.
	kindRetryable errKind = iota
	// kindFatal: the endpoint refused the request (4xx other than 408/429);
	// the task is recorded as failed.
	kindFatal
	// kindAborted: the worker is stopping; the delivery is left pending.
	kindAborted
)

// stepError is a failed agent step.
type stepError struct {
	kind   errKind
	reason string // short label: 429, 5xx, timeout, connection, stream_cut, http_400, …
	err    error
}

func (e *stepError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// prompt builds a user message of about n tokens: one short word per token.
func prompt(t queue.Task, step int) string {
	n := t.PromptTokens
	if n < 1 {
		n = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "task %s step %d/%d:", t.ID, step+1, t.Steps)
	b.Grow(n * 5)
	for i := 0; i < n; i++ {
		b.WriteString(" work")
	}
	return b.String()
}

// step runs agent step number step of t with bounded retries.
func (in *inference) step(ctx context.Context, t queue.Task, step int) (stepResult, error) {
	params := openai.ChatCompletionNewParams{
		Model:         in.cfg.Model,
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt(t, step))},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	if t.OutputTokens > 0 {
		params.MaxTokens = openai.Int(int64(t.OutputTokens))
	}
	var res stepResult
	for attempt := 0; ; attempt++ {
		r, retryAfter, err := in.call(ctx, params, t)
		res.Attempts++
		if err == nil {
			r.Attempts = res.Attempts
			return r, nil
		}
		var se *stepError
		if !errors.As(err, &se) {
			se = &stepError{kind: kindRetryable, reason: "other", err: err}
		}
		if se.kind != kindRetryable {
			return res, se
		}
		if attempt >= in.cfg.MaxRetries {
			return res, &stepError{kind: kindRetryable, reason: se.reason,
				err: fmt.Errorf("step %d failed after %d attempts: %w", step+1, res.Attempts, se.err)}
		}
		in.m.retries.WithLabelValues(se.reason).Inc()
		wait := backoff(in.cfg.BackoffBase, in.cfg.BackoffMax, attempt, retryAfter)
		select {
		case <-ctx.Done():
			return res, &stepError{kind: kindAborted, reason: "shutdown", err: context.Cause(ctx)}
		case <-time.After(wait):
		}
	}
}

// backoff returns the wait before retry number attempt+1: a random time in
// [d/2, d] with d = min(max, base·2^attempt), raised to the server's
// Retry-After (capped at max) when that is longer.
func backoff(base, max time.Duration, attempt int, retryAfter time.Duration) time.Duration {
	d := base
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	wait := d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	if retryAfter > wait {
		wait = min(retryAfter, max)
	}
	return wait
}

// call makes one streaming chat-completion call. It returns the server's
// Retry-After, when it sent one, for the backoff.
func (in *inference) call(ctx context.Context, params openai.ChatCompletionNewParams, t queue.Task) (stepResult, time.Duration, error) {
	cctx, cancel := context.WithTimeout(ctx, in.cfg.CallTimeout)
	defer cancel()
	start := time.Now()
	var (
		res              stepResult
		gotToken, gotAny bool
		firstAny         time.Duration
		finished         bool
		chunks           int
		usage            bool
	)
	stream := in.client.Chat.Completions.NewStreaming(cctx, params)
	for stream.Next() {
		ch := stream.Current()
		if !gotAny {
			gotAny, firstAny = true, time.Since(start)
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != "" {
				chunks++
				if !gotToken {
					gotToken, res.TTFT = true, time.Since(start)
				}
			}
			if c.FinishReason != "" {
				finished = true
			}
		}
		if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
			usage = true
			res.PromptTokens = int(ch.Usage.PromptTokens)
			res.OutputTokens = int(ch.Usage.CompletionTokens)
		}
	}
	err := stream.Err()
	_ = stream.Close()
	dur := time.Since(start)
	if err == nil && !finished {
		err = &stepError{kind: kindRetryable, reason: "stream_cut",
			err: fmt.Errorf("stream ended after %d chunks without a finish_reason", chunks)}
	}
	if err != nil {
		se, retryAfter := classify(ctx, cctx, err)
		outcome := "retryable"
		if se.kind == kindFatal {
			outcome = "fatal"
		}
		if se.kind != kindAborted {
			in.m.callDur.WithLabelValues(outcome).Observe(dur.Seconds())
		}
		return res, retryAfter, se
	}
	if !gotToken {
		res.TTFT = firstAny
	}
	if !usage {
		res.PromptTokens = t.PromptTokens
		res.OutputTokens = chunks
	}
	in.m.callDur.WithLabelValues("ok").Observe(dur.Seconds())
	in.m.ttft.Observe(res.TTFT.Seconds())
	return res, 0, nil
}

// classify maps a call error to what the worker does about it. ctx is the
// task's context (cancelled on shutdown), cctx the call's (with the timeout).
func classify(ctx, cctx context.Context, err error) (*stepError, time.Duration) {
	var se *stepError
	if errors.As(err, &se) {
		return se, 0
	}
	if ctx.Err() != nil {
		return &stepError{kind: kindAborted, reason: "shutdown", err: err}, 0
	}
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		code := apiErr.StatusCode
		e := fmt.Errorf("HTTP %d from inference endpoint: %s", code, apiMessage(apiErr))
		switch {
		case code == http.StatusTooManyRequests:
			return &stepError{kind: kindRetryable, reason: "429", err: e}, retryAfter(apiErr.Response)
		case code == http.StatusRequestTimeout:
			return &stepError{kind: kindRetryable, reason: "408", err: e}, retryAfter(apiErr.Response)
		case code >= 500:
			return &stepError{kind: kindRetryable, reason: "5xx", err: e}, retryAfter(apiErr.Response)
		case code >= 400:
			return &stepError{kind: kindFatal, reason: "http_" + strconv.Itoa(code), err: e}, 0
		default:
			return &stepError{kind: kindRetryable, reason: "other", err: e}, 0
		}
	}
	if cctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return &stepError{kind: kindRetryable, reason: "timeout", err: fmt.Errorf("call timed out: %w", err)}, 0
	}
	var streamErr *ssestream.StreamError
	if errors.As(err, &streamErr) {
		return &stepError{kind: kindRetryable, reason: "stream_error", err: err}, 0
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return &stepError{kind: kindRetryable, reason: "connection", err: err}, 0
	}
	return &stepError{kind: kindRetryable, reason: "other", err: err}, 0
}

// apiMessage is the error message the endpoint sent, or the status text.
func apiMessage(e *openai.Error) string {
	if e.Message != "" {
		return e.Message
	}
	return http.StatusText(e.StatusCode)
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date.
func retryAfter(r *http.Response) time.Duration {
	if r == nil {
		return 0
	}
	v := r.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}
