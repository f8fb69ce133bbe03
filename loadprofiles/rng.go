package loadprofiles

import (
	"math"
	"math/bits"
)

// rng is a small SplitMix64 generator. It is written out here rather than
// taken from math/rand so that the sequence a seed produces can never change
// under us between Go releases: same profile + seed → same schedule.
type rng struct {
	state uint64
}

// Purposes of the independent random streams of one stage. Each stage and
// each purpose gets its own stream, so changing the steps distribution of
// stage 2 does not move the arrivals of stage 0 or the prompt tokens of
// stage 2.
const (
	streamArrivals uint64 = iota + 1
	streamSteps
	streamPromptTokens
	streamOutputTokens
	streamPriority
)

// newRNG returns the stream for (seed, stage, purpose).
func newRNG(seed int64, stage int, purpose uint64) *rng {
	s := mix64(uint64(seed) ^ 0x6a09e667f3bcc909)
	s = mix64(s ^ uint64(stage)*0x9e3779b97f4a7c15)
	s = mix64(s ^ purpose*0xbf58476d1ce4e5b9)
	return &rng{state: s}
}

// mix64 is the SplitMix64 output function.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// uint64 returns the next 64 random bits.
func (r *rng) uint64() uint64 {
	r.state += 0x9e3779b97f4a7c15
	return mix64(r.state)
}

// float64 returns a uniform value in [0, 1).
func (r *rng) float64() float64 {
	return float64(r.uint64()>>11) * 0x1p-53
}

// intn returns a uniform integer in [0, n) for n > 0 (Lemire's method with
// rejection, so there is no modulo bias).
func (r *rng) intn(n uint64) uint64 {
	for {
		hi, lo := bits.Mul64(r.uint64(), n)
		if lo >= n || lo >= (-n)%n {
			return hi
		}
	}
}

// exp returns an exponentially distributed value with mean 1.
func (r *rng) exp() float64 {
	// 1-u is in (0, 1], so the logarithm is finite.
	return -math.Log(1 - r.float64())
}

// normal returns a standard normal value (Box–Muller; one value per call so
// the stream position depends only on the number of draws).
func (r *rng) normal() float64 {
	u1 := 1 - r.float64() // (0, 1]
	u2 := r.float64()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}
