// Package runner runs one measurement end to end: it prepares the queue and
// the inference endpoint, starts or deploys the workers, fires the profile,
// waits for the drain, collects what the workers recorded and hands it all to
// measure, then writes the run directory. The local target runs worker
// processes on this machine; the cluster target deploys them behind KEDA.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/burstbench/burst/fakeinference"
	"github.com/burstbench/burst/internal/loadgen"
	"github.com/burstbench/burst/internal/measure"
	"github.com/burstbench/burst/internal/observe"
	"github.com/burstbench/burst/internal/progress"
	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/loadprofiles"
	"github.com/burstbench/burst/results"
	"github.com/burstbench/burst/scenario"
)

// ErrBadInput marks errors caused by the scenario or flags (exit 2).
var ErrBadInput = errors.New("invalid input")

// Options configure a run.
type Options struct {
	// Scenario is the effective scenario (defaults applied, validated).
	Scenario *scenario.Scenario
	// Schedule is the profile's schedule.
	Schedule *loadprofiles.Schedule
	// RedisAddr is the Redis server (local target; on clusters the harness
	// reaches the in-cluster Redis through its own address).
	RedisAddr string
	// RunDir is the directory to write; empty: OutRoot/<UTC time>-<scenario>.
	RunDir  string
	OutRoot string
	// RunID names the run; empty: derived from the time and scenario.
	RunID string
	// Config holds sweep settings recorded in the summary.
	Config map[string]string
	// WorkerCommand is the argv prefix that starts one worker process (local
	// target), e.g. [/usr/bin/burst worker].
	WorkerCommand []string
	// Version is burst's version for the summary.
	Version string
	// Progress shows bars; Log receives status lines (stderr).
	Progress *progress.Progress
	Log      io.Writer
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, "burst: "+format+"\n", args...)
	}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// runID returns the run id and directory.
func (o *Options) runDir(start time.Time) (id, dir string) {
	id = o.RunID
	if id == "" {
		id = start.UTC().Format("20060102T150405Z") + "-" + unsafeChars.ReplaceAllString(o.Scenario.Name, "_")
	}
	dir = o.RunDir
	if dir == "" {
		root := o.OutRoot
		if root == "" {
			root = "results"
		}
		dir = filepath.Join(root, id)
	}
	return id, dir
}

// startFake starts the fake inference server in-process on a loopback port
// and returns its base URL (…/v1) and model name.
func startFake(ctx context.Context, sc *scenario.Scenario) (endpoint, model string, stop func(), err error) {
	cfg, err := fakeinference.Preset(sc.Inference.Preset)
	if err != nil {
		return "", "", nil, fmt.Errorf("%w: inference.preset: %v", ErrBadInput, err)
	}
	for k, v := range sc.Inference.Fake {
		if err := cfg.Set(k, v); err != nil {
			return "", "", nil, fmt.Errorf("%w: inference.fake.%s: %v", ErrBadInput, k, err)
		}
	}
	srv, err := fakeinference.New(cfg)
	if err != nil {
		return "", "", nil, fmt.Errorf("%w: inference.fake: %v", ErrBadInput, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", nil, fmt.Errorf("listen for the fake inference server: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { _ = srv.Serve(sctx, ln); close(done) }()
	model = cfg.Model
	if len(cfg.ServedModelName) > 0 {
		model = cfg.ServedModelName[0]
	}
	return "http://" + ln.Addr().String() + "/v1", model, func() { cancel(); <-done }, nil
}

// collected is what a run observed, before measuring.
type collected struct {
	started, finished time.Time
	report            *loadgen.Report
	timeline          *observe.Timeline
}

// waitDrain waits until every sent task is finished (lag 0 and pending 0 with
// all records written) or the timeout passes. It returns whether it drained.
func waitDrain(ctx context.Context, q *queue.Client, sent int, timeout time.Duration, bar *progress.Bar) (bool, error) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := q.Sample(ctx)
		if err != nil {
			bar.Done(err)
			if ctx.Err() != nil {
				return false, nil
			}
			return false, fmt.Errorf("wait for the drain: %w", err)
		}
		bar.SetCurrent(min(st.Results, int64(sent)))
		if st.GroupExists && st.Lag == 0 && st.Pending == 0 {
			bar.Done(nil)
			return true, nil
		}
		if time.Now().After(deadline) {
			bar.Status("not drained after %s: lag %d, pending %d", timeout, st.Lag, st.Pending)
			bar.Done(errors.New("timeout"))
			return false, nil
		}
		select {
		case <-ctx.Done():
			bar.Done(ctx.Err())
			return false, nil
		case <-tick.C:
		}
	}
}

// finish reads what the workers recorded, measures and writes the run.
func finish(ctx context.Context, o *Options, q *queue.Client, c collected, in measure.Input, dir string) (*results.Run, error) {
	// Results and the final queue state are read even after Ctrl-C.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	final, err := q.Sample(rctx)
	if err != nil {
		return nil, fmt.Errorf("read the final queue state: %w", err)
	}
	c.timeline.Add(observe.Event{At: final.At, Source: "redis", Kind: "final", Values: map[string]float64{
		"length": float64(final.Length), "pending": float64(final.Pending), "lag": float64(final.Lag), "results": float64(final.Results)}})
	pending, err := q.Pending(rctx)
	if err != nil {
		return nil, err
	}
	rs, bad, err := q.Results(rctx, "")
	if err != nil {
		return nil, fmt.Errorf("read result records: %w", err)
	}
	in.Scenario = o.Scenario
	in.Config = o.Config
	in.Started, in.Finished = c.started, time.Now()
	in.Loadgen = c.report
	in.Results, in.BadResults = rs, bad
	in.Pending, in.Final = pending, final
	in.Events = c.timeline.Events()
	for _, e := range in.Events {
		if strings.HasPrefix(e.Message, "ALARM") {
			in.Alarms = append(in.Alarms, strings.TrimPrefix(e.Message, "ALARM: "))
		}
	}
	run := measure.Compute(in)
	if err := results.Write(dir, run); err != nil {
		return run, err
	}
	return run, nil
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
