package worker_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burstbench/burst/fakeinference"
	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/internal/redistest"
	"github.com/burstbench/burst/worker"
)

// redisAddr is the address of the redis-server TestMain starts for the
// package; tests keep apart by key prefix.
var redisAddr string

func TestMain(m *testing.M) {
	s, stop, err := redistest.StartMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start redis-server:", err)
		os.Exit(1)
	}
	redisAddr = s.Addr
	code := m.Run()
	stop()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// fake starts the real fake inference server from preset "instant", changed
// by mutate, behind httptest, and returns its OpenAI base URL and the server.
func fake(t *testing.T, mutate func(*fakeinference.Config)) (string, *fakeinference.Server) {
	t.Helper()
	cfg, err := fakeinference.Preset("instant")
	if err != nil {
		t.Fatalf("fakeinference.Preset: %v", err)
	}
	cfg.Seed = 7
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := fakeinference.New(cfg)
	if err != nil {
		t.Fatalf("fakeinference.New: %v", err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Start()
	t.Cleanup(func() {
		srv.Close() // ends hung requests first
		ts.CloseClientConnections()
		ts.Close()
	})
	return ts.URL + "/v1", srv
}

// slow makes every call take about n×itl after the first token.
func slow(itl time.Duration) func(*fakeinference.Config) {
	return func(c *fakeinference.Config) { c.InterTokenLatency = itl }
}

// env is one test pipeline: a key prefix on the shared Redis and a client.
type env struct {
	t        *testing.T
	prefix   string
	endpoint string
	q        *queue.Client
	run      string
}

func newEnv(t *testing.T, endpoint string) *env {
	t.Helper()
	prefix := redistest.Prefix(t)
	q, err := queue.Dial(context.Background(), queue.Options{Addr: redisAddr, Keys: queue.KeysFor(prefix)})
	if err != nil {
		t.Fatalf("dial redis: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	if err := q.Reset(context.Background()); err != nil {
		t.Fatalf("reset streams: %v", err)
	}
	return &env{t: t, prefix: prefix, endpoint: endpoint, q: q, run: "r" + prefix[len(prefix)-6:]}
}

// config is a worker configuration with short timings for tests.
func (e *env) config(consumer string, concurrency int) worker.Config {
	c := worker.Defaults()
	c.RedisAddr = redisAddr
	c.StreamPrefix = e.prefix
	c.Consumer = consumer
	c.Concurrency = concurrency
	c.Endpoint = e.endpoint
	c.Block = 200 * time.Millisecond
	c.CallTimeout = 5 * time.Second
	c.BackoffBase = 10 * time.Millisecond
	c.BackoffMax = 100 * time.Millisecond
	c.ReclaimMinIdle = 500 * time.Millisecond
	c.ReclaimInterval = 200 * time.Millisecond
	c.ShutdownGrace = 10 * time.Second
	c.HTTPAddr = "off"
	return c
}

// env returns the configuration as the environment of a worker process.
func (e *env) processEnv(consumer string, concurrency int, extra ...string) []string {
	c := e.config(consumer, concurrency)
	vars := []string{
		"REDIS_ADDR=" + c.RedisAddr,
		"STREAM_PREFIX=" + c.StreamPrefix,
		"CONSUMER_NAME=" + consumer,
		fmt.Sprintf("CONCURRENCY=%d", concurrency),
		"INFERENCE_ENDPOINT=" + c.Endpoint,
		"BLOCK=" + c.Block.String(),
		"CALL_TIMEOUT=" + c.CallTimeout.String(),
		"BACKOFF_BASE=" + c.BackoffBase.String(),
		"BACKOFF_MAX=" + c.BackoffMax.String(),
		"RECLAIM_MIN_IDLE=" + c.ReclaimMinIdle.String(),
		"RECLAIM_INTERVAL=" + c.ReclaimInterval.String(),
		"SHUTDOWN_GRACE=" + c.ShutdownGrace.String(),
		"HTTP_ADDR=127.0.0.1:0",
		"LOG_LEVEL=debug",
		"PATH=" + os.Getenv("PATH"),
	}
	return append(vars, extra...)
}

// enqueue adds n tasks of the run and returns their ids.
func (e *env) enqueue(n, steps, promptTokens, outputTokens int) []string {
	e.t.Helper()
	tasks := make([]queue.Task, n)
	ids := make([]string, n)
	now := time.Now()
	for i := range tasks {
		id := queue.TaskID(e.run, int64(i))
		tasks[i] = queue.Task{ID: id, Run: e.run, Seq: int64(i), Steps: steps,
			PromptTokens: promptTokens, OutputTokens: outputTokens, Intended: now, Sent: now}
		ids[i] = id
	}
	if _, err := e.q.Enqueue(context.Background(), tasks); err != nil {
		e.t.Fatalf("enqueue: %v", err)
	}
	return ids
}

func (e *env) sample() queue.Stats {
	e.t.Helper()
	s, err := e.q.Sample(context.Background())
	if err != nil {
		e.t.Fatalf("sample queue: %v", err)
	}
	return s
}

func (e *env) results() []queue.Result {
	e.t.Helper()
	rs, bad, err := e.q.Results(context.Background(), "")
	if err != nil {
		e.t.Fatalf("read results: %v", err)
	}
	if len(bad) > 0 {
		e.t.Fatalf("undecodable result records: %v", bad)
	}
	return rs
}

// byTask groups results by task id.
func byTask(rs []queue.Result) map[string][]queue.Result {
	m := map[string][]queue.Result{}
	for _, r := range rs {
		m[r.TaskID] = append(m[r.TaskID], r)
	}
	return m
}

// waitDrained waits until every id has a result and nothing is pending or
// undelivered, and returns the results.
func (e *env) waitDrained(ids []string, timeout time.Duration) []queue.Result {
	e.t.Helper()
	var rs []queue.Result
	var s queue.Stats
	waitFor(e.t, timeout, func() bool {
		s = e.sample()
		if s.Pending != 0 || s.Lag != 0 {
			return false
		}
		rs = e.results()
		got := byTask(rs)
		for _, id := range ids {
			if len(got[id]) == 0 {
				return false
			}
		}
		return true
	}, func() string {
		return fmt.Sprintf("queue not drained: pending %d lag %d results %d of %d tasks", s.Pending, s.Lag, len(byTask(rs)), len(ids))
	})
	return rs
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, msg())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startWorker runs an in-process worker until the test ends (or stop is
// called), returning once it is ready, and fails the test if Run returns an
// error.
func startWorker(t *testing.T, cfg worker.Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() { done <- worker.Run(ctx, cfg, log) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "worker ready") {
		select {
		case err := <-done:
			t.Fatalf("worker %s: Run returned %v before it was ready; log:\n%s", cfg.Consumer, err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %s not ready after 10s; log:\n%s", cfg.Consumer, logs.String())
		}
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("worker %s: Run returned %v", cfg.Consumer, err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("worker %s did not stop within 15s", cfg.Consumer)
			}
			if t.Failed() {
				t.Logf("worker %s log:\n%s", cfg.Consumer, logs.String())
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// workerBinary builds cmd/worker once per test binary run.
func workerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "burst-worker-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "worker")
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(goBin, "build", "-o", binPath, "github.com/burstbench/burst/cmd/worker")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build cmd/worker: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a worker process.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

// startProc starts the worker binary with the given environment.
func startProc(t *testing.T, name string, envv []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(workerBinary(t), args...)
	p.cmd.Env = envv
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start worker process %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("worker process %s stderr:\n%s", name, p.stderr.String())
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("worker process %s still running after %s", p.name, timeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitLog waits until the process has logged a line containing s.
func (p *proc) waitLog(s string, timeout time.Duration) string {
	p.t.Helper()
	var line string
	waitFor(p.t, timeout, func() bool {
		for _, l := range strings.Split(p.stderr.String(), "\n") {
			if strings.Contains(l, s) {
				line = l
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("worker process %s never logged %q", p.name, s) })
	return line
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
