package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/burstbench/burst/internal/queue"
)

// handle runs one delivery to its end: a result record and an ack (completed,
// failed or dead-lettered), or nothing, leaving the entry pending for reclaim.
func (w *worker) handle(ctx context.Context, j *job) {
	d := j.d
	max := int64(w.cfg.MaxDeliveries)
	log := w.log.With("entry", d.EntryID, "deliveries", d.Count)
	t, perr := queue.ParseTask(d.Values)
	res := queue.Result{
		TaskID:     t.ID,
		Run:        t.Run,
		EntryID:    d.EntryID,
		Consumer:   w.cfg.Consumer,
		Enqueued:   t.Sent,
		Read:       d.Read,
		Deliveries: d.Count,
		Steps:      t.Steps,
	}
	if t.ID != "" {
		log = log.With("task", t.ID)
	}

	// A delivery beyond the maximum: an earlier one reached it and died (or
	// was stopped) before it could record anything. Do not run it again.
	if d.Count > max {
		w.deadLetter(j, res, fmt.Sprintf("delivered %d times, more than MAX_DELIVERIES=%d", d.Count, max), log)
		return
	}
	if perr != nil {
		if d.Count >= max {
			w.deadLetter(j, res, fmt.Sprintf("undecodable entry after %d deliveries: %v", d.Count, perr), log)
			return
		}
		w.m.abandoned.WithLabelValues("undecodable").Inc()
		log.Warn("undecodable entry left pending; it is dead-lettered at MAX_DELIVERIES", "err", perr, "max_deliveries", max)
		return
	}

	res.Started = time.Now()
	for i := 0; i < t.Steps; i++ {
		sr, err := w.inf.step(ctx, t, i)
		res.Attempts += sr.Attempts
		if err != nil {
			var se *stepError
			if !errors.As(err, &se) {
				se = &stepError{kind: kindRetryable, reason: "other", err: err}
			}
			res.Error = fmt.Sprintf("step %d/%d: %v", i+1, t.Steps, se)
			switch {
			case se.kind == kindAborted || ctx.Err() != nil:
				w.m.abandoned.WithLabelValues("shutdown").Inc()
				log.Info("task interrupted by shutdown; left pending for reclaim", "step", i+1)
			case se.kind == kindFatal:
				res.Status = queue.StatusFailed
				res.Finished = time.Now()
				w.record(j, res, log)
			case d.Count >= max:
				w.deadLetter(j, res, fmt.Sprintf("inference failed on delivery %d of %d: %s", d.Count, max, res.Error), log)
			default:
				w.m.abandoned.WithLabelValues("retries_exhausted").Inc()
				log.Warn("inference retries exhausted; task left pending for reclaim", "err", res.Error, "max_deliveries", max)
			}
			return
		}
		res.TTFT = append(res.TTFT, sr.TTFT)
		res.PromptTokens += sr.PromptTokens
		res.OutputTokens += sr.OutputTokens
	}
	res.Status = queue.StatusCompleted
	res.Finished = time.Now()
	if w.record(j, res, log) {
		w.m.taskDur.Observe(res.Finished.Sub(res.Started).Seconds())
	}
}

// record writes the result and acks (queue.Client.Complete). On failure the
// entry stays pending and is redelivered.
func (w *worker) record(j *job, res queue.Result, log *slog.Logger) bool {
	j.recording.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	if err := w.q.Complete(ctx, j.d.EntryID, res); err != nil {
		w.m.redisErrs.WithLabelValues("record").Inc()
		w.m.abandoned.WithLabelValues("record_failed").Inc()
		log.Warn("could not record result; entry left pending for reclaim", "err", err)
		return false
	}
	w.m.tasks.WithLabelValues(string(res.Status)).Inc()
	log.Debug("task finished", "status", res.Status, "attempts", res.Attempts,
		"service", res.Finished.Sub(res.Started), "duplicate_possible", j.lost.Load())
	return true
}

// deadLetter moves the entry to the dead-letter stream with a dead_lettered
// result record, and acks it (queue.Client.DeadLetter).
func (w *worker) deadLetter(j *job, res queue.Result, reason string, log *slog.Logger) {
	j.recording.Store(true)
	res.Status = queue.StatusDeadLettered
	res.Finished = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	if err := w.q.DeadLetter(ctx, j.d, res, reason); err != nil {
		w.m.redisErrs.WithLabelValues("record").Inc()
		w.m.abandoned.WithLabelValues("record_failed").Inc()
		log.Warn("could not dead-letter entry; left pending for reclaim", "err", err)
		return
	}
	w.m.tasks.WithLabelValues(string(queue.StatusDeadLettered)).Inc()
	log.Warn("entry dead-lettered", "reason", reason)
}
