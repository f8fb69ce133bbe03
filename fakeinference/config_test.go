package fakeinference_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/burstbench/burst/fakeinference"
)

func TestPresetsAreValid(t *testing.T) {
	t.Parallel()
	names := fakeinference.PresetNames()
	if want := []string{"h200-70b", "h200-8b", "instant", "serverless"}; !slices.Equal(names, want) {
		t.Fatalf("PresetNames() = %v, want %v", names, want)
	}
	for _, name := range names {
		c, err := fakeinference.Preset(name)
		if err != nil {
			t.Fatalf("Preset(%q): %v", name, err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Preset(%q).Validate() = %v", name, err)
		}
		if c.Preset != name {
			t.Errorf("Preset(%q).Preset = %q", name, c.Preset)
		}
	}
	if _, err := fakeinference.Preset("h100"); err == nil || !strings.Contains(err.Error(), "instant") {
		t.Errorf("Preset(h100) = %v, want an error listing the presets", err)
	}
	// The published figures the presets start from.
	b8 := fakeinference.MustPreset(fakeinference.PresetH200_8B)
	ttft := b8.PrefillOverhead + 1000*b8.PrefillTimePerToken // a 1,000-token prompt
	if ttft < 60*time.Millisecond/14*10 || ttft > 120*time.Millisecond {
		t.Errorf("h200-8b TTFT for 1,000 prompt tokens = %v, want within H100's 60–120 ms divided by ≈1.4", ttft)
	}
	if b8.InterTokenLatency < 7*time.Millisecond || b8.InterTokenLatency > 11*time.Millisecond {
		t.Errorf("h200-8b ITL = %v, want H100's 10–15 ms divided by ≈1.4", b8.InterTokenLatency)
	}
	if r := 2 * b8.TimeFactorUnderLoad / (b8.TimeFactorUnderLoad + 1); r < 1.25 || r > 1.35 {
		t.Errorf("h200-8b: ITL from half to full load grows ×%.2f, want ≈1.3", r)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	ok := fakeinference.MustPreset(fakeinference.PresetInstant)
	cases := []struct {
		name   string
		edit   func(*fakeinference.Config)
		fields []string
	}{
		{"valid", func(*fakeinference.Config) {}, nil},
		{"one", func(c *fakeinference.Config) { c.MaxNumSeqs = 0 }, []string{"max-num-seqs"}},
		{"many at once", func(c *fakeinference.Config) {
			c.Port = 70000
			c.Mode = "shout"
			c.InterTokenLatency = -time.Millisecond
			c.TimeFactorUnderLoad = 0.5
			c.MaxWaitingQueueLength = -1
			c.OutputLength = "poisson"
			c.Fault429Rate = 1.5
		}, []string{"port", "mode", "inter-token-latency", "time-factor-under-load", "max-waiting-queue-length", "output-length", "fault-429-rate"}},
		{"rates sum above 1", func(c *fakeinference.Config) { c.Fault500Rate, c.FaultHangRate = 0.6, 0.6 }, []string{"fault-*-rate"}},
		{"normal needs a mean", func(c *fakeinference.Config) { c.OutputLength = fakeinference.OutputNormal }, []string{"output-length-mean"}},
		{"default above context", func(c *fakeinference.Config) { c.MaxModelLen, c.DefaultMaxTokens = 10, 20 }, []string{"default-max-tokens"}},
		{"no model", func(c *fakeinference.Config) { c.Model = "" }, []string{"model"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			var got []string
			for _, e := range fieldErrors(err) {
				got = append(got, e.Field)
				if !strings.Contains(e.Problem, ";") {
					t.Errorf("%s: problem %q does not say how to fix it", e.Field, e.Problem)
				}
			}
			if !slices.Equal(got, tc.fields) {
				t.Errorf("Validate() fields = %v, want %v (err %v)", got, tc.fields, err)
			}
		})
	}
	if _, err := fakeinference.New(fakeinference.Config{}); err == nil {
		t.Errorf("New(zero Config) = nil error, want the problems")
	}
}

func fieldErrors(err error) []*fakeinference.FieldError {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*fakeinference.FieldError
		for _, e := range j.Unwrap() {
			out = append(out, fieldErrors(e)...)
		}
		return out
	}
	var fe *fakeinference.FieldError
	if errors.As(err, &fe) {
		return []*fakeinference.FieldError{fe}
	}
	return nil
}

func TestConfigKeysEqualFlagNames(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[fakeinference.Config]()
	knobs := fakeinference.Knobs()
	if len(knobs) != typ.NumField() {
		t.Fatalf("Knobs() has %d entries, Config has %d fields", len(knobs), typ.NumField())
	}
	for i, k := range knobs {
		f := typ.Field(i)
		if f.Tag.Get("json") != k.Name || f.Tag.Get("yaml") != k.Name {
			t.Errorf("field %s: json %q, yaml %q; want both %q", f.Name, f.Tag.Get("json"), f.Tag.Get("yaml"), k.Name)
		}
		if k.Help == "" {
			t.Errorf("knob %s has no help", k.Name)
		}
		if want := "FAKEINFERENCE_" + strings.ToUpper(strings.ReplaceAll(k.Name, "-", "_")); k.Env != want {
			t.Errorf("knob %s: env %q, want %q", k.Name, k.Env, want)
		}
	}
	for _, want := range []string{"fault-429-rate", "fault-500-rate", "fault-503-rate", "fault-hang-rate", "fault-stream-cut-rate", "seed", "inter-token-latency", "max-num-seqs"} {
		if !slices.ContainsFunc(knobs, func(k fakeinference.Knob) bool { return k.Name == want }) {
			t.Errorf("no knob %q", want)
		}
	}
}

func TestConfigYAMLAndJSON(t *testing.T) {
	t.Parallel()
	c := fakeinference.MustPreset(fakeinference.PresetInstant)
	err := c.ApplyYAML([]byte(`
inter-token-latency: 12ms
prefill-overhead: 1.5s
served-model-name: [a, b]
max-num-seqs: 8
fault-503-rate: 0.01
accept-any-model: true
`))
	if err != nil {
		t.Fatalf("ApplyYAML: %v", err)
	}
	if c.InterTokenLatency != 12*time.Millisecond || c.PrefillOverhead != 1500*time.Millisecond || c.MaxNumSeqs != 8 ||
		c.Fault503Rate != 0.01 || !c.AcceptAnyModel || !slices.Equal(c.ServedModelName, []string{"a", "b"}) {
		t.Errorf("after ApplyYAML: %+v", c)
	}
	if c.Preset != fakeinference.PresetInstant || c.MaxWaitingQueueLength != 100000 {
		t.Errorf("keys not in the document changed: preset %q, queue %d", c.Preset, c.MaxWaitingQueueLength)
	}

	b, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if !strings.Contains(string(b), `"inter-token-latency":"12ms"`) {
		t.Errorf("JSON %s does not write durations as strings", b)
	}
	var back fakeinference.Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("JSON round trip:\n got %+v\nwant %+v", back, c)
	}

	bad := fakeinference.MustPreset(fakeinference.PresetInstant)
	err = bad.ApplyYAML([]byte("inter-token-latency: 12\nmax-num-seqs: many\nretry-after: soon\nmax-num-seq: 3\n"))
	var fields []string
	for _, fe := range fieldErrors(err) {
		fields = append(fields, fe.Field)
	}
	if want := []string{"inter-token-latency", "max-num-seq", "max-num-seqs", "retry-after"}; !slices.Equal(fields, want) {
		t.Errorf("ApplyYAML problems on %v, want %v (err %v)", fields, want, err)
	}
}

func TestSetAndGetByFlagName(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, value, want string }{
		{"inter-token-latency", "12ms", "12ms"},
		{"max-num-seqs", "64", "64"},
		{"fault-hang-rate", "0.5", "0.5"},
		{"accept-any-model", "true", "true"},
		{"served-model-name", "a, b", "a,b"},
		{"mode", "echo", "echo"},
	}
	for _, tc := range cases {
		c := fakeinference.MustPreset(fakeinference.PresetInstant)
		if err := c.Set(tc.name, tc.value); err != nil {
			t.Errorf("Set(%q, %q): %v", tc.name, tc.value, err)
			continue
		}
		if got, err := c.Get(tc.name); err != nil || got != tc.want {
			t.Errorf("Get(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	c := fakeinference.MustPreset(fakeinference.PresetInstant)
	for _, bad := range [][2]string{{"inter-token-latency", "12"}, {"max-num-seqs", "1.5"}, {"fault-hang-rate", "x"}, {"nope", "1"}} {
		if err := c.Set(bad[0], bad[1]); err == nil {
			t.Errorf("Set(%q, %q) = nil, want an error", bad[0], bad[1])
		}
	}
}
