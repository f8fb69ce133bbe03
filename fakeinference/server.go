package fakeinference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ShutdownGrace is how long Serve lets in-flight requests finish after its
// context is cancelled, before it closes their connections.
const ShutdownGrace = 10 * time.Second

// maxBodyBytes bounds a request body.
const maxBodyBytes = 16 << 20

// Server is one fake inference server. Create it with New; it is safe for
// concurrent use. Close it when done: Close ends hung, queued and running
// requests (call it before httptest.Server.Close, which waits for them).
type Server struct {
	cfg      atomic.Pointer[Config]
	setMu    sync.Mutex // serialises SetConfig
	slots    *slots
	metrics  *metrics
	mux      *http.ServeMux
	started  time.Time
	created  int64  // unix seconds, for /v1/models
	idSalt   uint64 // makes response IDs unique across servers
	seq      atomic.Uint64
	done     chan struct{}
	closed   sync.Once
	isClosed atomic.Bool // done is closed

	inflight atomic.Int64
	pacing   struct {
		sync.Mutex
		p *pacer // started by the first streaming request
	}
	cold struct {
		sync.Mutex
		warm       bool
		readyAt    time.Time
		lastActive time.Time
	}
}

// New returns a server for cfg, or the configuration's problems (all of them,
// as Validate returns them).
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid fakeinference config: %w", err)
	}
	cfg.ServedModelName = append([]string(nil), cfg.ServedModelName...)
	s := &Server{
		slots:   newSlots(cfg.MaxNumSeqs, cfg.MaxWaitingQueueLength),
		started: time.Now(),
		done:    make(chan struct{}),
	}
	s.created = s.started.Unix()
	s.idSalt = uint64(s.started.UnixNano())
	s.cfg.Store(&cfg)
	s.metrics = newMetrics(cfg.servedNames()[0], s.slots)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.generateHandler(chatEndpoint, "/v1/chat/completions"))
	mux.HandleFunc("POST /v1/completions", s.generateHandler(completionEndpoint, "/v1/completions"))
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /health", s.handleHealth) // vLLM's path
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", s.metrics.handler)
	mux.HandleFunc("GET /admin/config", s.handleGetConfig)
	mux.HandleFunc("POST /admin/config", s.handlePostConfig)
	s.mux = mux
	return s, nil
}

// Handler returns the handler of every route: /v1/chat/completions,
// /v1/completions, /v1/models, /healthz (and /health), /readyz, /metrics and
// /admin/config.
func (s *Server) Handler() http.Handler { return s.mux }

// Config returns the configuration in effect.
func (s *Server) Config() Config {
	c := *s.cfg.Load()
	c.ServedModelName = append([]string(nil), c.ServedModelName...)
	return c
}

// SetConfig replaces the configuration for requests that arrive from now on,
// as POST /admin/config does; requests already running keep theirs, except
// that max-num-seqs and the queue bound apply at once. The host and port cannot
// change at runtime and are kept; the metrics keep the model name label they started
// with. An invalid c changes nothing and returns every problem.
func (s *Server) SetConfig(c Config) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("invalid fakeinference config: %w", err)
	}
	s.setMu.Lock()
	defer s.setMu.Unlock()
	old := s.cfg.Load()
	c.Host, c.Port = old.Host, old.Port
	c.ServedModelName = append([]string(nil), c.ServedModelName...)
	s.cfg.Store(&c)
	s.slots.setLimits(c.MaxNumSeqs, c.MaxWaitingQueueLength)
	return nil
}

// Close ends every hung, queued and running request (their connections are
// dropped) and makes later ones fail the same way. It is idempotent.
func (s *Server) Close() {
	s.closed.Do(func() {
		s.isClosed.Store(true)
		close(s.done)
		s.stopPacer()
	})
}

// Serve serves s.Handler() on ln until ctx is cancelled, then lets in-flight
// requests finish for up to ShutdownGrace, closes s and returns. It returns
// nil after a shutdown and the listener's error otherwise.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnContext:       s.ConnContext,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return fmt.Errorf("serve fakeinference on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	graceCtx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	shutdownErr := srv.Shutdown(graceCtx)
	s.Close()
	if shutdownErr != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve fakeinference on %s: %w", ln.Addr(), err)
	}
	return nil
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	left := s.cfg.Load().StartupDuration - time.Since(s.started)
	if left > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(left.Seconds()))))
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "loading model, ready in %v\n", left.Round(time.Millisecond))
		return
	}
	io.WriteString(w, "ok\n")
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	cfg := s.cfg.Load()
	type model struct {
		ID          string `json:"id"`
		Object      string `json:"object"`
		Created     int64  `json:"created"`
		OwnedBy     string `json:"owned_by"`
		Root        string `json:"root"`
		MaxModelLen int    `json:"max_model_len"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list"}
	for _, n := range cfg.servedNames() {
		list.Data = append(list.Data, model{ID: n, Object: "model", Created: s.created, OwnedBy: "fakeinference", Root: n, MaxModelLen: cfg.MaxModelLen})
	}
	writeJSON(w, http.StatusOK, list)
	s.metrics.countRequest("/v1/models", r.Method, http.StatusOK)
}

func (s *Server) handleGetConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Config())
}

// handlePostConfig applies a JSON or YAML object of keys over the current
// configuration; a "preset" key starts from that preset.
func (s *Server) handlePostConfig(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		writeAPIError(w, badRequest("", "read config: %v", err))
		return
	}
	c := s.Config()
	// Report the keys that did not parse and the problems of the rest together.
	if err := joinProblems(c.ApplyYAML(body), c.Validate()); err != nil {
		writeConfigError(w, err)
		return
	}
	if err := s.SetConfig(c); err != nil {
		writeConfigError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.Config())
}

// joinProblems joins parse and validation errors, leaving out validation
// problems of keys whose value did not parse (they would repeat them).
func joinProblems(parseErr, validateErr error) error {
	failed := map[string]bool{}
	errs := leaves(parseErr)
	for _, e := range errs {
		if fe := (*FieldError)(nil); errors.As(e, &fe) {
			failed[fe.Field] = true
		}
	}
	for _, e := range leaves(validateErr) {
		if fe := (*FieldError)(nil); errors.As(e, &fe) && failed[fe.Field] {
			continue
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// leaves returns the errors joined in err (recursively), or err itself.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// writeConfigError answers 400 in OpenAI's error shape, with every problem
// also listed under error.problems.
func writeConfigError(w http.ResponseWriter, err error) {
	var problems []string
	for _, e := range leaves(err) {
		problems = append(problems, e.Error())
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message": err.Error(), "type": "invalid_request_error", "param": nil, "code": "invalid_config", "problems": problems,
	}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	w.Write(append(body, '\n'))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeAPIError(w, &apiError{status: http.StatusInternalServerError, Message: "encode response: " + err.Error(), Type: "server_error"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// coldWait makes the request wait out a cold start when one is due, and
// reports when the wait ended (zero when there was none).
func (s *Server) coldWait(ctx context.Context, cfg *Config, now time.Time) (time.Time, error) {
	if cfg.ColdStartLatency <= 0 {
		return time.Time{}, nil
	}
	s.cold.Lock()
	readyAt := s.cold.readyAt
	if !now.Before(readyAt) {
		idle := cfg.ColdStartAfterIdle > 0 && s.inflight.Load() <= 1 && now.Sub(s.cold.lastActive) > cfg.ColdStartAfterIdle
		if !s.cold.warm || idle {
			s.cold.warm = true
			readyAt = now.Add(cfg.ColdStartLatency)
			s.cold.readyAt = readyAt
		}
	}
	s.cold.lastActive = now
	s.cold.Unlock()
	if !now.Before(readyAt) {
		return time.Time{}, nil
	}
	t := time.NewTimer(readyAt.Sub(now))
	defer t.Stop()
	select {
	case <-t.C:
		return readyAt, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	case <-s.done:
		return time.Time{}, errClosed
	}
}

// touch records activity for the cold-start idle clock.
func (s *Server) touch(now time.Time) {
	s.cold.Lock()
	if now.After(s.cold.lastActive) {
		s.cold.lastActive = now
	}
	s.cold.Unlock()
}
