package loadprofiles

import "testing"

// benchProfiles each schedule 1,000,000 tasks.
var benchProfiles = []struct{ name, yaml string }{
	{"burst-constant-attrs", "stages: [{shape: burst, count: 1000000}]"},
	{"constant-random-attrs", `
task:
  steps: {dist: uniform, min: 1, max: 3}
  prompt_tokens: {dist: normal, mean: 500, stddev: 50}
  output_tokens: {dist: lognormal, median: 150, sigma: 0.5}
  priority: {dist: uniform, min: 0, max: 9}
stages: [{shape: constant, rate: 10000, duration: 100s}]`},
	{"poisson-random-attrs", `
task:
  steps: {dist: uniform, min: 1, max: 3}
  prompt_tokens: {dist: normal, mean: 500, stddev: 50}
  output_tokens: {dist: lognormal, median: 150, sigma: 0.5}
stages: [{shape: poisson, rate: 10000, duration: 100s}]`},
	{"overlapping-stages", `
task:
  steps: {dist: uniform, min: 1, max: 3}
stages:
  - {shape: business-day, base_rate: 2000, duration: 100s}
  - {shape: poisson, at: 0s, rate: 3000, duration: 100s}
  - {shape: waves, at: 0s, count: 5000, every: 10s, times: 10}`},
}

// BenchmarkSchedule measures Profile.Schedule for 1,000,000-task profiles
// and reports ns/task next to the usual figures.
func BenchmarkSchedule(b *testing.B) {
	for _, bp := range benchProfiles {
		b.Run(bp.name, func(b *testing.B) {
			p := mustParse(b, bp.yaml)
			b.ReportAllocs()
			var n int
			for b.Loop() {
				s, err := p.Schedule()
				if err != nil {
					b.Fatal(err)
				}
				n = s.Len()
			}
			if n < 900_000 || n > 1_100_000 {
				b.Fatalf("%d tasks, want about 1,000,000", n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/task")
		})
	}
}
