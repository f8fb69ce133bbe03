package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/burstbench/burst/internal/loadgen"
	"github.com/burstbench/burst/internal/measure"
	"github.com/burstbench/burst/internal/observe"
	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/results"
)

// Local runs the scenario on this machine: a Redis server at o.RedisAddr, the
// fake inference server in-process (unless the scenario names an endpoint)
// and worker.replicas worker processes started with o.WorkerCommand.
func Local(ctx context.Context, o Options) (*results.Run, error) {
	sc := o.Scenario
	if len(o.WorkerCommand) == 0 {
		return nil, errors.New("local target: no worker command")
	}
	keys := queue.KeysFor(sc.Redis.Prefix)
	q, err := queue.Dial(ctx, queue.Options{Addr: o.RedisAddr, Keys: keys, MaxLen: sc.Scaler.StreamMaxLen, DialTimeout: 4 * time.Second})
	if err != nil {
		return nil, err
	}
	defer q.Close()
	redisVersion, err := q.ServerVersion(ctx)
	if err != nil {
		return nil, err
	}
	if err := q.Reset(ctx); err != nil {
		return nil, err
	}

	endpoint, model := sc.Inference.Endpoint, sc.Inference.Model
	if endpoint == "" {
		var stop func()
		endpoint, model, stop, err = startFake(ctx, sc)
		if err != nil {
			return nil, err
		}
		defer stop()
		o.logf("fake inference server (preset %s) at %s", sc.Inference.Preset, endpoint)
	}

	started := time.Now()
	runID, dir := o.runDir(started)
	if err := os.MkdirAll(filepath.Join(dir, "workers"), 0o755); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}

	// Workers.
	n := sc.Worker.Replicas
	procs := make([]*exec.Cmd, 0, n)
	exited := make(chan error, n)
	stopAll := func(sig syscall.Signal) {
		for _, p := range procs {
			_ = p.Process.Signal(sig)
		}
	}
	defer stopAll(syscall.SIGKILL)
	workersStart := time.Now()
	var readyURLs []string
	for i := range n {
		name := fmt.Sprintf("local-worker-%d", i)
		logf, err := os.Create(filepath.Join(dir, "workers", name+".log"))
		if err != nil {
			return nil, fmt.Errorf("create worker log: %w", err)
		}
		defer logf.Close()
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		httpAddr := fmt.Sprintf("127.0.0.1:%d", port)
		readyURLs = append(readyURLs, "http://"+httpAddr+"/readyz")
		cmd := exec.Command(o.WorkerCommand[0], o.WorkerCommand[1:]...)
		cmd.Env = append(os.Environ(), workerEnv(o, endpoint, model, name, httpAddr)...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start worker %s: %w", name, err)
		}
		procs = append(procs, cmd)
		go func() { exited <- fmt.Errorf("worker %s exited: %v (log: %s)", name, cmd.Wait(), logf.Name()) }()
	}
	o.logf("started %d worker processes (logs in %s)", n, filepath.Join(dir, "workers"))
	if err := waitReady(ctx, readyURLs, 60*time.Second+sc.Worker.StartupDelay.Duration, exited); err != nil {
		return nil, err
	}

	// Observe and fire.
	tl := &observe.Timeline{}
	sampler := &observe.RedisSampler{Queue: q, Interval: sc.Run.SampleInterval.Duration, Timeline: tl}
	sctx, stopSampler := context.WithCancel(context.WithoutCancel(ctx))
	samplerDone := make(chan struct{})
	go func() { _ = sampler.Run(sctx); close(samplerDone) }()

	bar := o.Progress.Counter("enqueue", int64(len(o.Schedule.Arrivals)))
	rep, genErr := loadgen.Run(ctx, loadgen.Options{Run: runID, Arrivals: o.Schedule.Arrivals, Queue: q, Bar: bar})
	bar.Done(genErr)
	drained := false
	if rep != nil && ctx.Err() == nil {
		dbar := o.Progress.Counter("drain", int64(rep.Sent))
		drained, err = waitDrain(ctx, q, rep.Sent, sc.Run.Timeout.Duration, dbar)
		if err != nil {
			stopSampler()
			<-samplerDone
			return nil, err
		}
	}

	// Graceful stop: SIGTERM, then wait for the grace period.
	stopAll(syscall.SIGTERM)
	grace := time.After(sc.Worker.TerminationGracePeriod.Duration + 5*time.Second)
	for range procs {
		select {
		case <-exited:
		case <-grace:
		}
	}
	workersEnd := time.Now()
	stopSampler()
	<-samplerDone

	in := measure.Input{RunID: runID, Target: "local", Replicas: n, WorkersStart: workersStart, WorkersEnd: workersEnd,
		Versions: results.Versions{Burst: o.Version, Redis: redisVersion}}
	if !drained {
		in.Alarms = append(in.Alarms, fmt.Sprintf("the queue did not drain within run.timeout (%s)", sc.Run.Timeout.Duration))
	}
	if genErr != nil {
		in.Alarms = append(in.Alarms, genErr.Error())
	}
	run, err := finish(ctx, &o, q, collected{started: started, report: rep, timeline: tl}, in, dir)
	if err != nil {
		return run, err
	}
	if genErr != nil && rep == nil {
		return run, genErr
	}
	return run, nil
}

func workerEnv(o Options, endpoint, model, name, httpAddr string) []string {
	sc := o.Scenario
	w := sc.Worker
	env := []string{
		"REDIS_ADDR=" + o.RedisAddr,
		"STREAM_PREFIX=" + sc.Redis.Prefix,
		"CONSUMER_NAME=" + name,
		"CONCURRENCY=" + strconv.Itoa(w.Concurrency),
		"READ_COUNT=" + strconv.Itoa(w.ReadCount),
		"INFERENCE_ENDPOINT=" + endpoint,
		"MODEL_NAME=" + model,
		"MAX_DELIVERIES=" + strconv.Itoa(w.MaxDeliveries),
		"MAX_RETRIES=" + strconv.Itoa(w.MaxRetries),
		"RECLAIM_MIN_IDLE=" + w.ReclaimMinIdle.String(),
		"CALL_TIMEOUT=" + w.CallTimeout.String(),
		"SHUTDOWN_GRACE=" + w.TerminationGracePeriod.String(),
		"STARTUP_DELAY=" + w.StartupDelay.String(),
		"HTTP_ADDR=" + httpAddr,
		"LOG_FORMAT=text",
	}
	if sc.Inference.APIKeyEnv != "" {
		env = append(env, "INFERENCE_API_KEY="+os.Getenv(sc.Inference.APIKeyEnv))
	}
	for k, v := range w.Env {
		env = append(env, k+"="+v)
	}
	return env
}

// waitReady waits until every worker's /readyz answers 200 (after its
// startup delay, once it reads from the group).
func waitReady(ctx context.Context, urls []string, timeout time.Duration, exited <-chan error) error {
	deadline := time.After(timeout)
	client := &http.Client{Timeout: time.Second}
	ready := make([]bool, len(urls))
	for {
		n := 0
		for i, u := range urls {
			if !ready[i] {
				if resp, err := client.Get(u); err == nil {
					resp.Body.Close()
					ready[i] = resp.StatusCode == http.StatusOK
				}
			}
			if ready[i] {
				n++
			}
		}
		if n == len(urls) {
			return nil
		}
		select {
		case err := <-exited:
			return err
		case <-deadline:
			return fmt.Errorf("only %d of %d workers were ready within %s", n, len(urls), timeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port for a worker: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
