package queue

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Keys names the Redis keys of one task pipeline. Generator, worker, observer and
// the KEDA ScaledObject must agree on them, so they are derived from one prefix.
type Keys struct {
	// Stream is the task stream the generator XADDs to and KEDA watches.
	Stream string
	// Group is the consumer group the workers read with.
	Group string
	// Results is the stream of result records, one per finished delivery.
	Results string
	// DeadLetter is the stream that receives tasks after too many deliveries.
	DeadLetter string
}

// DefaultPrefix is the key prefix used when none is configured.
const DefaultPrefix = "burst"

// KeysFor returns the keys derived from prefix ("burst" → burst:tasks,
// burst-workers, burst:results, burst:dead).
func KeysFor(prefix string) Keys {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return Keys{
		Stream:     prefix + ":tasks",
		Group:      prefix + "-workers",
		Results:    prefix + ":results",
		DeadLetter: prefix + ":dead",
	}
}

// Task is one unit of agent work as it travels through the task stream.
type Task struct {
	// ID is unique within a run: "<run>-<seq>".
	ID string
	// Run identifies the run that enqueued the task.
	Run string
	// Seq is the task's position in the schedule (0-based).
	Seq int64
	// Steps is the number of inference calls the agent makes for this task.
	Steps int
	// PromptTokens and OutputTokens size each inference call.
	PromptTokens int
	OutputTokens int
	// Priority is carried through for reporting; workers do not reorder.
	Priority int
	// Intended is the send time the schedule asked for; Sent is when the
	// generator actually handed the task to Redis (harness clock).
	Intended time.Time
	Sent     time.Time
}

// TaskID returns the canonical task id for a run and a schedule position.
func TaskID(run string, seq int64) string {
	digits := strconv.FormatInt(seq, 10)
	if len(digits) < 6 {
		digits = "000000"[len(digits):] + digits
	}
	return run + "-" + digits
}

// Task field names in the stream entry.
const (
	fTaskID       = "task_id"
	fRun          = "run"
	fSeq          = "seq"
	fSteps        = "steps"
	fPromptTokens = "prompt_tokens"
	fOutputTokens = "output_tokens"
	fPriority     = "priority"
	fIntendedNS   = "intended_ns"
	fSentNS       = "sent_ns"
)

// taskFields is the number of field names and values of a task entry.
const taskFields = 18

// Values encodes the task as stream entry fields.
func (t Task) Values() []any { return t.appendValues(make([]any, 0, taskFields)) }

// appendValues appends the task's fields to buf.
func (t Task) appendValues(buf []any) []any {
	return append(buf,
		fTaskID, t.ID,
		fRun, t.Run,
		fSeq, t.Seq,
		fSteps, t.Steps,
		fPromptTokens, t.PromptTokens,
		fOutputTokens, t.OutputTokens,
		fPriority, t.Priority,
		fIntendedNS, t.Intended.UnixNano(),
		fSentNS, t.Sent.UnixNano(),
	)
}

// ParseTask decodes a task stream entry. A malformed entry (a poison message)
// returns an error naming the first bad field; the worker never acks such an
// entry, so it is dead-lettered after the maximum number of deliveries.
func ParseTask(values map[string]any) (Task, error) {
	f := fields(values)
	t := Task{ID: f.str(fTaskID), Run: f.str(fRun)}
	t.Seq = f.int(fSeq)
	t.Steps = int(f.int(fSteps))
	t.PromptTokens = int(f.int(fPromptTokens))
	t.OutputTokens = int(f.int(fOutputTokens))
	t.Priority = int(f.int(fPriority))
	t.Intended = f.time(fIntendedNS)
	t.Sent = f.time(fSentNS)
	if f.err == nil && t.ID == "" {
		f.err = fmt.Errorf("field %q is missing or empty", fTaskID)
	}
	if f.err == nil && t.Steps < 1 {
		f.err = fmt.Errorf("field %q is %d, want at least 1", fSteps, t.Steps)
	}
	if f.err != nil {
		return t, fmt.Errorf("decode task entry: %w", f.err)
	}
	return t, nil
}

// Status is the outcome a result record reports.
type Status string

// Result statuses.
const (
	// StatusCompleted: every agent step succeeded.
	StatusCompleted Status = "completed"
	// StatusFailed: a step failed with an error that retrying cannot fix; the
	// task was acked as failed.
	StatusFailed Status = "failed"
	// StatusDeadLettered: the task was delivered too many times and moved to
	// the dead-letter stream.
	StatusDeadLettered Status = "dead_lettered"
)

// Result is the record a worker writes for a finished delivery, before it acks.
type Result struct {
	TaskID   string
	Run      string
	EntryID  string // task stream entry id
	Consumer string
	Status   Status
	// Enqueued is the generator's send time; Read when this delivery was read;
	// Started when the first step began; Finished when the record was made.
	Enqueued time.Time
	Read     time.Time
	Started  time.Time
	Finished time.Time
	// Deliveries is the delivery count Redis reported for this entry.
	Deliveries int64
	// Attempts counts inference calls including retries.
	Attempts int
	Steps    int
	// TTFT holds the time to first token of each step.
	TTFT         []time.Duration
	PromptTokens int
	OutputTokens int
	Error        string
}

// Result field names in the results stream.
const (
	fEntryID    = "entry_id"
	fConsumer   = "consumer"
	fStatus     = "status"
	fEnqueuedNS = "enqueued_ns"
	fReadNS     = "read_ns"
	fStartedNS  = "started_ns"
	fFinishedNS = "finished_ns"
	fDeliveries = "deliveries"
	fAttempts   = "attempts"
	fTTFTUS     = "ttft_us"
	fError      = "error"
)

// Values encodes the result as stream entry fields.
func (r Result) Values() []any {
	ttft := make([]string, len(r.TTFT))
	for i, d := range r.TTFT {
		ttft[i] = strconv.FormatInt(d.Microseconds(), 10)
	}
	return []any{
		fTaskID, r.TaskID,
		fRun, r.Run,
		fEntryID, r.EntryID,
		fConsumer, r.Consumer,
		fStatus, string(r.Status),
		fEnqueuedNS, nanos(r.Enqueued),
		fReadNS, nanos(r.Read),
		fStartedNS, nanos(r.Started),
		fFinishedNS, nanos(r.Finished),
		fDeliveries, r.Deliveries,
		fAttempts, r.Attempts,
		fSteps, r.Steps,
		fTTFTUS, strings.Join(ttft, ","),
		fPromptTokens, r.PromptTokens,
		fOutputTokens, r.OutputTokens,
		fError, r.Error,
	}
}

// ParseResult decodes a results stream entry.
func ParseResult(values map[string]any) (Result, error) {
	f := fields(values)
	r := Result{
		TaskID:   f.str(fTaskID),
		Run:      f.str(fRun),
		EntryID:  f.str(fEntryID),
		Consumer: f.str(fConsumer),
		Status:   Status(f.str(fStatus)),
		Error:    f.str(fError),
	}
	r.Enqueued = f.time(fEnqueuedNS)
	r.Read = f.time(fReadNS)
	r.Started = f.time(fStartedNS)
	r.Finished = f.time(fFinishedNS)
	r.Deliveries = f.int(fDeliveries)
	r.Attempts = int(f.int(fAttempts))
	r.Steps = int(f.int(fSteps))
	r.PromptTokens = int(f.int(fPromptTokens))
	r.OutputTokens = int(f.int(fOutputTokens))
	if s := f.str(fTTFTUS); s != "" {
		for _, p := range strings.Split(s, ",") {
			us, err := strconv.ParseInt(p, 10, 64)
			if err != nil && f.err == nil {
				f.err = fmt.Errorf("field %q: %w", fTTFTUS, err)
			}
			r.TTFT = append(r.TTFT, time.Duration(us)*time.Microsecond)
		}
	}
	switch r.Status {
	case StatusCompleted, StatusFailed, StatusDeadLettered:
	default:
		if f.err == nil {
			f.err = fmt.Errorf("field %q is %q, want completed, failed or dead_lettered", fStatus, r.Status)
		}
	}
	if f.err != nil {
		return r, fmt.Errorf("decode result entry: %w", f.err)
	}
	return r, nil
}

// EntryTime returns the time encoded in a stream entry id ("<ms>-<seq>").
func EntryTime(id string) (time.Time, error) {
	ms, _, ok := strings.Cut(id, "-")
	if !ok {
		return time.Time{}, fmt.Errorf("stream id %q has no '-'", id)
	}
	v, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("stream id %q: %w", id, err)
	}
	return time.UnixMilli(v), nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fields decodes string-valued stream fields, keeping the first error.
type fieldReader struct {
	v   map[string]any
	err error
}

func fields(v map[string]any) *fieldReader { return &fieldReader{v: v} }

func (f *fieldReader) str(k string) string {
	s, _ := f.v[k].(string)
	return s
}

func (f *fieldReader) int(k string) int64 {
	s := f.str(k)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("field %q is %q, not an integer", k, s)
	}
	return n
}

func (f *fieldReader) time(k string) time.Time {
	n := f.int(k)
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
