package measure

import (
	"math"
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/burstbench/burst/results"
)

// ExactLimit is the sample count up to which percentiles are exact; beyond it
// an HDR histogram (3 significant digits, microsecond resolution) is used.
const ExactLimit = 1_000_000

// Distribution summarises durations as results.Stat in milliseconds.
// Percentiles use the nearest-rank method: the smallest sample with at least
// q×n samples at or below it.
func Distribution(ds []time.Duration) results.Stat {
	n := len(ds)
	if n == 0 {
		return results.Stat{}
	}
	if n > ExactLimit {
		return hdrDistribution(ds)
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(q float64) float64 {
		i := int(math.Ceil(q*float64(n))) - 1
		i = max(0, min(n-1, i))
		return results.Ms(s[i])
	}
	return results.Stat{N: n, P50: rank(0.50), P95: rank(0.95), P99: rank(0.99), Max: results.Ms(s[n-1])}
}

func hdrDistribution(ds []time.Duration) results.Stat {
	var hi time.Duration
	for _, d := range ds {
		hi = max(hi, d)
	}
	h := hdrhistogram.New(1, max(2, hi.Microseconds()+1), 3)
	for _, d := range ds {
		_ = h.RecordValue(max(1, d.Microseconds()))
	}
	us := func(v int64) float64 { return float64(v) / 1000 }
	return results.Stat{N: len(ds), P50: us(h.ValueAtQuantile(50)), P95: us(h.ValueAtQuantile(95)),
		P99: us(h.ValueAtQuantile(99)), Max: results.Ms(hi)}
}
