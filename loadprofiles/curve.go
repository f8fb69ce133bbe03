package loadprofiles

import (
	"math"
	"time"
)

// curve is a piecewise-linear arrival rate over a stage: the rate is r[j]
// tasks per second at t[j] seconds after the stage starts and changes
// linearly in between. constant, poisson, ramp and business-day stages are
// all curves; arrivals are placed by inverting the cumulative count
// Λ(t) = ∫ rate: evenly spaced arrivals sit where Λ(t) = 0, 1, 2, …, and
// Poisson arrivals where Λ(t) equals the running sum of unit exponential
// draws (the time-rescaling theorem), which gives a Poisson process whose
// intensity follows the curve.
type curve struct {
	t, r []float64
	cum  []float64 // Λ at each knot
}

// newCurve builds a curve from knots; t must be increasing.
func newCurve(t, r []float64) *curve {
	c := &curve{t: t, r: r, cum: make([]float64, len(t))}
	for j := 1; j < len(t); j++ {
		// float64(...) around the product forbids a fused multiply-add,
		// which some CPUs would round differently (see the Go spec).
		c.cum[j] = c.cum[j-1] + float64((r[j-1]+r[j])/2*(t[j]-t[j-1]))
	}
	return c
}

// total is the expected number of arrivals, Λ at the end.
func (c *curve) total() float64 { return c.cum[len(c.cum)-1] }

// invert returns the time t (seconds) with Λ(t) = y. seg is the segment to
// start searching from; targets must be passed in increasing order, which
// makes a whole stage O(n).
func (c *curve) invert(y float64, seg *int) float64 {
	last := len(c.t) - 2
	for *seg < last && c.cum[*seg+1] <= y {
		*seg++
	}
	j := *seg
	y -= c.cum[j]
	if y <= 0 {
		return c.t[j]
	}
	dt := c.t[j+1] - c.t[j]
	b := c.r[j]
	a := float64(c.r[j+1]-b) / float64(2*dt)
	var x float64
	if a == 0 {
		x = y / b
	} else {
		// Solve a·x² + b·x = y in the form that stays accurate when a is
		// tiny or negative.
		disc := float64(b*b) + float64(4*a*y)
		if disc < 0 {
			disc = 0
		}
		den := b + math.Sqrt(disc)
		if den <= 0 {
			return c.t[j]
		}
		x = 2 * y / den
	}
	if !(x <= dt) { // also NaN
		x = dt
	}
	return c.t[j] + x
}

// evenCount is the number of evenly spaced arrivals in a curve: Λ rounded
// down, with a little slack so that 0.29/s for 100 s still gives 29.
func evenCount(total float64) int64 {
	return int64(math.Floor(total + 1e-6))
}

// seconds converts a duration to float seconds.
func seconds(d time.Duration) float64 { return d.Seconds() }

// fromSeconds converts float seconds to a duration, rounded to the
// nanosecond.
func fromSeconds(s float64) time.Duration {
	return time.Duration(math.Round(float64(s * 1e9)))
}

// businessDayKnots is the shape of the compressed day as (hour, level)
// pairs, where the level is a multiplier of base_rate; "night" and "peak"
// stand for the stage's night_multiplier and peak_multiplier.
//
//	00–06 night lull     night × base
//	06–08 morning ramp   night → peak
//	08–18 office hours   peak × base
//	18–20 evening ramp   peak → base
//	20–22 evening        base
//	22–24 late evening   base → night
var businessDayKnots = []struct {
	hour  float64
	level string
}{
	{0, "night"}, {6, "night"}, {8, "peak"}, {18, "peak"}, {20, "base"}, {22, "base"}, {24, "night"},
}

// curve returns the rate curve of a curve-shaped stage, or nil.
func (st *stage) curve() *curve {
	d := seconds(st.duration)
	switch st.shape {
	case shapeConstant, shapePoisson:
		return newCurve([]float64{0, d}, []float64{st.rate, st.rate})
	case shapeRamp:
		return newCurve([]float64{0, d}, []float64{st.from, st.to})
	case shapeBusinessDay:
		t := make([]float64, len(businessDayKnots))
		r := make([]float64, len(businessDayKnots))
		for i, k := range businessDayKnots {
			t[i] = float64(k.hour/24) * d
			switch k.level {
			case "night":
				r[i] = st.base * st.night
			case "peak":
				r[i] = st.base * st.peak
			default:
				r[i] = st.base
			}
		}
		return newCurve(t, r)
	}
	return nil
}
