package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a scenario.
type Problem struct {
	Field   string // YAML path, e.g. scaler.lagCount
	Message string // what is wrong
	Fix     string // what to write instead
}

// ValidationError lists every problem of one scenario file.
type ValidationError struct {
	File     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid scenario %s: %d problem(s)", e.File, len(e.Problems))
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: %s: %s", e.File, p.Field, p.Message)
		if p.Fix != "" {
			fmt.Fprintf(&b, " (fix: %s)", p.Fix)
		}
	}
	return b.String()
}

// Load reads, defaults and validates a scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes, defaults and validates a scenario. Unknown fields are errors.
func Parse(file string, data []byte) (*Scenario, error) {
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return nil, &ValidationError{File: file, Problems: decodeProblems(err)}
	}
	s.File = file
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func decodeProblems(err error) []Problem {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		ps := make([]Problem, 0, len(te.Errors))
		for _, e := range te.Errors {
			ps = append(ps, Problem{Field: "yaml", Message: e, Fix: fixFor(e)})
		}
		return ps
	}
	return []Problem{{Field: "yaml", Message: err.Error(), Fix: "check the YAML syntax (indentation, colons, quotes)"}}
}

func fixFor(msg string) string {
	switch {
	case strings.Contains(msg, "not found in type"):
		return "remove the field or correct its spelling; see scenarios/README.md for every field"
	case strings.Contains(msg, "duration"):
		return `write durations with a unit, e.g. "30s"`
	case strings.Contains(msg, "cannot unmarshal"):
		return "give the field a value of the documented type"
	}
	return ""
}

// Defaults used when a field is left out.
const (
	DefaultTarget          = "kind"
	DefaultNamespace       = "burst"
	DefaultPollingInterval = 30 * time.Second  // KEDA's default
	DefaultCooldownPeriod  = 300 * time.Second // KEDA's default
	DefaultMaxReplicas     = 100               // KEDA's default
	DefaultPreset          = "h200-8b"
)

// ApplyDefaults fills every unset field with its documented default.
func (s *Scenario) ApplyDefaults() {
	def := func(d *Duration, v time.Duration) {
		if d.Duration == 0 {
			d.Duration = v
		}
	}
	defInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	if s.Target == "" {
		s.Target = DefaultTarget
	}
	if s.Namespace == "" {
		s.Namespace = DefaultNamespace
	}
	if s.Redis.Prefix == "" {
		s.Redis.Prefix = "burst"
	}
	if s.Scaler.Trigger == "" && s.Target == "local" {
		s.Scaler.Trigger = TriggerNone
	}
	def(&s.Scaler.PollingInterval, DefaultPollingInterval)
	def(&s.Scaler.CooldownPeriod, DefaultCooldownPeriod)
	if s.Scaler.MaxReplicaCount == 0 {
		s.Scaler.MaxReplicaCount = DefaultMaxReplicas
	}
	if s.Scaler.Trigger == TriggerCPU && s.Scaler.CPUUtilization == 0 {
		s.Scaler.CPUUtilization = 50
	}
	defInt(&s.Worker.Replicas, 2)
	defInt(&s.Worker.Concurrency, 4)
	defInt(&s.Worker.MaxDeliveries, 5)
	defInt(&s.Worker.MaxRetries, 3)
	def(&s.Worker.ReclaimMinIdle, 30*time.Second)
	def(&s.Worker.CallTimeout, 60*time.Second)
	def(&s.Worker.TerminationGracePeriod, 30*time.Second)
	if s.Inference.Endpoint == "" && s.Inference.Preset == "" {
		s.Inference.Preset = DefaultPreset
	}
	def(&s.Run.Timeout, 10*time.Minute)
	def(&s.Run.SampleInterval, 250*time.Millisecond)
}

// Targets lists the valid targets.
var Targets = []string{"local", "kind", "cluster"}

// Validate returns a *ValidationError listing every problem, or nil.
func (s *Scenario) Validate() error {
	var ps []Problem
	add := func(field, msg, fix string) { ps = append(ps, Problem{Field: field, Message: msg, Fix: fix}) }
	if s.Name == "" {
		add("name", "is missing", "name the scenario, e.g. name: spike-50-lag")
	}
	if s.Profile == "" {
		add("profile", "is missing", "name a shipped profile (spike-50) or a profile file path")
	}
	if !slices.Contains(Targets, s.Target) {
		add("target", fmt.Sprintf("%q is not a target", s.Target), "use one of "+strings.Join(Targets, ", "))
	}
	sc := s.Scaler
	if !slices.Contains(Triggers, sc.Trigger) {
		add("scaler.trigger", fmt.Sprintf("%q is not a trigger mode", sc.Trigger), "use one of "+strings.Join(Triggers, ", "))
	}
	need := func(field string, v int64, trig string) {
		if v <= 0 {
			add(field, fmt.Sprintf("must be > 0 for trigger %s (got %d)", trig, v), fmt.Sprintf("set %s, e.g. 10", field))
		}
	}
	switch sc.Trigger {
	case TriggerPending:
		need("scaler.pendingEntriesCount", sc.PendingEntriesCount, sc.Trigger)
	case TriggerLag:
		need("scaler.lagCount", sc.LagCount, sc.Trigger)
	case TriggerLength:
		need("scaler.streamLength", sc.StreamLength, sc.Trigger)
	case TriggerLagPending:
		need("scaler.lagCount", sc.LagCount, sc.Trigger)
		need("scaler.pendingEntriesCount", sc.PendingEntriesCount, sc.Trigger)
	case TriggerCPU:
		if sc.CPUUtilization <= 0 || sc.CPUUtilization > 1000 {
			add("scaler.cpuUtilization", fmt.Sprintf("%d is out of range", sc.CPUUtilization), "use a percentage of the CPU request between 1 and 1000")
		}
		if s.Worker.Resources.Requests["cpu"] == "" && s.Target != "local" {
			add("worker.resources.requests.cpu", "is required for trigger cpu (utilization is relative to it)", "set it, e.g. cpu: 10m")
		}
	case TriggerNone:
		if s.Target != "local" {
			add("scaler.trigger", "none is only valid on the local target", "pick a KEDA trigger mode or cpu")
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"scaler.activationPendingEntriesCount", sc.ActivationPendingEntriesCount},
		{"scaler.activationLagCount", sc.ActivationLagCount},
		{"scaler.activationStreamLength", sc.ActivationStreamLength},
		{"scaler.streamMaxLen", sc.StreamMaxLen},
	} {
		if f.v < 0 {
			add(f.name, fmt.Sprintf("is %d, must be ≥ 0", f.v), "use 0 or a positive count")
		}
	}
	whole := func(field string, d Duration) {
		if d.Duration < time.Second || d.Duration%time.Second != 0 {
			add(field, fmt.Sprintf("%s is not a whole number of seconds ≥ 1s (KEDA takes integer seconds)", d), "use e.g. 5s, 30s or 5m")
		}
	}
	whole("scaler.pollingInterval", sc.PollingInterval)
	whole("scaler.cooldownPeriod", sc.CooldownPeriod)
	if sc.Min() < 0 {
		add("scaler.minReplicaCount", fmt.Sprintf("is %d, must be ≥ 0", sc.Min()), "use 0 (scale to zero) or more")
	}
	if sc.MaxReplicaCount < 1 || sc.MaxReplicaCount < sc.Min() {
		add("scaler.maxReplicaCount", fmt.Sprintf("is %d, must be ≥ 1 and ≥ minReplicaCount (%d)", sc.MaxReplicaCount, sc.Min()), "raise maxReplicaCount")
	}
	if sc.Trigger == TriggerCPU && sc.Min() < 1 {
		add("scaler.minReplicaCount", "a CPU HPA cannot scale to zero", "set minReplicaCount: 1")
	}
	if sc.Fallback != nil && (sc.Fallback.FailureThreshold < 1 || sc.Fallback.Replicas < 0) {
		add("scaler.fallback", "failureThreshold must be ≥ 1 and replicas ≥ 0", "e.g. fallback: {failureThreshold: 3, replicas: 2}")
	}
	w := s.Worker
	if w.Replicas < 1 {
		add("worker.replicas", fmt.Sprintf("is %d, must be ≥ 1", w.Replicas), "use 1 or more")
	}
	if w.Concurrency < 1 || w.Concurrency > 10000 {
		add("worker.concurrency", fmt.Sprintf("is %d, must be in 1..10000", w.Concurrency), "use e.g. 4")
	}
	if w.ReadCount < 0 {
		add("worker.readCount", fmt.Sprintf("is %d, must be ≥ 0", w.ReadCount), "use 0 (read free slots) or a positive cap")
	}
	if w.MaxDeliveries < 1 {
		add("worker.maxDeliveries", fmt.Sprintf("is %d, must be ≥ 1", w.MaxDeliveries), "use e.g. 5")
	}
	if w.MaxRetries < 0 {
		add("worker.maxRetries", fmt.Sprintf("is %d, must be ≥ 0", w.MaxRetries), "use e.g. 3")
	}
	if w.GPUs < 0 {
		add("worker.gpus", "must be ≥ 0", "use 0 for workers without GPUs")
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{{"worker.startupDelay", w.StartupDelay}, {"worker.reclaimMinIdle", w.ReclaimMinIdle}, {"worker.callTimeout", w.CallTimeout}, {"worker.terminationGracePeriod", w.TerminationGracePeriod}} {
		if d.v.Duration < 0 {
			add(d.name, "is negative", "use a positive duration")
		}
	}
	if w.TerminationGracePeriod.Duration%time.Second != 0 {
		add("worker.terminationGracePeriod", "Kubernetes takes whole seconds", "use e.g. 30s")
	}
	in := s.Inference
	if in.Endpoint != "" {
		u, err := url.Parse(in.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("inference.endpoint", fmt.Sprintf("%q is not an http(s) URL", in.Endpoint), "write the base URL, e.g. http://vllm:8000/v1")
		}
		if in.Model == "" {
			add("inference.model", "is required with inference.endpoint", "name the served model, e.g. meta-llama/Llama-3.1-8B-Instruct")
		}
		if in.Preset != "" || len(in.Fake) > 0 {
			add("inference.preset", "preset and fake settings apply to the fake server only, not to a real endpoint", "remove them or remove inference.endpoint")
		}
	}
	if s.Run.Timeout.Duration <= 0 {
		add("run.timeout", "must be positive", "use e.g. 10m")
	}
	if s.Run.SampleInterval.Duration <= 0 || s.Run.SampleInterval.Duration > 500*time.Millisecond {
		add("run.sampleInterval", fmt.Sprintf("%s is outside (0, 500ms]", s.Run.SampleInterval), "use e.g. 250ms")
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"prices.workerHour", s.Prices.WorkerHour}, {"prices.gpuHour", s.Prices.GPUHour}, {"prices.per1MTokens", s.Prices.Per1MTokens}} {
		if p.v < 0 {
			add(p.name, "is negative", "use 0 or a positive price in USD")
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{File: s.File, Problems: ps}
}

// ProfileRef returns the profile as a path relative to the working directory
// when it names a file (relative to the scenario file), else the builtin name.
func (s *Scenario) ProfileRef() string {
	p := s.Profile
	if strings.ContainsRune(p, '/') || strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") {
		if !filepath.IsAbs(p) && s.File != "" {
			return filepath.Join(filepath.Dir(s.File), p)
		}
	}
	return p
}

// Set assigns value to the field at a dotted YAML path (scaler.lagCount=10) in
// a scenario document and returns the new document. Missing mappings are
// created; the value is typed as YAML would type it.
func Set(doc []byte, path, value string) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("parse scenario: %w", err)
	}
	if root.Kind == 0 {
		root = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	node := root.Content[0]
	keys := strings.Split(path, ".")
	for i, k := range keys {
		if k == "" {
			return nil, fmt.Errorf("set %s: empty path element", path)
		}
		if node.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("set %s: %s is not a mapping", path, strings.Join(keys[:i], "."))
		}
		var next *yaml.Node
		for j := 0; j+1 < len(node.Content); j += 2 {
			if node.Content[j].Value == k {
				next = node.Content[j+1]
				break
			}
		}
		last := i == len(keys)-1
		if next == nil {
			next = &yaml.Node{Kind: yaml.MappingNode}
			if last {
				next = &yaml.Node{Kind: yaml.ScalarNode}
			}
			node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, next)
		}
		if last {
			*next = yaml.Node{Kind: yaml.ScalarNode, Value: value}
			if _, err := strconv.ParseFloat(value, 64); err != nil && value != "true" && value != "false" && value != "null" {
				next.Tag = "!!str"
			}
		}
		node = next
	}
	out, err := yaml.Marshal(&root)
	if err != nil {
		return nil, fmt.Errorf("set %s: %w", path, err)
	}
	return out, nil
}
