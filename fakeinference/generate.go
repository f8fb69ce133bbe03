package fakeinference

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// fault kinds, drawn per request.
type fault int

const (
	faultNone fault = iota
	fault429
	fault500
	fault503
	faultHang
	faultCut
)

var faultNames = [...]string{"none", "429", "500", "503", "hang", "stream_cut"}

// splitmix64 is a fast, well-mixed 64-bit hash.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unitFloat maps (seed, n, stream) to a uniform float in [0, 1).
func unitFloat(seed int64, n, stream uint64) float64 {
	h := splitmix64(uint64(seed) ^ splitmix64(n^splitmix64(stream)))
	return float64(h>>11) / (1 << 53)
}

// pickFault draws the fault of the n-th request. It depends only on the seed,
// n and the rates, so other knobs do not change which requests fail.
func pickFault(c *Config, n uint64) fault {
	u := unitFloat(c.Seed, n, 1)
	for _, f := range []struct {
		kind fault
		rate float64
	}{
		{fault429, c.Fault429Rate}, {fault500, c.Fault500Rate}, {fault503, c.Fault503Rate},
		{faultHang, c.FaultHangRate}, {faultCut, c.FaultStreamCutRate},
	} {
		if u < f.rate {
			return f.kind
		}
		u -= f.rate
	}
	return faultNone
}

// jitter draws a duration from normal(mean, sd) clamped to mean ± 2sd and to ≥ 0.
func jitter(r *rand.Rand, mean, sd time.Duration) time.Duration {
	if sd <= 0 {
		return mean
	}
	x := float64(mean) + r.NormFloat64()*float64(sd)
	lo := max(0, float64(mean)-2*float64(sd))
	hi := float64(mean) + 2*float64(sd)
	return time.Duration(min(max(x, lo), hi))
}

// loadFactor is 1 + (f−1)(running−1)/(maxSeqs−1), at least 1.
func loadFactor(f float64, running, maxSeqs int) float64 {
	if f <= 1 || maxSeqs <= 1 || running <= 1 {
		return 1
	}
	return 1 + (f-1)*float64(min(running, maxSeqs)-1)/float64(maxSeqs-1)
}

func scale(d time.Duration, f float64) time.Duration {
	if f == 1 {
		return d
	}
	return time.Duration(float64(d) * f)
}

// genState is the per-request scratch space, pooled.
type genState struct {
	buf    []byte
	prefix []byte // a content chunk up to the token's JSON string
	suffix []byte // after it, through the blank line
	echo   []token
	due    []time.Time
	text   []byte
	rng    *rand.Rand
	pcg    *rand.PCG
	timer  *time.Timer
}

var genPool = sync.Pool{New: func() any {
	pcg := rand.NewPCG(0, 0)
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &genState{pcg: pcg, rng: rand.New(pcg), timer: t, buf: make([]byte, 0, 4096)}
}}

// abort drops the connection without a (further) answer.
func abort() { panic(http.ErrAbortHandler) }

func (s *Server) generateHandler(ep endpoint, name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status := 0
		defer func() { s.metrics.countRequest(name, r.Method, status) }()
		status = s.generate(ep, w, r)
	}
}

// generate serves one inference request and returns the status written, or
// aborts the connection (status 0 is then counted by the deferred counter).
func (s *Server) generate(ep endpoint, w http.ResponseWriter, r *http.Request) int {
	arrival := time.Now()
	cfg := s.cfg.Load()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		return 0
	}
	req, apiErr := parseRequest(ep, body)
	if apiErr != nil {
		writeAPIError(w, apiErr)
		return apiErr.status
	}
	served := cfg.servedNames()
	model := req.model
	switch {
	case model == "":
		model = served[0]
	case !cfg.AcceptAnyModel && !slices.Contains(served, model):
		e := &apiError{status: http.StatusNotFound, Type: "invalid_request_error", Code: strPtr("model_not_found"), Param: strPtr("model"),
			Message: "The model `" + model + "` does not exist. Served models: " + joinQuoted(served)}
		writeAPIError(w, e)
		return e.status
	}
	maxTokens := req.maxTokens
	if maxTokens == 0 {
		maxTokens = min(cfg.DefaultMaxTokens, cfg.MaxModelLen-req.promptTokens)
	}
	if maxTokens < 1 || req.promptTokens+maxTokens > cfg.MaxModelLen {
		e := badRequest("max_tokens", "This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion). Please reduce the length of the messages or completion.",
			cfg.MaxModelLen, req.promptTokens+max(maxTokens, 0), req.promptTokens, max(maxTokens, 0))
		writeAPIError(w, e)
		return e.status
	}

	n := s.seq.Add(1) - 1
	f := pickFault(cfg, n)
	if f != faultNone {
		s.metrics.faults.WithLabelValues(faultNames[f]).Inc()
	}
	switch f {
	case fault429:
		w.Header().Set("Retry-After", retryAfter(cfg.RetryAfter))
		e := &apiError{status: http.StatusTooManyRequests, Type: "rate_limit_exceeded", Code: strPtr("rate_limit_exceeded"), Message: "Rate limit reached (injected fault). Please retry after a while."}
		writeAPIError(w, e)
		return e.status
	case fault500:
		e := &apiError{status: http.StatusInternalServerError, Type: "server_error", Message: "The server had an error while processing your request (injected fault)."}
		writeAPIError(w, e)
		return e.status
	case fault503:
		e := &apiError{status: http.StatusServiceUnavailable, Type: "server_error", Code: strPtr("service_unavailable"), Message: "The server is overloaded or not ready yet (injected fault)."}
		writeAPIError(w, e)
		return e.status
	case faultHang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		abort()
	}

	ctx := r.Context()
	s.inflight.Add(1)
	defer func() {
		s.inflight.Add(-1)
		if cfg.ColdStartLatency > 0 {
			s.touch(time.Now())
		}
	}()
	start := arrival
	coldEnd, err := s.coldWait(ctx, cfg, arrival)
	if err != nil {
		abort()
	}
	if !coldEnd.IsZero() {
		start = coldEnd
	}
	waited, err := s.slots.acquire(ctx, s.done)
	if errors.Is(err, errQueueFull) {
		w.Header().Set("Retry-After", retryAfter(cfg.RetryAfter))
		e := &apiError{status: http.StatusTooManyRequests, Type: "rate_limit_exceeded", Code: strPtr("rate_limit_exceeded"),
			Message: "The server is at capacity: " + strconv.Itoa(cfg.MaxNumSeqs) + " requests running and " + strconv.Itoa(cfg.MaxWaitingQueueLength) + " waiting. Please retry after a while."}
		writeAPIError(w, e)
		return e.status
	}
	if err != nil {
		abort() // the client gave up while queued, or the server closed
	}
	if waited {
		start = time.Now()
	}
	defer s.slots.release()
	s.metrics.queue.Observe(start.Sub(arrival).Seconds())

	g := genPool.Get().(*genState)
	pooled := true // false once a stream's pacer owns g
	defer func() {
		if pooled {
			genPool.Put(g)
		}
	}()
	g.pcg.Seed(uint64(cfg.Seed), n)

	// Output length and text.
	outLen := maxTokens
	if !req.ignoreEOS {
		switch cfg.OutputLength {
		case OutputUniform:
			outLen = 1 + g.rng.IntN(maxTokens)
		case OutputNormal:
			x := math.Round(float64(cfg.OutputLengthMean) + g.rng.NormFloat64()*float64(cfg.OutputLengthStdDev))
			outLen = int(min(max(x, 1), float64(maxTokens)))
		}
	}
	g.echo = g.echo[:0]
	if cfg.Mode == ModeEcho && req.echoText != "" {
		tokenize(req.echoText, func(t string) {
			if len(g.echo) < outLen {
				g.echo = append(g.echo, newToken(t))
			}
		})
		if len(g.echo) > 0 { // a prompt of only white space gets random words
			outLen = len(g.echo)
		}
	}
	finish := "stop"
	if outLen == maxTokens {
		finish = "length"
	}

	// Time to first token, from the start (arrival, or the end of the wait).
	factor := loadFactor(cfg.TimeFactorUnderLoad, int(s.slots.running.Load()), cfg.MaxNumSeqs)
	prefill := jitter(g.rng, cfg.PrefillOverhead, cfg.PrefillOverheadStdDev) +
		time.Duration(req.promptTokens)*jitter(g.rng, cfg.PrefillTimePerToken, cfg.PrefillTimePerTokenStdDev)
	first := start.Add(scale(prefill, factor))
	cut := -1
	if f == faultCut {
		cut = g.rng.IntN(outLen) // tokens sent before the cut
	}
	id := responseID(ep, s.idSalt, n)
	gen := generation{s: s, cfg: cfg, g: g, ctx: ctx, outLen: outLen, cut: cut}
	s.metrics.promptTokens.Add(float64(req.promptTokens))
	if req.stream {
		st, rc, ok := gen.startStream(w, r, ep, id, model, arrival, first, finish, req.includeUsage, req.promptTokens)
		if !ok {
			abort()
		}
		pooled = false
		if st.serve(ctx, s.done, w, rc) != nil {
			abort()
		}
		s.metrics.success.WithLabelValues(finish).Inc()
		s.metrics.e2e.Observe(time.Since(arrival).Seconds())
		return http.StatusOK
	}
	if !gen.wait(arrival, first) {
		abort()
	}
	text := g.text[:0]
	for i := range outLen {
		text = append(text, gen.token(i).text...)
	}
	g.text = text
	resp := completionResponse{ID: string(id), Created: time.Now().Unix(), Model: model,
		Usage: usage{PromptTokens: req.promptTokens, CompletionTokens: outLen, TotalTokens: req.promptTokens + outLen}}
	if ep == chatEndpoint {
		resp.Object = "chat.completion"
		var c chatChoice
		c.Message.Role, c.Message.Content, c.FinishReason = "assistant", string(text), finish
		resp.Choices = []chatChoice{c}
	} else {
		resp.Object = "text_completion"
		resp.Choices = []completionChoice{{Text: string(text), FinishReason: finish}}
	}
	b, _ := json.Marshal(resp)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	s.metrics.generationTokens.Add(float64(outLen))
	s.metrics.success.WithLabelValues(finish).Inc()
	s.metrics.e2e.Observe(time.Since(arrival).Seconds())
	return http.StatusOK
}

// generation walks the token deadlines of one request.
type generation struct {
	s      *Server
	cfg    *Config
	g      *genState
	ctx    context.Context
	outLen int
	cut    int // tokens before a cut fault, or -1
}

// token returns the i-th output token.
func (gen *generation) token(i int) token {
	if len(gen.g.echo) > 0 {
		return gen.g.echo[i]
	}
	if i == 0 {
		return firstWords[gen.g.rng.IntN(len(firstWords))]
	}
	return vocabulary[gen.g.rng.IntN(len(vocabulary))]
}

// nextGap returns the model's gap before the next token, under the current load.
func (gen *generation) nextGap() time.Duration {
	itl := jitter(gen.g.rng, gen.cfg.InterTokenLatency, gen.cfg.InterTokenLatencyStdDev)
	f := loadFactor(gen.cfg.TimeFactorUnderLoad, int(gen.s.slots.running.Load()), gen.cfg.MaxNumSeqs)
	return scale(itl, f)
}

// shortSleep is the longest wait done with time.Sleep, which is cheaper than
// a timer and a select; a client that leaves or a Close is noticed after it.
const shortSleep = 50 * time.Millisecond

// sleepUntil waits for the deadline; false means the client went away or the
// server closed.
func (gen *generation) sleepUntil(deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= shortSleep {
		if d > 0 {
			time.Sleep(d)
		}
		return gen.ctx.Err() == nil && !gen.s.isClosed.Load()
	}
	t := gen.g.timer
	t.Reset(d)
	select {
	case <-t.C:
		return true
	case <-gen.ctx.Done():
	case <-gen.s.done:
	}
	t.Stop()
	return false
}

// wait sleeps through a non-streaming generation: first token at first, then
// outLen−1 gaps; a cut fault ends it at the cut's deadline with false.
func (gen *generation) wait(arrival, first time.Time) bool {
	if !gen.sleepUntil(first) {
		return false
	}
	m := gen.s.metrics
	m.ttft.Observe(first.Sub(arrival).Seconds())
	deadline := first
	varying := gen.cfg.TimeFactorUnderLoad > 1
	for i := 1; i < gen.outLen; i++ {
		if i == gen.cut {
			if !gen.sleepUntil(deadline) {
				return false
			}
			return false
		}
		gap := gen.nextGap()
		deadline = deadline.Add(gap)
		m.itl.Observe(gap.Seconds())
		if varying && !gen.sleepUntil(deadline) {
			return false
		}
	}
	if gen.cut == 0 || !gen.sleepUntil(deadline) {
		return false
	}
	return true
}

// startStream writes the response header of a server-sent-event stream and
// hands the stream to the server's pacer, which writes one chunk per token at
// its deadline (see pacer.go). From then on the pacer owns gen.g.
func (gen *generation) startStream(w http.ResponseWriter, r *http.Request, ep endpoint, id []byte, model string, arrival, first time.Time, finish string, includeUsage bool, promptTokens int) (*pacedStream, *http.ResponseController, bool) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return nil, nil, false
	}
	p := gen.s.pacer()
	if p == nil {
		return nil, nil, false
	}
	modelJSON, _ := json.Marshal(model)
	st := &pacedStream{
		gen: *gen, metrics: gen.s.metrics, arrival: arrival, next: first,
		ep: ep, id: id, created: strconv.AppendInt(nil, time.Now().Unix(), 10), modelJSON: modelJSON,
		finish: finish, includeUsage: includeUsage, promptTokens: promptTokens,
		wake: make(chan struct{}, 1),
	}
	st.conn, st.raw = directConn(r)
	st.writer = st.rawWrite
	st.prepareChunks()
	if !p.add(st) {
		return nil, nil, false
	}
	return st, rc, true
}

// responseID returns "chatcmpl-…" or "cmpl-…" with 24 hex digits, unique
// per server (salt) and request (n).
func responseID(ep endpoint, salt, n uint64) []byte {
	b := make([]byte, 0, 33)
	if ep == chatEndpoint {
		b = append(b, "chatcmpl-"...)
	} else {
		b = append(b, "cmpl-"...)
	}
	h := splitmix64(salt ^ splitmix64(n^0x5bd1e995))
	const hex = "0123456789abcdef"
	for i := 0; i < 16; i++ {
		b = append(b, hex[(h>>(60-4*i))&0xf])
	}
	for i := 0; i < 8; i++ {
		b = append(b, hex[(n>>(28-4*i))&0xf])
	}
	return b
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}

func joinQuoted(names []string) string {
	b := make([]byte, 0, 64)
	for i, n := range names {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendQuote(b, n)
	}
	return string(b)
}
