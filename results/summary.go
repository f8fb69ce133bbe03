package results

import "time"

// Schema is the value of Summary.Schema for this layout.
const Schema = "burst/v1"

// Summary is summary.json: every figure of one run. Durations are
// milliseconds; a figure that does not apply to the target is null.
type Summary struct {
	Schema string `json:"schema"`
	RunID  string `json:"run_id"`
	Target string `json:"target"`
	// ScenarioName is scenario.name, for tables and benchmark names.
	ScenarioName string `json:"scenario_name"`
	// Scenario is the full effective scenario (defaults applied).
	Scenario any `json:"scenario"`
	// Config holds the settings a sweep applied to the scenario (YAML path → value).
	Config     map[string]string `json:"config,omitempty"`
	Versions   Versions          `json:"versions"`
	StartedAt  time.Time         `json:"started_at"`
	FinishedAt time.Time         `json:"finished_at"`
	// T0 is the time of the first enqueue (the first task's stream id time).
	T0 time.Time `json:"t0"`

	Tasks     Tasks     `json:"tasks"`
	Ledger    Ledger    `json:"ledger"`
	LatencyMs Latencies `json:"latency_ms"`
	DrainMs   *float64  `json:"drain_ms"`
	Leftover  Leftover  `json:"leftover"`
	Scaling   Scaling   `json:"scaling"`
	Loadgen   Loadgen   `json:"loadgen"`
	SLO       SLOResult `json:"slo"`
	Cost      Cost      `json:"cost"`

	// Waterfall holds one row per scale event (cluster targets).
	Waterfall []WaterfallRow `json:"waterfall,omitempty"`
	// Alarms lists conditions the user must see (null lag, timeouts).
	Alarms []string `json:"alarms,omitempty"`
	// Notes states assumptions (clock, target) that qualify the figures.
	Notes []string `json:"notes,omitempty"`
}

// Versions of the parts that ran; Kubernetes and KEDA are null on the
// local target.
type Versions struct {
	Burst      string  `json:"burst"`
	Kubernetes *string `json:"kubernetes"`
	KEDA       *string `json:"keda"`
	Redis      string  `json:"redis"`
}

// S returns a pointer to v, for nullable strings.
func S(v string) *string { return &v }

// Tasks counts tasks by outcome.
type Tasks struct {
	Enqueued     int `json:"enqueued"`
	Completed    int `json:"completed"`
	Failed       int `json:"failed"`
	DeadLettered int `json:"dead_lettered"`
}

// Ledger accounts for every task id the run enqueued.
type Ledger struct {
	// Lost: enqueued, never finished and no longer pending after the drain.
	Lost int `json:"lost"`
	// Duplicated: task ids with more than one result record.
	Duplicated int `json:"duplicated"`
	// Unexpected: result records whose task id this run never enqueued.
	Unexpected int `json:"unexpected"`
	// StillPending: enqueued and not finished at the end (in the stream or
	// delivered and not acked).
	StillPending int `json:"still_pending"`
	// Valid is true when nothing was lost and nothing unexpected appeared.
	Valid bool `json:"valid"`
	// LostIDs lists up to 100 lost task ids.
	LostIDs []string `json:"lost_ids,omitempty"`
}

// Stat is a latency distribution in milliseconds. Percentiles are exact
// (nearest rank) up to 10⁶ samples and from an HDR histogram beyond.
type Stat struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Latencies per task: queue wait (start − enqueue), service (finish − start),
// completion (finish − enqueue).
type Latencies struct {
	Completion Stat `json:"completion"`
	QueueWait  Stat `json:"queue_wait"`
	Service    Stat `json:"service"`
	// TTFT is the time to first token over every inference step.
	TTFT Stat `json:"ttft"`
}

// Leftover is what remained at the end.
type Leftover struct {
	Pending int64 `json:"pending"`
	// Lag is the group's lag; null when Redis reported a null lag.
	Lag *int64 `json:"lag"`
	// Undelivered counts entries of this run never delivered to any consumer.
	Undelivered int            `json:"undelivered"`
	ByConsumer  map[string]int `json:"by_consumer,omitempty"`
}

// Scaling figures, measured from t0. Null on the local target except where
// noted.
type Scaling struct {
	ActivationMs         *float64  `json:"activation_ms"`
	FirstReadyMs         *float64  `json:"first_ready_ms"`
	FirstTaskStartedMs   *float64  `json:"first_task_started_ms"`
	PeakReplicas         *int      `json:"peak_replicas"`
	PeakReadyMs          *float64  `json:"peak_ready_ms"`
	ScaleDownMs          *float64  `json:"scale_down_ms"`
	ReplicaSeconds       *float64  `json:"replica_seconds"`
	Flaps                *int      `json:"flaps"`
	PodsKilledWithTasks  *int      `json:"pods_killed_with_tasks"`
	ExpectedFirstReadyMs *float64  `json:"expected_first_ready_ms"`
	KthReadyMs           []float64 `json:"kth_ready_ms,omitempty"`
	// MaxReplicas is the most replicas that existed at any time in the
	// observed window, after the drain included (peak_replicas counts only
	// up to the drain).
	MaxReplicas         *int   `json:"max_replicas"`
	NeverActivated      bool   `json:"never_activated,omitempty"`
	ExpectedAssumptions string `json:"expected_assumptions,omitempty"`
}

// Loadgen reports how faithfully the generator kept the schedule.
type Loadgen struct {
	Intended     int     `json:"intended"`
	Sent         int     `json:"sent"`
	Late         int     `json:"late"`
	Dropped      int     `json:"dropped"`
	MaxSendLagMs float64 `json:"max_send_lag_ms"`
	SendLagP50Ms float64 `json:"send_lag_p50_ms"`
	SendLagP99Ms float64 `json:"send_lag_p99_ms"`
}

// SLOResult lists the breached limits.
type SLOResult struct {
	Passed   bool     `json:"passed"`
	Breaches []Breach `json:"breaches"`
}

// Breach is one SLO limit the run exceeded (or could not show it met).
type Breach struct {
	Figure   string   `json:"figure"`
	Limit    float64  `json:"limit"`
	Observed *float64 `json:"observed"`
}

// Cost of the capacity the run used.
type Cost struct {
	ReplicaHours float64 `json:"replica_hours"`
	USD          float64 `json:"usd"`
	// Tokens counts prompt + output tokens (serverless pricing).
	Tokens int64 `json:"tokens"`
	// AlwaysOnUSD is the same run served by peak replicas for the whole run.
	AlwaysOnUSD *float64 `json:"always_on_usd,omitempty"`
	// AlwaysOnReplicaHours is the capacity AlwaysOnUSD pays for: the peak
	// replica count times the observed window.
	AlwaysOnReplicaHours *float64 `json:"always_on_replica_hours,omitempty"`
	Assumptions          string   `json:"assumptions,omitempty"`
}

// WaterfallRow follows one scale event from the enqueue to the first ack
// (milliseconds from t0; null where a step was not observed).
type WaterfallRow struct {
	Replicas        int      `json:"replicas"`
	Pod             string   `json:"pod,omitempty"`
	PollMs          *float64 `json:"poll_ms"`
	ReplicasChanged *float64 `json:"replicas_changed_ms"`
	ScheduledMs     *float64 `json:"scheduled_ms"`
	StartedMs       *float64 `json:"started_ms"`
	ReadyMs         *float64 `json:"ready_ms"`
	FirstReadMs     *float64 `json:"first_read_ms"`
	FirstAckMs      *float64 `json:"first_ack_ms"`
}

// F returns a pointer to v, for nullable figures.
func F(v float64) *float64 { return &v }

// I returns a pointer to v, for nullable counts.
func I(v int) *int { return &v }

// Ms converts a duration to float milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
