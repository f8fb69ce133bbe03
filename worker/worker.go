package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/burstbench/burst/internal/queue"
)

// recordTimeout bounds the Redis write of a result record. The write runs
// even after the shutdown grace has expired: a finished task's record is
// worth keeping (otherwise the task runs again elsewhere).
const recordTimeout = 10 * time.Second

// worker is the state of one Run.
type worker struct {
	cfg   Config
	log   *slog.Logger
	q     *queue.Client
	inf   *inference
	m     *metrics
	ready atomic.Bool

	// slots holds one token per running task (and per slot a read or reclaim
	// has reserved); its capacity is the concurrency.
	slots chan struct{}

	mu       sync.Mutex
	inflight map[string]*job // by entry id
	tasks    sync.WaitGroup
}

// job is one delivery being worked on.
type job struct {
	d    queue.Delivery
	lost atomic.Bool // another consumer took the entry over (or acked it)
	// recording is set before the result is written: the ack that follows
	// makes the entry vanish from the pending list, which is not a loss.
	recording atomic.Bool
}

// Run runs a worker until ctx is cancelled, then shuts down gracefully: it
// stops reading and reclaiming, lets in-flight tasks finish for up to
// cfg.ShutdownGrace, leaves every other entry pending for reclaim, and
// returns nil. It returns an error when the configuration is invalid (a
// *ConfigError), when the HTTP listener cannot be opened or when Redis cannot
// be reached at start. A nil log discards logs.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("consumer", cfg.Consumer)
	w := &worker{
		cfg:      cfg,
		log:      log,
		m:        newMetrics(cfg.Concurrency),
		slots:    make(chan struct{}, cfg.Concurrency),
		inflight: map[string]*job{},
	}
	w.inf = newInference(cfg, w.m)
	log.Info("worker starting", "config", cfg)

	var hs *httpServer
	if cfg.HTTPAddr != "off" {
		var err error
		if hs, err = startHTTP(cfg.HTTPAddr, w.m, &w.ready, log); err != nil {
			return err
		}
		defer hs.shutdown()
	}

	if cfg.StartupDelay > 0 {
		log.Info("startup delay", "duration", cfg.StartupDelay)
		select {
		case <-ctx.Done():
			log.Info("worker stopped during startup delay")
			return nil
		case <-time.After(cfg.StartupDelay):
		}
	}

	q, err := queue.Dial(ctx, queue.Options{
		Addr: cfg.RedisAddr, Password: cfg.RedisPassword, Keys: cfg.Keys(),
		PoolSize: cfg.Concurrency + 8,
	})
	if err != nil {
		if ctx.Err() != nil {
			log.Info("worker stopped before reaching redis")
			return nil
		}
		return fmt.Errorf("start worker %s: %w", cfg.Consumer, err)
	}
	defer q.Close()
	w.q = q
	if err := q.EnsureGroup(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("start worker %s: %w", cfg.Consumer, err)
	}

	// Tasks run on workCtx, which outlives ctx by the shutdown grace.
	workCtx, cancelWork := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelWork(nil)
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(cfg.ShutdownGrace, func() {
			cancelWork(errors.New("shutdown grace period expired"))
		})
		context.AfterFunc(workCtx, func() { t.Stop() })
	})
	defer stopGrace()

	hbCtx, stopHeartbeat := context.WithCancel(context.Background())
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); w.heartbeat(hbCtx) }()

	w.ready.Store(true)
	w.m.ready.Set(1)
	log.Info("worker ready", "stream", cfg.Keys().Stream, "group", cfg.Keys().Group, "concurrency", cfg.Concurrency)

	w.loop(ctx, workCtx)

	// Shutdown: nothing new starts; wait for in-flight tasks (the grace timer
	// cancels workCtx when it expires, and the tasks then return unacked).
	w.ready.Store(false)
	w.m.ready.Set(0)
	n := w.inFlight()
	log.Info("worker stopping", "in_flight", n, "grace", cfg.ShutdownGrace)
	start := time.Now()
	w.tasks.Wait()
	expired := workCtx.Err() != nil
	cancelWork(nil)
	stopHeartbeat()
	<-hbDone

	rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	removed, err := q.RemoveConsumerIfIdle(rctx, cfg.Consumer)
	if err != nil {
		log.Warn("could not remove consumer from group", "err", err)
	}
	log.Info("worker stopped", "waited", time.Since(start).Round(time.Millisecond),
		"grace_expired", expired, "consumer_removed", removed)
	return nil
}

// loop reads and reclaims entries while ctx lives, never asking for more
// entries than there are free slots, and starts a task for each.
func (w *worker) loop(ctx, workCtx context.Context) {
	limit := w.cfg.Concurrency
	if w.cfg.ReadCount > 0 && w.cfg.ReadCount < limit {
		limit = w.cfg.ReadCount
	}
	var lastReclaim time.Time
	var readErrs, reclaimErrs int
	for {
		// Wait for one free slot, then take as many more as are free now.
		select {
		case <-ctx.Done():
			return
		case w.slots <- struct{}{}:
		}
		n := 1
		for n < limit && w.tryAcquire() {
			n++
		}

		if time.Since(lastReclaim) >= w.cfg.ReclaimInterval {
			lastReclaim = time.Now()
			ds, err := w.q.Reclaim(ctx, w.cfg.Consumer, w.cfg.ReclaimMinIdle, n)
			switch {
			case ctx.Err() != nil:
				w.release(n)
				return
			case err != nil:
				// Entries claimed before the error stay pending (to us) and
				// are reclaimed again after min-idle.
				w.m.redisErrs.WithLabelValues("reclaim").Inc()
				if reclaimErrs == 0 {
					w.log.Warn("reclaim failed", "err", err)
				}
				reclaimErrs++
			default:
				if reclaimErrs > 0 {
					w.log.Info("reclaim recovered", "failures", reclaimErrs)
					reclaimErrs = 0
				}
				if len(ds) > 0 {
					w.log.Info("reclaimed entries", "count", len(ds), "first", ds[0].EntryID)
				}
				n -= w.dispatch(workCtx, ds, "reclaim")
			}
			if n == 0 {
				continue
			}
		}

		ds, err := w.q.Read(ctx, w.cfg.Consumer, n, w.cfg.Block)
		if ctx.Err() != nil {
			w.release(n)
			if len(ds) > 0 {
				// Read but not started: they stay pending for reclaim.
				w.m.abandoned.WithLabelValues("shutdown").Add(float64(len(ds)))
				w.log.Info("left entries read during shutdown pending for reclaim", "count", len(ds))
			}
			return
		}
		if err != nil {
			w.release(n)
			w.m.redisErrs.WithLabelValues("read").Inc()
			if readErrs == 0 {
				w.log.Warn("read failed; retrying", "err", err)
			}
			readErrs++
			sleep(ctx, min(5*time.Second, 100*time.Millisecond<<min(readErrs, 6)))
			continue
		}
		if readErrs > 0 {
			w.log.Info("read recovered", "failures", readErrs)
			readErrs = 0
		}
		used := w.dispatch(workCtx, ds, "read")
		w.release(n - used)
	}
}

func (w *worker) tryAcquire() bool {
	select {
	case w.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (w *worker) release(n int) {
	for i := 0; i < n; i++ {
		<-w.slots
	}
}

// dispatch starts a task for each delivery, each on a slot the caller holds,
// and returns how many slots it used. An entry that is already running here
// (reclaimed from ourselves) is skipped.
func (w *worker) dispatch(workCtx context.Context, ds []queue.Delivery, source string) int {
	used := 0
	for _, d := range ds {
		w.m.received.WithLabelValues(source).Inc()
		j := &job{d: d}
		w.mu.Lock()
		_, dup := w.inflight[d.EntryID]
		if !dup {
			w.inflight[d.EntryID] = j
		}
		w.mu.Unlock()
		if dup {
			w.log.Warn("reclaimed an entry that is running here; ignoring the second copy", "entry", d.EntryID)
			continue
		}
		used++
		w.tasks.Add(1)
		w.m.inFlight.Inc()
		go func() {
			defer func() {
				w.mu.Lock()
				delete(w.inflight, d.EntryID)
				w.mu.Unlock()
				w.m.inFlight.Dec()
				w.release(1)
				w.tasks.Done()
			}()
			w.handle(workCtx, j)
		}()
	}
	return used
}

func (w *worker) inFlight() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.inflight)
}

// heartbeat resets the idle time of in-flight entries so other workers'
// reclaim does not take over tasks that are merely long.
func (w *worker) heartbeat(ctx context.Context) {
	t := time.NewTicker(w.cfg.heartbeat())
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		ids := make([]string, 0, len(w.inflight))
		jobs := make(map[string]*job, len(w.inflight))
		for id, j := range w.inflight {
			if !j.lost.Load() {
				ids = append(ids, id)
				jobs[id] = j
			}
		}
		w.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		lost, err := w.q.Touch(ctx, w.cfg.Consumer, ids)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.m.redisErrs.WithLabelValues("touch").Inc()
			if failures == 0 {
				w.log.Warn("heartbeat failed; in-flight entries may be reclaimed by others", "err", err)
			}
			failures++
			continue
		}
		if failures > 0 {
			w.log.Info("heartbeat recovered", "failures", failures)
			failures = 0
		}
		for _, id := range lost {
			j := jobs[id]
			if j == nil || j.recording.Load() || j.lost.Swap(true) {
				continue
			}
			w.m.lost.Inc()
			w.log.Warn("in-flight entry was taken over or acked by another consumer; its result may be duplicated", "entry", id)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
