package loadprofiles

import "math"

// distKind names a distribution of a task attribute.
type distKind int

const (
	distConstant distKind = iota
	distUniform
	distNormal
	distLognormal
)

var distNames = []string{"constant", "uniform", "normal", "lognormal"}

func (k distKind) String() string { return distNames[k] }

// dist is a validated distribution of one integer task attribute. Draws are
// rounded to the nearest integer and clamped to [lo, hi].
type dist struct {
	kind distKind
	// constant: value in a; uniform: a=min, b=max (integers, inclusive);
	// normal: a=mean, b=stddev; lognormal: a=median, b=sigma.
	a, b float64
	// lo and hi clamp every draw; they start as the attribute's limits and
	// are narrowed by the optional min/max of normal and lognormal.
	lo, hi int
}

// attr describes one task attribute: its YAML key, the RNG stream it draws
// from, its hard limits and its default.
type attr struct {
	key      string
	stream   uint64
	min, max int
	def      int
	what     string
}

// The four task attributes, in the order they appear under "task:".
var attrs = [numAttrs]attr{
	{key: "steps", stream: streamSteps, min: 1, max: 10_000, def: 1, what: "LLM calls per task"},
	{key: "prompt_tokens", stream: streamPromptTokens, min: 1, max: 10_000_000, def: 500, what: "prompt tokens per LLM call"},
	{key: "output_tokens", stream: streamOutputTokens, min: 1, max: 10_000_000, def: 150, what: "output tokens per LLM call"},
	{key: "priority", stream: streamPriority, min: 0, max: 1_000_000, def: 0, what: "task priority"},
}

const (
	attrSteps = iota
	attrPromptTokens
	attrOutputTokens
	attrPriority
	numAttrs
)

// taskSpec holds the distribution of each task attribute.
type taskSpec [numAttrs]dist

// defaultTaskSpec is what a profile without a task block gets.
func defaultTaskSpec() taskSpec {
	var t taskSpec
	for i, a := range attrs {
		t[i] = dist{kind: distConstant, a: float64(a.def), lo: a.min, hi: a.max}
	}
	return t
}

// draw returns one value of the distribution.
func (d *dist) draw(r *rng) int {
	var v float64
	switch d.kind {
	case distConstant:
		return clampInt(int(d.a), d.lo, d.hi)
	case distUniform:
		lo, hi := int64(d.a), int64(d.b)
		return clampInt(int(lo+int64(r.intn(uint64(hi-lo)+1))), d.lo, d.hi)
	case distNormal:
		v = d.a + float64(d.b*r.normal())
	case distLognormal:
		v = d.a * math.Exp(float64(d.b*r.normal()))
	}
	v = math.Round(v)
	switch {
	case !(v >= float64(d.lo)): // also catches NaN
		return d.lo
	case v > float64(d.hi):
		return d.hi
	}
	return int(v)
}

// random reports whether the distribution draws from its stream.
func (d *dist) random() bool { return d.kind != distConstant }

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
