package fakeinference_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/burstbench/burst/fakeinference"
)

// The fidelity benchmark runs the server in a child process (this test
// binary, re-executed with benchServerEnv set), so that its CPU time is
// measured alone (rusage of the child), and drives it with a lean client
// (benchclient_linux_test.go): one epoll loop over one keep-alive connection
// per concurrent stream, closed loop, raw HTTP/1.1 and SSE parsing.
//
//	go test -run '^$' -bench StreamingFidelity -benchtime 1x ./fakeinference/
var (
	benchMeasure = flag.Duration("fi.measure", 6*time.Second, "fidelity benchmark: measured time per concurrency level, after one request time of ramp-up")
	benchSweep   = flag.String("fi.sweep", "100,250,500,750,1000,1250,1500,2000,3000", "fidelity benchmark: concurrency levels of the sweep, ascending")
)

const (
	benchServerEnv = "FAKEINFERENCE_BENCH_SERVER" // JSON config: run as the benchmark's server
	benchTTFT      = 100 * time.Millisecond
	benchITL       = 20 * time.Millisecond
	benchTokens    = 100
	benchLimit     = 2 * time.Millisecond // p99 deviation target
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(benchServerEnv); cfg != "" {
		os.Exit(benchServer(cfg))
	}
	os.Exit(m.Run())
}

// benchServer serves the JSON config on a loopback port, prints the address
// and serves until stdin closes.
func benchServer(cfgJSON string) int {
	var cfg fakeinference.Config
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench server config:", err)
		return 2
	}
	s, err := fakeinference.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if path := os.Getenv(benchServerEnv + "_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	fmt.Println(ln.Addr().String())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if err := s.Serve(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// benchChild is a running server process.
type benchChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

func startBenchServer(b *testing.B, cfg fakeinference.Config) *benchChild {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	j, _ := json.Marshal(cfg)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), benchServerEnv+"="+string(j))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start bench server: %v", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		b.Fatalf("bench server address: %v", err)
	}
	return &benchChild{cmd: cmd, stdin: stdin, addr: strings.TrimSpace(line)}
}

// stop ends the server and returns its CPU time (user + system).
func (c *benchChild) stop(b *testing.B) time.Duration {
	c.stdin.Close()
	if err := c.cmd.Wait(); err != nil {
		b.Errorf("bench server: %v", err)
	}
	return c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
}

var benchRequest = func() []byte {
	body := fmt.Sprintf(`{"model":"burst-fake-model","messages":[{"role":"user","content":"bench"}],"stream":true,"max_tokens":%d}`, benchTokens)
	return []byte("POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// errNoFidelityClient: the benchmark's client is an epoll loop (Linux only).
var errNoFidelityClient = errors.New("the fidelity benchmark's client needs Linux (epoll)")

var tokenMarker = []byte(`"delta":{"content":`)

// streamResult is what one connection measured within [t0, t1].
type streamResult struct {
	ttftDev, itlDev []time.Duration
	tokens          int // content tokens that arrived within [t0, t1]
	requests, errs  int
	err             error // the first error
}

// fidelity is what one concurrency level measured.
type fidelity struct {
	concurrency                      int
	ttftP50, ttftP99, itlP50, itlP99 time.Duration
	tokensPerSec                     float64
	cpuPer1kTokens                   time.Duration
	serverCores, clientCores         float64
	serverLateP99                    time.Duration // bucket bound of the server's own p99 token lateness
	serverLateOver                   float64       // fraction of tokens the server wrote > 2 ms late
	requests, errors                 int
	firstErr                         error
}

func (f fidelity) ok() bool {
	return f.errors == 0 && f.ttftP99 <= benchLimit && f.itlP99 <= benchLimit
}

func (f fidelity) String() string {
	return fmt.Sprintf("c=%d: TTFT dev p50 %.2fms p99 %.2fms, ITL dev p50 %.2fms p99 %.2fms, %.0f tokens/s, server %.4f CPU-s/1k tokens (%.2f cores), client %.2f cores, server-side lateness p99 ≤ %.1fms (%.2f%% > 2ms), %d requests, %d errors",
		f.concurrency, ms(f.ttftP50), ms(f.ttftP99), ms(f.itlP50), ms(f.itlP99), f.tokensPerSec, f.cpuPer1kTokens.Seconds(), f.serverCores, f.clientCores,
		ms(f.serverLateP99), 100*f.serverLateOver, f.requests, f.errors)
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// measureFidelity runs `concurrency` closed-loop streams against a fresh
// server process: ramp-up for one request time (stream starts spread evenly),
// then `measure` of steady state.
func measureFidelity(b *testing.B, concurrency int, measure time.Duration) fidelity {
	cfg := fakeinference.MustPreset(fakeinference.PresetInstant)
	cfg.PrefillOverhead, cfg.InterTokenLatency = benchTTFT, benchITL
	cfg.MaxNumSeqs, cfg.MaxWaitingQueueLength = 1000000, 1000000
	child := startBenchServer(b, cfg)
	wallStart := time.Now()
	clientStart := selfCPU()

	reqTime := benchTTFT + (benchTokens-1)*benchITL
	begin := time.Now()
	t0, t1 := begin.Add(reqTime), begin.Add(reqTime+measure)
	results, err := runStreams(child.addr, concurrency, reqTime, t0, t1)
	if err != nil {
		child.stop(b)
		if errors.Is(err, errNoFidelityClient) {
			b.Skip(err)
		}
		b.Fatalf("c=%d: %v", concurrency, err)
	}
	clientCPU := selfCPU() - clientStart
	lateP99, lateOver := serverLateness(b, child.addr)
	cpu := child.stop(b)
	wall := time.Since(wallStart)

	f := fidelity{concurrency: concurrency}
	var ttft, itl []time.Duration
	tokens := 0
	for _, r := range results {
		ttft = append(ttft, r.ttftDev...)
		itl = append(itl, r.itlDev...)
		tokens += r.tokens
		f.requests += r.requests
		f.errors += r.errs
		if r.err != nil && f.firstErr == nil {
			f.firstErr = r.err
		}
	}
	f.ttftP50, f.ttftP99 = percentile(ttft, 0.50), percentile(ttft, 0.99)
	f.itlP50, f.itlP99 = percentile(itl, 0.50), percentile(itl, 0.99)
	f.tokensPerSec = float64(tokens) / measure.Seconds()
	// The server streamed about tokens/s × wall over its whole life.
	if all := f.tokensPerSec * wall.Seconds(); all > 0 {
		f.cpuPer1kTokens = time.Duration(float64(cpu) / all * 1000)
	}
	f.serverCores = cpu.Seconds() / wall.Seconds()
	f.clientCores = clientCPU.Seconds() / wall.Seconds()
	f.serverLateP99, f.serverLateOver = lateP99, lateOver
	return f
}

// serverLateness reads fakeinference_token_lateness_seconds from the server:
// the upper bound of the bucket holding its p99, and the fraction above 2 ms.
func serverLateness(b *testing.B, addr string) (time.Duration, float64) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Errorf("scrape metrics: %v", err)
		return -1, -1
	}
	defer resp.Body.Close()
	type bucket struct {
		le  float64
		cum float64
	}
	var buckets []bucket
	var count, le2ms float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "fakeinference_token_lateness_seconds") {
			continue
		}
		fields := strings.Fields(line)
		v, _ := strconv.ParseFloat(fields[len(fields)-1], 64)
		switch {
		case strings.HasPrefix(line, "fakeinference_token_lateness_seconds_count"):
			count = v
		case strings.Contains(line, `le="+Inf"`):
		case strings.Contains(line, "_bucket"):
			i := strings.Index(line, `le="`)
			le, _ := strconv.ParseFloat(line[i+4:strings.Index(line[i+4:], `"`)+i+4], 64)
			buckets = append(buckets, bucket{le, v})
			if le == 0.002 {
				le2ms = v
			}
		}
	}
	if count == 0 {
		return -1, -1
	}
	p99 := time.Duration(-1)
	for _, bk := range buckets {
		if bk.cum >= 0.99*count {
			p99 = time.Duration(bk.le * float64(time.Second))
			break
		}
	}
	return p99, 1 - le2ms/count
}

// selfCPU returns this process's CPU time so far (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

func report(b *testing.B, f fidelity) {
	b.ReportMetric(ms(f.ttftP50), "ttft-dev-p50-ms")
	b.ReportMetric(ms(f.ttftP99), "ttft-dev-p99-ms")
	b.ReportMetric(ms(f.itlP50), "itl-dev-p50-ms")
	b.ReportMetric(ms(f.itlP99), "itl-dev-p99-ms")
	b.ReportMetric(f.tokensPerSec, "tokens/s")
	b.ReportMetric(f.cpuPer1kTokens.Seconds(), "server-cpu-s/1k-tokens")
	b.ReportMetric(f.serverCores, "server-cores")
	b.ReportMetric(f.clientCores, "client-cores")
	b.ReportMetric(100*f.serverLateOver, "server-late>2ms-%")
	b.ReportMetric(float64(f.errors), "errors")
}

// BenchmarkStreamingFidelity measures how faithfully the server keeps its
// latency model under load: 1,000 concurrent streaming requests of 100 tokens
// with TTFT 100 ms and ITL 20 ms (≈ 48,000 tokens/s), then a sweep for the
// largest concurrency whose p99 deviations stay ≤ 2 ms.
func BenchmarkStreamingFidelity(b *testing.B) {
	// The floor: how late a lone goroutine wakes from 20 ms sleeps on this
	// machine right now. The server cannot keep its model tighter than this.
	b.Run("baseline-sleep", func(b *testing.B) {
		var late []time.Duration
		for range b.N {
			late = late[:0]
			deadline := time.Now()
			for end := deadline.Add(*benchMeasure); deadline.Before(end); {
				deadline = deadline.Add(benchITL)
				time.Sleep(time.Until(deadline))
				late = append(late, time.Since(deadline))
			}
		}
		p50, p99 := percentile(late, 0.5), percentile(late, 0.99)
		b.Logf("a lone 20 ms sleeper wakes late by p50 %.2fms, p99 %.2fms", ms(p50), ms(p99))
		b.ReportMetric(ms(p50), "sleep-late-p50-ms")
		b.ReportMetric(ms(p99), "sleep-late-p99-ms")
	})
	b.Run("c=1000", func(b *testing.B) {
		var f fidelity
		for range b.N {
			f = measureFidelity(b, 1000, *benchMeasure)
		}
		b.Log(f)
		if f.errors > 0 {
			b.Errorf("%d streams failed, the first with: %v", f.errors, f.firstErr)
		}
		report(b, f)
	})
	b.Run("sweep", func(b *testing.B) {
		var levels []int
		for _, s := range strings.Split(*benchSweep, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				b.Fatalf("-fi.sweep: %q is not a concurrency", s)
			}
			levels = append(levels, n)
		}
		// Scheduling noise from other work on the machine can fail one level
		// and pass the next, so the sweep stops after two failures in a row.
		best := 0
		for range b.N {
			best = 0
			failures := 0
			for _, c := range levels {
				f := measureFidelity(b, c, *benchMeasure)
				b.Log(f)
				if !f.ok() {
					if failures++; failures == 2 {
						break
					}
					continue
				}
				failures = 0
				best = c
			}
		}
		b.ReportMetric(float64(best), "max-concurrency-p99<=2ms")
	})
}
