package fakeinference

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/burstbench/burst/internal/suggest"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Modes of response text (Config.Mode).
const (
	ModeRandom = "random" // deterministic pseudo-random words, seeded
	ModeEcho   = "echo"   // the prompt's own tokens (last user message for chat)
)

// Output length distributions (Config.OutputLength).
const (
	OutputMax     = "max"     // always the request's max tokens
	OutputUniform = "uniform" // uniform in [1, max tokens]
	OutputNormal  = "normal"  // normal(output-length-mean, output-length-std-dev), clamped to [1, max tokens]
)

// Config holds every knob of the fake server. Its JSON and YAML keys equal the
// flag names of cmd/fakeinference; durations are time.Duration values written
// as strings such as "12ms". The zero Config is not valid: start from
// [DefaultConfig] or [Preset].
type Config struct {
	// Preset names the preset this configuration started from. Setting it in a
	// JSON or YAML document (or POST /admin/config) first resets every knob to
	// that preset, then applies the document's other keys.
	Preset string `json:"preset" yaml:"preset" help:"start from this preset: instant, h200-8b, h200-70b, serverless (other keys apply over it)"`

	// Host is the address cmd/fakeinference listens on (empty: all interfaces).
	Host string `json:"host" yaml:"host" help:"address to listen on (empty: all interfaces)"`
	// Port is the TCP port cmd/fakeinference listens on (0: any free port).
	Port int `json:"port" yaml:"port" help:"TCP port to listen on (0: any free port)"`
	// Model is the model name served when ServedModelName is empty.
	Model string `json:"model" yaml:"model" help:"model name served when served-model-name is empty"`
	// ServedModelName lists the model names accepted in requests; when empty,
	// Model is the only one. The first name labels the metrics.
	ServedModelName []string `json:"served-model-name" yaml:"served-model-name" help:"comma-separated model names accepted in requests, as vLLM's --served-model-name (default: the model flag)"`
	// AcceptAnyModel answers requests for any model name instead of 404.
	AcceptAnyModel bool `json:"accept-any-model" yaml:"accept-any-model" help:"answer requests for any model name instead of 404 model_not_found (vLLM answers 404)"`
	// Seed seeds jitter, output lengths, response words and faults.
	Seed int64 `json:"seed" yaml:"seed" help:"seed of jitter, output lengths, response words and faults (same seed and arrival order: same run)"`
	// Mode is the response text: ModeRandom or ModeEcho.
	Mode string `json:"mode" yaml:"mode" help:"response text: random (seeded pseudo-random words) or echo (the prompt's tokens)"`

	// StartupDuration is how long /readyz answers 503 after the server starts
	// (model loading). Inference requests are served regardless.
	StartupDuration time.Duration `json:"startup-duration" yaml:"startup-duration" help:"/readyz answers 503 for this long after start, as while a model loads"`
	// ColdStartLatency delays the first request, and the first after an idle
	// period of ColdStartAfterIdle, as a serverless endpoint that scaled to zero.
	ColdStartLatency time.Duration `json:"cold-start-latency" yaml:"cold-start-latency" help:"extra wait of the first request (and of the first after cold-start-after-idle without requests)"`
	// ColdStartAfterIdle is the idle time after which the next request pays
	// ColdStartLatency again (0: only the first request ever).
	ColdStartAfterIdle time.Duration `json:"cold-start-after-idle" yaml:"cold-start-after-idle" help:"idle time after which the next request pays cold-start-latency again (0: only the first request)"`

	// PrefillOverhead is the fixed part of the time to first token.
	PrefillOverhead time.Duration `json:"prefill-overhead" yaml:"prefill-overhead" help:"fixed part of the time to first token"`
	// PrefillOverheadStdDev is the standard deviation of PrefillOverhead.
	PrefillOverheadStdDev time.Duration `json:"prefill-overhead-std-dev" yaml:"prefill-overhead-std-dev" help:"standard deviation of prefill-overhead"`
	// PrefillTimePerToken is the time to first token added per prompt token.
	PrefillTimePerToken time.Duration `json:"prefill-time-per-token" yaml:"prefill-time-per-token" help:"time to first token added per prompt token"`
	// PrefillTimePerTokenStdDev is the standard deviation of PrefillTimePerToken.
	PrefillTimePerTokenStdDev time.Duration `json:"prefill-time-per-token-std-dev" yaml:"prefill-time-per-token-std-dev" help:"standard deviation of prefill-time-per-token"`
	// InterTokenLatency is the time between two output tokens.
	InterTokenLatency time.Duration `json:"inter-token-latency" yaml:"inter-token-latency" help:"time between two output tokens"`
	// InterTokenLatencyStdDev is the standard deviation of InterTokenLatency.
	InterTokenLatencyStdDev time.Duration `json:"inter-token-latency-std-dev" yaml:"inter-token-latency-std-dev" help:"standard deviation of inter-token-latency (drawn per token)"`
	// TimeFactorUnderLoad is F in load factor = 1 + (F−1)(running−1)/(max-num-seqs−1):
	// the slow-down of prefill and decode when all max-num-seqs slots run.
	TimeFactorUnderLoad float64 `json:"time-factor-under-load" yaml:"time-factor-under-load" help:"F: latencies are multiplied by 1 + (F-1)(running-1)/(max-num-seqs-1); 1 = no slow-down under load"`

	// MaxNumSeqs is how many requests run at once; the rest wait.
	MaxNumSeqs int `json:"max-num-seqs" yaml:"max-num-seqs" help:"requests that run at once; the rest wait in a FIFO queue"`
	// MaxWaitingQueueLength bounds the FIFO queue; a full queue answers 429.
	MaxWaitingQueueLength int `json:"max-waiting-queue-length" yaml:"max-waiting-queue-length" help:"length of the waiting queue; a request that finds it full gets 429 with Retry-After (0: no queue)"`
	// RetryAfter is the Retry-After header of 429 answers (rounded up to seconds).
	RetryAfter time.Duration `json:"retry-after" yaml:"retry-after" help:"Retry-After of 429 answers (whole seconds, rounded up)"`
	// MaxModelLen is the context length: prompt tokens + max tokens above it
	// is a 400, as in vLLM.
	MaxModelLen int `json:"max-model-len" yaml:"max-model-len" help:"context length: prompt tokens + max tokens above it is a 400"`

	// DefaultMaxTokens is the max tokens of a request that sets neither
	// max_tokens nor max_completion_tokens (capped by the context left).
	DefaultMaxTokens int `json:"default-max-tokens" yaml:"default-max-tokens" help:"max tokens of a request that sets neither max_tokens nor max_completion_tokens"`
	// OutputLength is the distribution the output length is drawn from,
	// capped by the request's max tokens: OutputMax, OutputUniform or OutputNormal.
	OutputLength string `json:"output-length" yaml:"output-length" help:"output length distribution, capped by the request's max tokens: max, uniform (1..max) or normal (see output-length-mean)"`
	// OutputLengthMean is the mean of the normal output length distribution.
	OutputLengthMean int `json:"output-length-mean" yaml:"output-length-mean" help:"mean output tokens of output-length=normal"`
	// OutputLengthStdDev is the standard deviation of the normal output length.
	OutputLengthStdDev int `json:"output-length-std-dev" yaml:"output-length-std-dev" help:"standard deviation of output-length=normal, in tokens"`

	// Fault429Rate is the fraction of requests answered 429 at once.
	Fault429Rate float64 `json:"fault-429-rate" yaml:"fault-429-rate" help:"fraction of requests answered 429 rate_limit_exceeded at once (0..1)"`
	// Fault500Rate is the fraction of requests answered 500 at once.
	Fault500Rate float64 `json:"fault-500-rate" yaml:"fault-500-rate" help:"fraction of requests answered 500 at once (0..1)"`
	// Fault503Rate is the fraction of requests answered 503 at once.
	Fault503Rate float64 `json:"fault-503-rate" yaml:"fault-503-rate" help:"fraction of requests answered 503 at once (0..1)"`
	// FaultHangRate is the fraction of requests that never answer until the
	// client gives up (or the server closes).
	FaultHangRate float64 `json:"fault-hang-rate" yaml:"fault-hang-rate" help:"fraction of requests that hang without a byte until the client gives up (0..1)"`
	// FaultStreamCutRate is the fraction of requests whose connection is cut
	// mid-way: after a seeded number of tokens when streaming, before the body
	// otherwise.
	FaultStreamCutRate float64 `json:"fault-stream-cut-rate" yaml:"fault-stream-cut-rate" help:"fraction of requests whose connection is cut mid-way (after some tokens when streaming) (0..1)"`
}

// DefaultConfig returns the configuration used when no preset is named: the
// h200-8b preset.
func DefaultConfig() Config {
	c, _ := Preset(PresetH200_8B)
	return c
}

// Knob describes one configuration key.
type Knob struct {
	Name    string // flag name and JSON/YAML key, e.g. "inter-token-latency"
	Env     string // environment variable, e.g. "FAKEINFERENCE_INTER_TOKEN_LATENCY"
	Type    string // "duration", "int", "float", "bool", "string" or "list"
	Help    string // one line
	Default string // value in DefaultConfig, as Config.Get returns it
}

type knobField struct {
	Knob
	index int
	kind  reflect.Kind
}

var durationType = reflect.TypeFor[time.Duration]()

// knobFields lists the fields of Config in declaration order.
var knobFields, knobByName = func() ([]knobField, map[string]*knobField) {
	t := reflect.TypeFor[Config]()
	var fields []knobField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("json")
		k := knobField{Knob: Knob{Name: name, Env: EnvName(name), Help: f.Tag.Get("help")}, index: i, kind: f.Type.Kind()}
		switch {
		case f.Type == durationType:
			k.Type = "duration"
		case f.Type.Kind() == reflect.Int, f.Type.Kind() == reflect.Int64:
			k.Type = "int"
		case f.Type.Kind() == reflect.Float64:
			k.Type = "float"
		case f.Type.Kind() == reflect.Bool:
			k.Type = "bool"
		case f.Type.Kind() == reflect.String:
			k.Type = "string"
		case f.Type.Kind() == reflect.Slice:
			k.Type = "list"
		default:
			panic("fakeinference: unsupported Config field type " + f.Type.String())
		}
		fields = append(fields, k)
	}
	byName := make(map[string]*knobField, len(fields))
	for i := range fields {
		byName[fields[i].Name] = &fields[i]
	}
	return fields, byName
}()

// EnvName returns the environment variable of a knob: FAKEINFERENCE_ and the
// name in upper case with underscores (inter-token-latency →
// FAKEINFERENCE_INTER_TOKEN_LATENCY).
func EnvName(name string) string {
	return "FAKEINFERENCE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Knobs lists every configuration key in a stable order, with its default.
func Knobs() []Knob {
	def := DefaultConfig()
	out := make([]Knob, len(knobFields))
	for i, f := range knobFields {
		out[i] = f.Knob
		out[i].Default, _ = def.Get(f.Name)
	}
	return out
}

// FieldError is one problem with one configuration key.
type FieldError struct {
	Field   string // the key, e.g. "max-num-seqs"
	Problem string // what is wrong and how to fix it
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Get returns the value of the knob name as a string that Set accepts.
func (c Config) Get(name string) (string, error) {
	k, ok := knobByName[name]
	if !ok {
		return "", unknownKey(name)
	}
	v := reflect.ValueOf(c).Field(k.index)
	switch k.Type {
	case "duration":
		return formatDuration(time.Duration(v.Int())), nil
	case "int":
		return strconv.FormatInt(v.Int(), 10), nil
	case "float":
		return strconv.FormatFloat(v.Float(), 'g', -1, 64), nil
	case "bool":
		return strconv.FormatBool(v.Bool()), nil
	case "list":
		return strings.Join(v.Interface().([]string), ","), nil
	default:
		return v.String(), nil
	}
}

// Set sets the knob name from its string form, as a flag or an environment
// variable gives it: durations as "12ms", lists comma-separated. Setting
// "preset" only records the name; use [Preset] to start from one.
func (c *Config) Set(name, value string) error {
	k, ok := knobByName[name]
	if !ok {
		return unknownKey(name)
	}
	v := reflect.ValueOf(c).Elem().Field(k.index)
	value = strings.TrimSpace(value)
	switch k.Type {
	case "duration":
		d, err := parseDuration(value)
		if err != nil {
			return fieldErr(name, "%v", err)
		}
		v.SetInt(int64(d))
	case "int":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return fieldErr(name, "%q is not an integer; use a whole number such as 256", value)
		}
		v.SetInt(n)
	case "float":
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fieldErr(name, "%q is not a number; use a decimal such as 0.05", value)
		}
		v.SetFloat(f)
	case "bool":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fieldErr(name, "%q is not a boolean; use true or false", value)
		}
		v.SetBool(b)
	case "list":
		var list []string
		for _, s := range strings.Split(value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		v.Set(reflect.ValueOf(list))
	default:
		v.SetString(value)
	}
	return nil
}

// formatDuration writes d as time.Duration.String does, with "us" for
// microseconds so that files and environment variables stay ASCII.
func formatDuration(d time.Duration) string {
	return strings.Replace(d.String(), "µs", "us", 1)
}

func parseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; use a number with a unit such as \"12ms\", \"1.5s\" or \"250us\"", s)
	}
	return d, nil
}

func unknownKey(name string) error {
	best, bestD := "", 4
	for _, f := range knobFields {
		if d := suggest.Distance(name, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	}
	if best != "" {
		return fieldErr(name, "unknown key; did you mean %q?", best)
	}
	return fieldErr(name, "unknown key; see --help for the list of keys")
}

// MarshalJSON writes every knob under its flag name, durations as strings.
func (c Config) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	v := reflect.ValueOf(c)
	for i, f := range knobFields {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(f.Name)
		b.Write(key)
		b.WriteByte(':')
		var val any = v.Field(f.index).Interface()
		switch f.Type {
		case "duration":
			val = formatDuration(time.Duration(v.Field(f.index).Int()))
		case "list":
			if l, _ := val.([]string); l == nil {
				val = []string{}
			}
		}
		enc, err := json.Marshal(val)
		if err != nil {
			return nil, fmt.Errorf("marshal config key %s: %w", f.Name, err)
		}
		b.Write(enc)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON applies the keys present in data over c; keys not present keep
// their value, so decoding into a copy of a configuration merges. A "preset"
// key first resets c to that preset. Unknown keys and values of the wrong type
// are errors; every problem is reported (joined [FieldError]s).
func (c *Config) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("config must be an object of key: value pairs: %w", err)
	}
	return c.applyRaw(raw)
}

func (c *Config) applyRaw(raw map[string]json.RawMessage) error {
	var errs []error
	if p, ok := raw["preset"]; ok {
		var name string
		if err := json.Unmarshal(p, &name); err != nil {
			errs = append(errs, fieldErr("preset", "must be a string naming a preset (%s)", strings.Join(PresetNames(), ", ")))
		} else if name != "" {
			base, err := Preset(name)
			if err != nil {
				errs = append(errs, err)
			} else {
				host, port := c.Host, c.Port
				*c = base
				c.Host, c.Port = host, port
			}
		} else {
			c.Preset = ""
		}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	v := reflect.ValueOf(c).Elem()
	for _, key := range keys {
		if key == "preset" {
			continue
		}
		val := raw[key]
		k, ok := knobByName[key]
		if !ok {
			errs = append(errs, unknownKey(key))
			continue
		}
		field := v.Field(k.index)
		switch k.Type {
		case "duration":
			var s string
			if err := json.Unmarshal(val, &s); err != nil {
				var n float64
				if json.Unmarshal(val, &n) == nil && n == 0 {
					field.SetInt(0)
					continue
				}
				errs = append(errs, fieldErr(key, "%s is not a duration; write a string with a unit such as \"12ms\"", val))
				continue
			}
			d, err := parseDuration(strings.TrimSpace(s))
			if err != nil {
				errs = append(errs, fieldErr(key, "%v", err))
				continue
			}
			field.SetInt(int64(d))
		case "list":
			var s string
			if json.Unmarshal(val, &s) == nil {
				if err := c.Set(key, s); err != nil {
					errs = append(errs, err)
				}
				continue
			}
			var l []string
			if err := json.Unmarshal(val, &l); err != nil {
				errs = append(errs, fieldErr(key, "%s is not a list of strings; write [\"a\", \"b\"] or \"a,b\"", val))
				continue
			}
			field.Set(reflect.ValueOf(l))
		default:
			ptr := reflect.New(field.Type())
			if err := json.Unmarshal(val, ptr.Interface()); err != nil {
				errs = append(errs, fieldErr(key, "%s is not a valid %s", val, k.Type))
				continue
			}
			field.Set(ptr.Elem())
		}
	}
	return errors.Join(errs...)
}

// ApplyYAML applies the keys of a YAML (or JSON) document over c, as
// UnmarshalJSON does. Keys equal the flag names.
func (c *Config) ApplyYAML(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("parse YAML config: %w", err)
	}
	if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
		return nil
	}
	return c.UnmarshalJSON(j)
}

// Validate checks every knob and returns all problems at once (joined
// [FieldError]s, each naming the key and the fix), or nil.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) { errs = append(errs, fieldErr(field, format, args...)) }
	if c.Preset != "" {
		if _, ok := presets[c.Preset]; !ok {
			add("preset", "unknown preset %q; use one of %s", c.Preset, strings.Join(PresetNames(), ", "))
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		add("port", "%d is out of range; use 0..65535", c.Port)
	}
	if strings.TrimSpace(c.Model) == "" && len(c.ServedModelName) == 0 {
		add("model", "is empty; name the model, e.g. burst-fake-model")
	}
	for i, n := range c.ServedModelName {
		if strings.TrimSpace(n) == "" {
			add("served-model-name", "entry %d is empty; remove it", i)
		}
	}
	if c.Mode != ModeRandom && c.Mode != ModeEcho {
		add("mode", "%q is not a mode; use %s or %s", c.Mode, ModeRandom, ModeEcho)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"startup-duration", c.StartupDuration},
		{"cold-start-latency", c.ColdStartLatency},
		{"cold-start-after-idle", c.ColdStartAfterIdle},
		{"prefill-overhead", c.PrefillOverhead},
		{"prefill-overhead-std-dev", c.PrefillOverheadStdDev},
		{"prefill-time-per-token", c.PrefillTimePerToken},
		{"prefill-time-per-token-std-dev", c.PrefillTimePerTokenStdDev},
		{"inter-token-latency", c.InterTokenLatency},
		{"inter-token-latency-std-dev", c.InterTokenLatencyStdDev},
		{"retry-after", c.RetryAfter},
	} {
		if d.v < 0 {
			add(d.name, "%v is negative; use 0 or a positive duration such as \"12ms\"", d.v)
		}
	}
	if math.IsNaN(c.TimeFactorUnderLoad) || c.TimeFactorUnderLoad < 1 {
		add("time-factor-under-load", "%v is below 1; use 1 for no slow-down or e.g. 1.86 for +30%% inter-token latency from half to full load", c.TimeFactorUnderLoad)
	}
	if c.MaxNumSeqs < 1 {
		add("max-num-seqs", "%d is below 1; use at least 1 (vLLM's default is 256)", c.MaxNumSeqs)
	}
	if c.MaxWaitingQueueLength < 0 {
		add("max-waiting-queue-length", "%d is negative; use 0 (no queue) or more", c.MaxWaitingQueueLength)
	}
	if c.MaxModelLen < 1 {
		add("max-model-len", "%d is below 1; use the model's context length, e.g. 32768", c.MaxModelLen)
	}
	if c.DefaultMaxTokens < 1 {
		add("default-max-tokens", "%d is below 1; use at least 1, e.g. 256", c.DefaultMaxTokens)
	} else if c.MaxModelLen >= 1 && c.DefaultMaxTokens > c.MaxModelLen {
		add("default-max-tokens", "%d exceeds max-model-len %d; lower it or raise max-model-len", c.DefaultMaxTokens, c.MaxModelLen)
	}
	switch c.OutputLength {
	case OutputMax, OutputUniform:
	case OutputNormal:
		if c.OutputLengthMean < 1 {
			add("output-length-mean", "%d is below 1; output-length=normal needs a mean of at least 1 token", c.OutputLengthMean)
		}
	default:
		add("output-length", "%q is not a distribution; use %s, %s or %s", c.OutputLength, OutputMax, OutputUniform, OutputNormal)
	}
	if c.OutputLengthMean < 0 {
		add("output-length-mean", "%d is negative; use 0 or more tokens", c.OutputLengthMean)
	}
	if c.OutputLengthStdDev < 0 {
		add("output-length-std-dev", "%d is negative; use 0 or more tokens", c.OutputLengthStdDev)
	}
	sum := 0.0
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"fault-429-rate", c.Fault429Rate},
		{"fault-500-rate", c.Fault500Rate},
		{"fault-503-rate", c.Fault503Rate},
		{"fault-hang-rate", c.FaultHangRate},
		{"fault-stream-cut-rate", c.FaultStreamCutRate},
	} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			add(r.name, "%v is not a fraction; use a value in 0..1 such as 0.05", r.v)
			continue
		}
		sum += r.v
	}
	if sum > 1+1e-9 {
		add("fault-*-rate", "the fault rates add up to %.4g; their sum must be at most 1", sum)
	}
	return errors.Join(errs...)
}

// servedNames returns the model names the server accepts.
func (c Config) servedNames() []string {
	if len(c.ServedModelName) > 0 {
		return c.ServedModelName
	}
	return []string{c.Model}
}
