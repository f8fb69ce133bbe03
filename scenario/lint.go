package scenario

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Finding is one KEDA pitfall found in a scenario: what will happen, why, and
// how to fix it.
type Finding struct {
	// Code is a stable identifier, e.g. pending-from-zero.
	Code string `json:"code"`
	// Field is the scenario field to change.
	Field string `json:"field"`
	// Message says what will happen in a run.
	Message string `json:"message"`
	// Reason explains the KEDA/Redis mechanics behind it.
	Reason string `json:"reason"`
	// Fix says what to change.
	Fix string `json:"fix"`
}

// LintFacts are facts about the environment and workload that some checks
// need; zero values mean unknown and skip those checks.
type LintFacts struct {
	// RedisVersion is the server's version, e.g. "7.0.15".
	RedisVersion string
	// TaskDuration is an estimate of one task's service time (p99 or max).
	TaskDuration time.Duration
	// SmallestBurst is the fewest tasks the profile enqueues at once.
	SmallestBurst int
}

// Lint checks a scenario for the KEDA redis-streams pitfalls described in
// DESIGN.md and returns them in a stable order.
func Lint(s *Scenario, f LintFacts) []Finding {
	var out []Finding
	sc := s.Scaler
	hasPending := sc.Trigger == TriggerPending
	hasLag := sc.Trigger == TriggerLag || sc.Trigger == TriggerLagPending
	if hasPending && sc.Min() == 0 {
		out = append(out, Finding{
			Code:    "pending-from-zero",
			Field:   "scaler.minReplicaCount",
			Message: "this ScaledObject can never scale up from zero replicas: a burst stays in the stream forever",
			Reason:  "pendingEntriesCount reads XPENDING, which counts entries delivered to a consumer and not acked; with zero workers nothing is delivered, so the metric stays 0 and the trigger never activates",
			Fix:     "use trigger lag+pending (lag activates from zero, pending keeps it active while tasks run) or set minReplicaCount: 1",
		})
	}
	if hasPending {
		perWorker := s.Worker.Concurrency
		if s.Worker.ReadCount > 0 && s.Worker.ReadCount < perWorker {
			perWorker = s.Worker.ReadCount
		}
		if s.Worker.ReadCount == 1 || int64(perWorker) <= sc.PendingEntriesCount {
			out = append(out, Finding{
				Code:  "pending-backlog-invisible",
				Field: "scaler.pendingEntriesCount",
				Message: fmt.Sprintf("the backlog is invisible to the scaler: each worker holds at most %d pending entries, so pending/target ≤ %d×replicas/%d never asks for more replicas than run now",
					perWorker, perWorker, sc.PendingEntriesCount),
				Reason: "workers read only what they can start (COUNT = free slots), so undelivered entries never show up in XPENDING; desired replicas = ceil(pending / pendingEntriesCount)",
				Fix:    "scale on lag (trigger lag or lag+pending), or set pendingEntriesCount below the worker concurrency",
			})
		}
	}
	if sc.Trigger == TriggerLag && sc.Min() == 0 {
		msg := "tasks can still be running when the cooldown scales the workers to zero"
		if f.TaskDuration > 0 {
			msg = fmt.Sprintf("tasks of about %s outlive the %s cooldown: the workers can be scaled to zero while they still run", f.TaskDuration.Round(time.Millisecond), sc.CooldownPeriod)
		}
		if f.TaskDuration == 0 || f.TaskDuration >= sc.CooldownPeriod.Duration {
			out = append(out, Finding{
				Code:    "lag-scale-to-zero-in-flight",
				Field:   "scaler.trigger",
				Message: msg,
				Reason:  "lag counts only undelivered entries; once the workers hold every entry the lag is 0, the trigger turns inactive and cooldownPeriod later KEDA scales to zero from any replica count, killing in-flight tasks",
				Fix:     "use trigger lag+pending (pending entries keep the ScaledObject active), or raise cooldownPeriod above the longest task",
			})
		}
	}
	if sc.Trigger == TriggerLength && sc.StreamMaxLen == 0 {
		out = append(out, Finding{
			Code:    "length-without-trim",
			Field:   "scaler.streamMaxLen",
			Message: "the workers never scale down: the stream length keeps counting acked entries",
			Reason:  "without consumerGroup the scaler reads XLEN, and XACK does not remove entries from a stream; only trimming (XADD MAXLEN / XTRIM) or XDEL does",
			Fix:     "set scaler.streamMaxLen so the generator trims the stream, or use trigger lag / lag+pending",
		})
	}
	type act struct {
		field string
		v     int64
		on    bool
	}
	for _, a := range []act{
		{"scaler.activationLagCount", sc.ActivationLagCount, hasLag},
		{"scaler.activationPendingEntriesCount", sc.ActivationPendingEntriesCount, hasPending || sc.Trigger == TriggerLagPending},
		{"scaler.activationStreamLength", sc.ActivationStreamLength, sc.Trigger == TriggerLength},
	} {
		if !a.on || a.v < 1 {
			continue
		}
		msg := fmt.Sprintf("a burst of %d task(s) does not activate the workers; it takes %d", a.v, a.v+1)
		if f.SmallestBurst > 0 && int64(f.SmallestBurst) <= a.v {
			msg = fmt.Sprintf("the profile's smallest burst (%d tasks) never activates the workers: activation needs more than %d", f.SmallestBurst, a.v)
		}
		out = append(out, Finding{
			Code:    "activation-off-by-one",
			Field:   a.field,
			Message: msg,
			Reason:  "KEDA activates when the value is strictly greater than the activation threshold",
			Fix:     fmt.Sprintf("set %s to one less than the smallest queue that must wake the workers (%d to wake on %d)", a.field, a.v-1, a.v),
		})
	}
	if hasLag && f.RedisVersion != "" && majorVersion(f.RedisVersion) < 7 {
		out = append(out, Finding{
			Code:    "lag-needs-redis-7",
			Field:   "scaler.trigger",
			Message: fmt.Sprintf("Redis %s has no consumer-group lag: the lag trigger cannot work", f.RedisVersion),
			Reason:  "XINFO GROUPS reports lag and entries-read only from Redis 7.0",
			Fix:     "run Redis ≥ 7.0, or use trigger pending with minReplicaCount ≥ 1",
		})
	}
	return out
}

func majorVersion(v string) int {
	major, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0
	}
	return n
}
