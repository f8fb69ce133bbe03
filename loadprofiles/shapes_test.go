package loadprofiles

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func offsets(s *Schedule) []time.Duration {
	out := make([]time.Duration, s.Len())
	for i, a := range s.Arrivals {
		out[i] = a.Offset
	}
	return out
}

// TestBurst: N tasks at the offset, spread evenly over spread.
func TestBurst(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		want  []time.Duration
		total time.Duration
	}{
		{"at once", "stages: [{shape: burst, count: 3}]", []time.Duration{0, 0, 0}, 0},
		{"at offset", "stages: [{shape: burst, at: 5s, count: 2}]", []time.Duration{5 * time.Second, 5 * time.Second}, 5 * time.Second},
		{"spread", "stages: [{shape: burst, at: 1s, count: 4, spread: 2s}]",
			[]time.Duration{1000 * time.Millisecond, 1500 * time.Millisecond, 2000 * time.Millisecond, 2500 * time.Millisecond}, 3 * time.Second},
		{"odd spread", "stages: [{shape: burst, count: 3, spread: 1s}]", []time.Duration{0, 333333333, 666666666}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSchedule(t, tt.yaml)
			if got := offsets(s); !equalDurations(got, tt.want) {
				t.Errorf("offsets = %v, want %v", got, tt.want)
			}
			if s.Duration != tt.total {
				t.Errorf("Duration = %s, want %s", s.Duration, tt.total)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestConstant: 10/s for 5 s is 50 arrivals exactly 100 ms apart.
func TestConstant(t *testing.T) {
	s := mustSchedule(t, "stages: [{shape: constant, rate: 10, duration: 5s}]")
	if s.Len() != 50 {
		t.Fatalf("Len() = %d, want 50", s.Len())
	}
	for i, a := range s.Arrivals {
		if want := time.Duration(i) * 100 * time.Millisecond; a.Offset != want {
			t.Fatalf("arrival %d at %s, want %s", i, a.Offset, want)
		}
	}
	if s.Duration != 5*time.Second {
		t.Errorf("Duration = %s", s.Duration)
	}
	// Rates whose product with the duration is not exact in binary.
	for _, c := range []struct {
		rate string
		dur  string
		want int
	}{{"0.29", "100s", 29}, {"0.3", "10s", 3}, {"7", "1s", 7}, {"2.5", "3s", 7}, {"1000", "1m", 60000}} {
		if n := mustSchedule(t, "stages: [{shape: constant, rate: "+c.rate+", duration: "+c.dur+"}]").Len(); n != c.want {
			t.Errorf("rate %s for %s: %d tasks, want %d", c.rate, c.dur, n, c.want)
		}
	}
}

// TestRamp: the count is the area under the rate and arrivals get denser.
func TestRamp(t *testing.T) {
	s := mustSchedule(t, "stages: [{shape: ramp, from: 0, to: 10, duration: 10s}]")
	if s.Len() != 50 {
		t.Fatalf("Len() = %d, want 50", s.Len())
	}
	// Λ(t) = t²/2 for from 0 to 10 over 10s: arrival k at sqrt(2k).
	for k, a := range s.Arrivals {
		want := time.Duration(math.Sqrt(2*float64(k)) * 1e9)
		if d := a.Offset - want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("arrival %d at %s, want %s", k, a.Offset, want)
		}
	}
	first := 0
	for _, a := range s.Arrivals {
		if a.Offset < 5*time.Second {
			first++
		}
	}
	if first < 12 || first > 13 { // a quarter of the area is in the first half
		t.Errorf("%d arrivals in the first half, want 12 or 13", first)
	}
	down := mustSchedule(t, "stages: [{shape: ramp, from: 10, to: 2, duration: 10s}]")
	if down.Len() != 60 {
		t.Errorf("ramp down: Len() = %d, want 60", down.Len())
	}
	gaps := func(s *Schedule, i int) time.Duration { return s.Arrivals[i+1].Offset - s.Arrivals[i].Offset }
	if gaps(down, 0) >= gaps(down, down.Len()-2) {
		t.Error("ramp down: arrivals do not get sparser")
	}
	p := mustSchedule(t, "seed: 3\nstages: [{shape: ramp, from: 0, to: 200, duration: 100s, arrivals: poisson}]")
	if n := float64(p.Len()); math.Abs(n-10000) > 4*100 {
		t.Errorf("poisson ramp: %v tasks, want 10000 ± 400", n)
	}
}

// TestPoisson: the count and the gaps match a Poisson process.
func TestPoisson(t *testing.T) {
	const rate, secs = 100.0, 100.0
	mean := rate * secs
	for seed := int64(1); seed <= 5; seed++ {
		p := mustParse(t, "stages: [{shape: poisson, rate: 100, duration: 100s}]").WithSeed(seed)
		s, err := p.Schedule()
		if err != nil {
			t.Fatal(err)
		}
		n := float64(s.Len())
		if math.Abs(n-mean) > 4*math.Sqrt(mean) {
			t.Errorf("seed %d: %v arrivals, want %v ± %v", seed, n, mean, 4*math.Sqrt(mean))
		}
		var sum, sumSq float64
		for i := 1; i < s.Len(); i++ {
			g := (s.Arrivals[i].Offset - s.Arrivals[i-1].Offset).Seconds()
			sum += g
			sumSq += g * g
		}
		m := sum / (n - 1)
		cv := math.Sqrt(sumSq/(n-1)-m*m) / m
		if math.Abs(m-1/rate) > 0.05/rate {
			t.Errorf("seed %d: mean gap %v, want %v", seed, m, 1/rate)
		}
		if math.Abs(cv-1) > 0.05 { // exponential gaps have CV 1
			t.Errorf("seed %d: gap CV %v, want 1", seed, cv)
		}
		// Arrivals are spread over the whole duration, not bunched.
		var firstHalf int
		for _, a := range s.Arrivals {
			if a.Offset < 50*time.Second {
				firstHalf++
			}
		}
		if math.Abs(float64(firstHalf)-mean/2) > 4*math.Sqrt(mean/2) {
			t.Errorf("seed %d: %d arrivals in the first half", seed, firstHalf)
		}
		if last := s.Arrivals[s.Len()-1].Offset; last >= 100*time.Second {
			t.Errorf("seed %d: arrival at %s, after the stage", seed, last)
		}
	}
}

// TestWaves: count tasks every interval, times times.
func TestWaves(t *testing.T) {
	s := mustSchedule(t, "stages: [{shape: waves, at: 1s, count: 3, every: 10s, times: 4, spread: 300ms}]")
	if s.Len() != 12 {
		t.Fatalf("Len() = %d, want 12", s.Len())
	}
	for w := 0; w < 4; w++ {
		for i := 0; i < 3; i++ {
			want := time.Second + time.Duration(w)*10*time.Second + time.Duration(i)*100*time.Millisecond
			if got := s.Arrivals[w*3+i].Offset; got != want {
				t.Errorf("wave %d task %d at %s, want %s", w, i, got, want)
			}
		}
	}
	if s.Duration != 41*time.Second {
		t.Errorf("Duration = %s, want 41s (1s + 4 × 10s)", s.Duration)
	}
}

// TestBusinessDay: the peak-to-lull ratio is peak_multiplier /
// night_multiplier, and the peak sits at 8am–6pm.
func TestBusinessDay(t *testing.T) {
	for _, arrivals := range []string{"even", "poisson"} {
		t.Run(arrivals, func(t *testing.T) {
			// 24 s day: 1 s per hour. base 100/s: night 25/s, peak 600/s.
			s := mustSchedule(t, "seed: 9\nstages: [{shape: business-day, duration: 24s, base_rate: 100, peak_multiplier: 6, night_multiplier: 0.25, arrivals: "+arrivals+"}]")
			perHour := make([]float64, 24)
			for _, a := range s.Arrivals {
				perHour[int(a.Offset/time.Second)]++
			}
			lull := (perHour[1] + perHour[2] + perHour[3] + perHour[4]) / 4
			peak := (perHour[9] + perHour[12] + perHour[15] + perHour[16]) / 4
			evening := perHour[21]
			if math.Abs(lull-25) > 4*math.Sqrt(25/4.0)+1 {
				t.Errorf("night: %v per hour, want 25", lull)
			}
			if math.Abs(peak-600) > 4*math.Sqrt(600/4.0)+1 {
				t.Errorf("peak: %v per hour, want 600", peak)
			}
			if math.Abs(evening-100) > 4*math.Sqrt(100)+1 {
				t.Errorf("evening: %v per hour, want 100", evening)
			}
			if ratio := peak / lull; ratio < 18 || ratio > 30 {
				t.Errorf("peak/lull = %v, want about 24", ratio)
			}
			// The whole day: 3.25 × base × duration.
			want := 3.25 * 100 * 24
			if n := float64(s.Len()); math.Abs(n-want) > 4*math.Sqrt(want) {
				t.Errorf("%v tasks, want %v", n, want)
			}
		})
	}
	// Defaults: peak 6×, night 0.25×.
	s := mustSchedule(t, "stages: [{shape: business-day, duration: 24s, base_rate: 10}]")
	if s.Len() != 780 {
		t.Errorf("defaults: %d tasks, want 780", s.Len())
	}
}

// TestSequencing: a stage without at: starts when the previous one ends;
// with at: at that offset. Overlapping stages interleave in time order.
func TestSequencing(t *testing.T) {
	s := mustSchedule(t, `
stages:
  - shape: constant
    rate: 1
    duration: 3s
  - shape: burst
    count: 1
  - shape: waves
    count: 1
    every: 2s
    times: 2
  - shape: burst
    at: 1500ms
    count: 2
  - shape: burst
    count: 1
`)
	type at struct {
		stage int
		off   time.Duration
	}
	want := []at{
		{0, 0}, {0, time.Second}, {3, 1500 * time.Millisecond}, {3, 1500 * time.Millisecond}, {4, 1500 * time.Millisecond},
		{0, 2 * time.Second}, {1, 3 * time.Second}, {2, 3 * time.Second}, {2, 5 * time.Second},
	}
	if s.Len() != len(want) {
		t.Fatalf("Len() = %d, want %d: %+v", s.Len(), len(want), s.Arrivals)
	}
	for i, w := range want {
		if a := s.Arrivals[i]; a.Stage != w.stage || a.Offset != w.off {
			t.Errorf("arrival %d: stage %d at %s, want stage %d at %s", i, a.Stage, a.Offset, w.stage, w.off)
		}
	}
	if s.Duration != 7*time.Second { // waves: 3s + 2 × 2s
		t.Errorf("Duration = %s, want 7s", s.Duration)
	}
}

// TestDistributions: draws follow the distribution and stay in range.
func TestDistributions(t *testing.T) {
	tests := []struct {
		name           string
		dist           string
		min, max       int
		mean, meanTol  float64
		median, medTol float64
	}{
		{"constant", "7", 7, 7, 7, 0, 7, 0},
		{"constant mapping", "{dist: constant, value: 3}", 3, 3, 3, 0, 3, 0},
		{"uniform", "{dist: uniform, min: 1, max: 3}", 1, 3, 2, 0.05, 2, 0},
		{"normal", "{dist: normal, mean: 500, stddev: 50}", 200, 800, 500, 2, 500, 3},
		{"normal clamped", "{dist: normal, mean: 500, stddev: 200, min: 450, max: 550}", 450, 550, 500, 3, 500, 3},
		{"normal floor", "{dist: normal, mean: 1, stddev: 5}", 1, 30, 0, -1, 1, 0},
		{"lognormal", "{dist: lognormal, median: 150, sigma: 0.5}", 1, 3000, 150 * math.Exp(0.125), 3, 150, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSchedule(t, "seed: 11\ntask: {output_tokens: "+tt.dist+"}\nstages: [{shape: burst, count: 20000}]")
			var sum float64
			counts := map[int]int{}
			vals := make([]int, 0, s.Len())
			for _, a := range s.Arrivals {
				v := a.OutputTokens
				if v < tt.min || v > tt.max {
					t.Fatalf("draw %d outside [%d, %d]", v, tt.min, tt.max)
				}
				sum += float64(v)
				counts[v]++
				vals = append(vals, v)
			}
			if m := sum / float64(s.Len()); tt.meanTol >= 0 && math.Abs(m-tt.mean) > tt.meanTol {
				t.Errorf("mean %v, want %v ± %v", m, tt.mean, tt.meanTol)
			}
			med := median(vals)
			if math.Abs(med-tt.median) > tt.medTol {
				t.Errorf("median %v, want %v ± %v", med, tt.median, tt.medTol)
			}
			if tt.name == "uniform" {
				for v := 1; v <= 3; v++ {
					if c := counts[v]; c < 6300 || c > 7000 {
						t.Errorf("value %d drawn %d times of 20000, want about 6667", v, c)
					}
				}
			}
		})
	}
}

func median(v []int) float64 {
	c := append([]int(nil), v...)
	counts := map[int]int{}
	maxV := 0
	for _, x := range c {
		counts[x]++
		maxV = max(maxV, x)
	}
	seen := 0
	for x := 0; x <= maxV; x++ {
		seen += counts[x]
		if seen*2 >= len(c) {
			return float64(x)
		}
	}
	return 0
}

// TestTaskOverrides: stage task blocks override the profile's per
// attribute; the rest is inherited.
func TestTaskOverrides(t *testing.T) {
	s := mustSchedule(t, `
task: {steps: 2, prompt_tokens: 300, output_tokens: 50, priority: 1}
stages:
  - shape: burst
    count: 1
  - shape: burst
    at: 1s
    count: 1
    task: {steps: 9}
  - shape: burst
    at: 2s
    count: 1
`)
	got := [][4]int{}
	for _, a := range s.Arrivals {
		got = append(got, [4]int{a.Steps, a.PromptTokens, a.OutputTokens, a.Priority})
	}
	want := [][4]int{{2, 300, 50, 1}, {9, 300, 50, 1}, {2, 300, 50, 1}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("arrival %d = %v, want %v", i, got[i], want[i])
		}
	}
	d := mustSchedule(t, "stages: [{shape: burst, count: 1}]")
	if a := d.Arrivals[0]; a.Steps != 1 || a.PromptTokens != 500 || a.OutputTokens != 150 || a.Priority != 0 {
		t.Errorf("defaults = %+v, want steps 1, prompt 500, output 150, priority 0", a)
	}
}

// TestReplay: offsets relative to the stage start, scaled by speed, sorted;
// CSV attributes used where given, drawn where empty.
func TestReplay(t *testing.T) {
	p, err := Load("testdata/valid/replay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Schedule()
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 6 {
		t.Fatalf("Len() = %d, want 6", s.Len())
	}
	// trace.csv: 4s, 0, 1.5, 1500ms at speed 2 from 10s.
	wantOff := []time.Duration{0, 0, 10 * time.Second, 10750 * time.Millisecond, 10750 * time.Millisecond, 12 * time.Second}
	if got := offsets(s); !equalDurations(got, wantOff) {
		t.Errorf("offsets = %v, want %v", got, wantOff)
	}
	r := s.Arrivals[3] // "1.5,2,800,,1"
	if r.Steps != 2 || r.PromptTokens != 800 || r.Priority != 1 || r.OutputTokens != 150 {
		t.Errorf("row 1.5 = %+v, want steps 2, prompt 800, output 150 (default), priority 1", r)
	}
	if last := s.Arrivals[5]; last.Steps != 5 || last.PromptTokens != 1000 || last.OutputTokens != 300 || last.Priority != 2 {
		t.Errorf("row 4s = %+v", last)
	}
	if s.Duration != 12*time.Second {
		t.Errorf("Duration = %s, want 12s", s.Duration)
	}
}

// TestReplayCSVErrors: problems name the CSV file and line.
func TestReplayCSVErrors(t *testing.T) {
	tests := []struct {
		name, csv, want string
	}{
		{"bad offset", "offset\n1s\nlater\n", "t.csv:3: column offset: \"later\" is not a duration"},
		{"negative", "offset\n-2\n", "t.csv:2: column offset: \"-2\" is out of range"},
		{"comment lines count", "# c\noffset,steps\n# c\n1s,0\n", "t.csv:4: column steps: \"0\" is not a whole number from 1 to 10000"},
		{"no header", "1s,2\n", "t.csv:1: the first line must be a header"},
		{"fields", "offset,steps\n1s\n", "t.csv:2: 1 fields, but the header has 2"},
		{"quote", "offset\n\"1s\n", "t.csv:2: column"},
		{"empty", "", "t.csv:1: the file is empty"},
		{"crlf", "offset\r\n1s\r\nx\r\n", "t.csv:3: column offset"},
		{"bom", "\xef\xbb\xbfoffset\n1s\nx\n", "t.csv:3: column offset"},
		{"case", "Offset\n1s\n", `t.csv:1: unknown column "Offset" in the header (did you mean "offset"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, probs := parseReplay("t.csv", []byte(tt.csv))
			if len(probs) == 0 || !strings.HasPrefix(probs[0], tt.want) {
				t.Errorf("problems = %q, want the first to start with %q", probs, tt.want)
			}
		})
	}
	var many strings.Builder
	many.WriteString("offset\n")
	for i := 0; i < 100; i++ {
		many.WriteString("x\n")
	}
	_, probs := parseReplay("t.csv", []byte(many.String()))
	if len(probs) != maxCSVProblems+1 || probs[len(probs)-1] != "t.csv: and 80 more problems" {
		t.Errorf("got %d problems, last %q", len(probs), probs[len(probs)-1])
	}
}

// TestReplayPaths: CSV files are found relative to the profile file, and
// an absolute path works too.
func TestReplayPaths(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "t.csv"), []byte("offset\n0\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rel := filepath.Join(dir, "p.yaml")
	os.WriteFile(rel, []byte("stages: [{shape: replay, file: sub/t.csv}]\n"), 0o644)
	abs := filepath.Join(dir, "abs.yaml")
	os.WriteFile(abs, []byte("stages: [{shape: replay, file: "+filepath.Join(sub, "t.csv")+"}]\n"), 0o644)
	for _, f := range []string{rel, abs} {
		p, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := p.Schedule(); s.Len() != 2 {
			t.Errorf("%s: %d arrivals, want 2", f, s.Len())
		}
	}
	dirAsFile := filepath.Join(dir, "d.yaml")
	os.WriteFile(dirAsFile, []byte("stages: [{shape: replay, file: sub}]\n"), 0o644)
	_, err := Load(dirAsFile)
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("replay of a directory: %v", err)
	}
}

// TestAnchors: aliases and (shallow) merge keys work.
func TestAnchors(t *testing.T) {
	p, err := Load("testdata/valid/anchors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := p.Schedule()
	if s.Len() != 12 {
		t.Fatalf("Len() = %d, want 12", s.Len())
	}
	for _, a := range s.Arrivals {
		switch a.Stage {
		case 0:
			if a.Offset != 0 || a.Steps != 2 {
				t.Errorf("stage 0: %+v", a)
			}
		case 1:
			// The explicit task: replaces the merged one (merges are shallow).
			if a.Offset != 10*time.Second || a.Steps != 1 || a.OutputTokens < 100 || a.OutputTokens > 200 {
				t.Errorf("stage 1: %+v", a)
			}
		}
	}
}
