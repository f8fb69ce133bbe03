package scenario

import (
	"encoding/json"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scenario is one benchmark setting: what load to fire, how the workers scale,
// what they call, which limits the run must meet and what capacity costs.
type Scenario struct {
	// Name identifies the scenario in results and comparison tables.
	Name string `yaml:"name" json:"name"`
	// Description says what the scenario demonstrates.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Profile is a shipped load profile name (spike-50) or a path relative to
	// the scenario file.
	Profile string `yaml:"profile" json:"profile"`
	// Seed overrides the profile's seed when non-zero.
	Seed int64 `yaml:"seed,omitempty" json:"seed,omitempty"`
	// Target is where the workers run: local, kind or cluster.
	Target string `yaml:"target,omitempty" json:"target"`
	// Namespace for the cluster targets (default burst).
	Namespace string `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	// Redis names the streams.
	Redis Redis `yaml:"redis,omitempty" json:"redis"`
	// Scaler is the scaling configuration under test.
	Scaler Scaler `yaml:"scaler" json:"scaler"`
	// Worker configures each worker pod or process.
	Worker Worker `yaml:"worker,omitempty" json:"worker"`
	// Inference configures the fake server or a real endpoint.
	Inference Inference `yaml:"inference,omitempty" json:"inference"`
	// Run bounds the run's phases.
	Run RunLimits `yaml:"run,omitempty" json:"run"`
	// SLO holds the limits the run must meet (exit 3 on a breach).
	SLO SLO `yaml:"slo,omitempty" json:"slo"`
	// Prices turns usage into money.
	Prices Prices `yaml:"prices,omitempty" json:"prices"`

	// File is the path the scenario was read from (not part of the YAML).
	File string `yaml:"-" json:"-"`
}

// Redis configures the stream names.
type Redis struct {
	// Prefix derives the stream, group, results and dead-letter names.
	Prefix string `yaml:"prefix,omitempty" json:"prefix"`
}

// Trigger modes.
const (
	TriggerPending    = "pending"     // XPENDING count (consumerGroup + pendingEntriesCount)
	TriggerLag        = "lag"         // XINFO GROUPS lag (consumerGroup + lagCount)
	TriggerLength     = "length"      // XLEN (no consumerGroup, streamLength)
	TriggerLagPending = "lag+pending" // two triggers: lag and pending
	TriggerCPU        = "cpu"         // plain CPU HPA, no KEDA
	TriggerNone       = "none"        // fixed replicas (local target)
)

// Triggers lists the valid trigger modes.
var Triggers = []string{TriggerPending, TriggerLag, TriggerLength, TriggerLagPending, TriggerCPU, TriggerNone}

// Scaler is the KEDA ScaledObject (or CPU HPA) configuration. Field names
// follow KEDA's so a ScaledObject reads across directly.
type Scaler struct {
	Trigger string `yaml:"trigger" json:"trigger"`
	// Thresholds: the metric target per replica (AverageValue).
	PendingEntriesCount int64 `yaml:"pendingEntriesCount,omitempty" json:"pendingEntriesCount,omitempty"`
	LagCount            int64 `yaml:"lagCount,omitempty" json:"lagCount,omitempty"`
	StreamLength        int64 `yaml:"streamLength,omitempty" json:"streamLength,omitempty"`
	// Activation thresholds: active when the value is strictly greater.
	ActivationPendingEntriesCount int64 `yaml:"activationPendingEntriesCount,omitempty" json:"activationPendingEntriesCount,omitempty"`
	ActivationLagCount            int64 `yaml:"activationLagCount,omitempty" json:"activationLagCount,omitempty"`
	ActivationStreamLength        int64 `yaml:"activationStreamLength,omitempty" json:"activationStreamLength,omitempty"`
	// PollingInterval and CooldownPeriod are whole seconds in KEDA.
	PollingInterval Duration `yaml:"pollingInterval,omitempty" json:"pollingInterval"`
	CooldownPeriod  Duration `yaml:"cooldownPeriod,omitempty" json:"cooldownPeriod"`
	MinReplicaCount *int32   `yaml:"minReplicaCount,omitempty" json:"minReplicaCount"`
	MaxReplicaCount int32    `yaml:"maxReplicaCount,omitempty" json:"maxReplicaCount"`
	// CPUUtilization is the target for the cpu trigger, in percent of requests.
	CPUUtilization int32 `yaml:"cpuUtilization,omitempty" json:"cpuUtilization,omitempty"`
	// Behavior is passed to advanced.horizontalPodAutoscalerConfig.behavior
	// (autoscaling/v2 HorizontalPodAutoscalerBehavior, as YAML).
	Behavior map[string]any `yaml:"behavior,omitempty" json:"behavior,omitempty"`
	// Fallback replicas when the scaler errors.
	Fallback *Fallback `yaml:"fallback,omitempty" json:"fallback,omitempty"`
	// StreamMaxLen is the MAXLEN the generator trims the task stream to (0: no
	// trimming). Length mode without trimming counts acked entries forever.
	StreamMaxLen int64 `yaml:"streamMaxLen,omitempty" json:"streamMaxLen,omitempty"`
}

// Fallback is KEDA's fallback section.
type Fallback struct {
	FailureThreshold int32 `yaml:"failureThreshold" json:"failureThreshold"`
	Replicas         int32 `yaml:"replicas" json:"replicas"`
}

// Min returns minReplicaCount (KEDA's default 0 when unset).
func (s Scaler) Min() int32 {
	if s.MinReplicaCount == nil {
		return 0
	}
	return *s.MinReplicaCount
}

// Worker configures the agent workers.
type Worker struct {
	// Replicas is the fixed worker count for the local target and the none trigger.
	Replicas int `yaml:"replicas,omitempty" json:"replicas,omitempty"`
	// Concurrency is the number of tasks one worker runs at once.
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency"`
	// ReadCount caps the XREADGROUP COUNT; 0 means free slots (recommended).
	ReadCount int `yaml:"readCount,omitempty" json:"readCount,omitempty"`
	// StartupDelay mimics heavy initialisation before the worker is Ready.
	StartupDelay Duration `yaml:"startupDelay,omitempty" json:"startupDelay"`
	// TerminationGracePeriod is the pod's grace period; the worker finishes
	// in-flight tasks within it.
	TerminationGracePeriod Duration `yaml:"terminationGracePeriod,omitempty" json:"terminationGracePeriod"`
	// MaxDeliveries dead-letters a task after that many deliveries.
	MaxDeliveries int `yaml:"maxDeliveries,omitempty" json:"maxDeliveries"`
	// ReclaimMinIdle is how long an entry must be idle before another worker
	// takes it over.
	ReclaimMinIdle Duration `yaml:"reclaimMinIdle,omitempty" json:"reclaimMinIdle"`
	// CallTimeout bounds one inference call.
	CallTimeout Duration `yaml:"callTimeout,omitempty" json:"callTimeout"`
	// MaxRetries bounds retries of one inference call.
	MaxRetries int `yaml:"maxRetries,omitempty" json:"maxRetries"`
	// Resources of the worker container (cluster targets).
	Resources Resources `yaml:"resources,omitempty" json:"resources"`
	// GPUs per worker, for cost (0 for workers that call a shared endpoint).
	GPUs float64 `yaml:"gpus,omitempty" json:"gpus,omitempty"`
	// Env adds environment variables to the worker.
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
}

// Resources are container requests and limits ("10m", "32Mi").
type Resources struct {
	Requests map[string]string `yaml:"requests,omitempty" json:"requests,omitempty"`
	Limits   map[string]string `yaml:"limits,omitempty" json:"limits,omitempty"`
}

// Inference selects what the workers call.
type Inference struct {
	// Preset of the fake server (instant, h200-8b, h200-70b, serverless).
	Preset string `yaml:"preset,omitempty" json:"preset,omitempty"`
	// Fake overrides fake-server settings by flag name (inter-token-latency: 12ms).
	Fake map[string]string `yaml:"fake,omitempty" json:"fake,omitempty"`
	// Endpoint is a real OpenAI-compatible base URL; no fake server is used.
	Endpoint string `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	// Model is the model name sent to the endpoint.
	Model string `yaml:"model,omitempty" json:"model,omitempty"`
	// APIKeyEnv names the environment variable that holds the API key;
	// APIKeySecret names a Kubernetes Secret (key "api-key") on cluster targets.
	APIKeyEnv    string `yaml:"apiKeyEnv,omitempty" json:"apiKeyEnv,omitempty"`
	APIKeySecret string `yaml:"apiKeySecret,omitempty" json:"apiKeySecret,omitempty"`
}

// RunLimits bound the phases of a run.
type RunLimits struct {
	// Timeout bounds the whole measurement after the first enqueue.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout"`
	// ObserveScaleDown keeps measuring after the drain until replicas are back
	// at min (cluster targets) or this long at most.
	ScaleDownTimeout Duration `yaml:"scaleDownTimeout,omitempty" json:"scaleDownTimeout"`
	// SampleInterval is the Redis sampling period (≤ 500ms).
	SampleInterval Duration `yaml:"sampleInterval,omitempty" json:"sampleInterval"`
}

// SLO limits. A nil limit is not checked. Durations in milliseconds.
type SLO struct {
	FirstReadyMs    *float64 `yaml:"first_ready_ms,omitempty" json:"first_ready_ms,omitempty"`
	ActivationMs    *float64 `yaml:"activation_ms,omitempty" json:"activation_ms,omitempty"`
	DrainMs         *float64 `yaml:"drain_ms,omitempty" json:"drain_ms,omitempty"`
	CompletionP95Ms *float64 `yaml:"completion_p95_ms,omitempty" json:"completion_p95_ms,omitempty"`
	CompletionP99Ms *float64 `yaml:"completion_p99_ms,omitempty" json:"completion_p99_ms,omitempty"`
	QueueWaitP95Ms  *float64 `yaml:"queue_wait_p95_ms,omitempty" json:"queue_wait_p95_ms,omitempty"`
	Leftover        *float64 `yaml:"leftover,omitempty" json:"leftover,omitempty"`
	Lost            *float64 `yaml:"lost,omitempty" json:"lost,omitempty"`
	DeadLettered    *float64 `yaml:"dead_lettered,omitempty" json:"dead_lettered,omitempty"`
	CostUSD         *float64 `yaml:"cost_usd,omitempty" json:"cost_usd,omitempty"`
}

// Prices turn usage into money.
type Prices struct {
	// WorkerHour is the price of one worker replica for an hour.
	WorkerHour float64 `yaml:"workerHour,omitempty" json:"workerHour"`
	// GPUHour is the price of one GPU for an hour (times worker.gpus).
	GPUHour float64 `yaml:"gpuHour,omitempty" json:"gpuHour"`
	// Per1MTokens prices a serverless endpoint by tokens (prompt + output).
	Per1MTokens float64 `yaml:"per1MTokens,omitempty" json:"per1MTokens"`
}

// Duration is a time.Duration written as a string ("30s") in YAML and JSON.
type Duration struct{ time.Duration }

// D wraps a time.Duration.
func D(d time.Duration) Duration { return Duration{d} }

// UnmarshalYAML parses "30s"; a bare integer is rejected with the fix.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration string such as \"30s\"", n.Line)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration: write it with a unit, e.g. \"30s\" or \"500ms\"", n.Line, n.Value)
	}
	d.Duration = v
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}
