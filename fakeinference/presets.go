package fakeinference

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Preset names.
const (
	PresetInstant    = "instant"    // zero latency, huge capacity: for tests
	PresetH200_8B    = "h200-8b"    // an 8B model (Llama-3.1-8B class) on one H200 with vLLM
	PresetH200_70B   = "h200-70b"   // a 70B model (Llama-3.1-70B class, FP8) on one H200 with vLLM
	PresetServerless = "serverless" // a hosted serverless endpoint: cold start, higher and noisier TTFT
)

// The presets are approximations built from published figures, not
// measurements of any one deployment:
//
//   - An 8B model on one H100 with vLLM: time to first token 60–120 ms for
//     short-to-medium prompts, inter-token latency 10–15 ms at moderate batch.
//   - An H200 gives about 1.4× the H100's throughput (more and faster HBM), so
//     the H100 latencies are divided by about 1.4.
//   - Inter-token latency rises about 30 % when the load (running sequences)
//     doubles. With load factor 1 + (F−1)(r−1)/(M−1), going from r = M/2 to
//     r = M multiplies latency by about 2F/(F+1); 2F/(F+1) = 1.3 gives
//     F ≈ 1.86.
//   - A 70B model is about 3× slower per token than an 8B one at equal
//     hardware (memory-bound decode of ~9× the weights, helped by FP8 and
//     larger batches), and prefill is ~5× slower per token.
//   - Serverless endpoints add a cold start (seconds, model pulled onto a GPU)
//     after idle, queueing in front of shared GPUs that makes TTFT higher and
//     noisier, and a smaller per-tenant concurrency.
var presets = map[string]func() Config{
	PresetInstant: func() Config {
		c := base()
		c.Preset = PresetInstant
		c.MaxNumSeqs = 100000
		c.MaxWaitingQueueLength = 100000
		c.MaxModelLen = 1 << 20
		c.DefaultMaxTokens = 16
		return c
	},
	PresetH200_8B: func() Config {
		c := base()
		c.Preset = PresetH200_8B
		// H100: TTFT 60–120 ms → H200 ≈ 45–85 ms: 40 ms fixed + 40 µs per
		// prompt token (≈ 25k prompt tokens/s) gives 45 ms for 128 tokens and
		// 80 ms for 1,000.
		c.PrefillOverhead = 40 * time.Millisecond
		c.PrefillOverheadStdDev = 8 * time.Millisecond
		c.PrefillTimePerToken = 40 * time.Microsecond
		c.PrefillTimePerTokenStdDev = 4 * time.Microsecond
		// H100: ITL 10–15 ms → H200 ≈ 7–11 ms; 7 ms idle grows to 13 ms at
		// full load with F = 1.86.
		c.InterTokenLatency = 7 * time.Millisecond
		c.InterTokenLatencyStdDev = 1 * time.Millisecond
		c.TimeFactorUnderLoad = 1.86
		c.MaxNumSeqs = 256
		c.MaxWaitingQueueLength = 4096
		c.MaxModelLen = 32768
		return c
	},
	PresetH200_70B: func() Config {
		c := base()
		c.Preset = PresetH200_70B
		c.PrefillOverhead = 120 * time.Millisecond
		c.PrefillOverheadStdDev = 25 * time.Millisecond
		c.PrefillTimePerToken = 200 * time.Microsecond
		c.PrefillTimePerTokenStdDev = 20 * time.Microsecond
		c.InterTokenLatency = 22 * time.Millisecond
		c.InterTokenLatencyStdDev = 3 * time.Millisecond
		c.TimeFactorUnderLoad = 1.86
		c.MaxNumSeqs = 128
		c.MaxWaitingQueueLength = 2048
		c.MaxModelLen = 32768
		return c
	},
	PresetServerless: func() Config {
		c := base()
		c.Preset = PresetServerless
		c.ColdStartLatency = 8 * time.Second
		c.ColdStartAfterIdle = 5 * time.Minute
		c.PrefillOverhead = 250 * time.Millisecond
		c.PrefillOverheadStdDev = 120 * time.Millisecond
		c.PrefillTimePerToken = 60 * time.Microsecond
		c.PrefillTimePerTokenStdDev = 15 * time.Microsecond
		c.InterTokenLatency = 12 * time.Millisecond
		c.InterTokenLatencyStdDev = 4 * time.Millisecond
		c.TimeFactorUnderLoad = 1.86
		c.MaxNumSeqs = 64
		c.MaxWaitingQueueLength = 256
		c.MaxModelLen = 32768
		return c
	},
}

// base holds the knobs every preset shares.
func base() Config {
	return Config{
		Port:                  8000,
		Model:                 "burst-fake-model",
		Mode:                  ModeRandom,
		TimeFactorUnderLoad:   1,
		MaxNumSeqs:            256,
		MaxWaitingQueueLength: 1024,
		RetryAfter:            time.Second,
		MaxModelLen:           32768,
		DefaultMaxTokens:      256,
		OutputLength:          OutputMax,
	}
}

// PresetNames lists the preset names, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Preset returns the named preset: "instant", "h200-8b", "h200-70b" or
// "serverless". The presets are approximations; the package source and
// docs/fakeinference.md say where their numbers come from.
func Preset(name string) (Config, error) {
	f, ok := presets[name]
	if !ok {
		return Config{}, fieldErr("preset", "unknown preset %q; use one of %s", name, strings.Join(PresetNames(), ", "))
	}
	return f(), nil
}

// MustPreset is Preset for names known to be valid; it panics otherwise.
func MustPreset(name string) Config {
	c, err := Preset(name)
	if err != nil {
		panic(fmt.Sprintf("fakeinference: %v", err))
	}
	return c
}
