package loadprofiles

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"
)

// Arrival is one task of a schedule: when to enqueue it and what it asks of
// the worker.
type Arrival struct {
	// Offset is the intended enqueue time, counted from the start of the run.
	Offset time.Duration
	// Stage is the index of the stage in the profile's stages list.
	Stage int
	// Steps is the number of LLM calls the agent makes for this task (≥ 1).
	Steps int
	// PromptTokens is the prompt size of each LLM call (≥ 1).
	PromptTokens int
	// OutputTokens is the number of tokens each LLM call generates (≥ 1).
	OutputTokens int
	// Priority is the task's priority label (≥ 0), carried with the task.
	Priority int
}

// Schedule is the open-loop plan of a run: every task with its intended
// enqueue time. Arrivals never wait for completions.
type Schedule struct {
	// Profile is the name of the profile the schedule was made from.
	Profile string
	// Seed is the seed the random parts were drawn with.
	Seed int64
	// Arrivals holds every task, sorted by Offset. Ties keep stage order,
	// then the order the stage produced them in.
	Arrivals []Arrival
	// Duration is the time from the start of the run to the end of the
	// last stage; it is at least the Offset of the last arrival.
	Duration time.Duration
}

// Len returns the number of tasks in the schedule; it is 0 for a nil
// schedule.
func (s *Schedule) Len() int {
	if s == nil {
		return 0
	}
	return len(s.Arrivals)
}

// Schedule computes the profile's schedule. The result depends only on the
// profile and its Seed: the same input and seed give an identical schedule,
// and a different seed changes every random part (Poisson arrivals and
// non-constant task attributes). It returns a *ValidationError in the rare
// case that a Poisson stage draws more than MaxTasks tasks.
func (p *Profile) Schedule() (*Schedule, error) {
	if p == nil || len(p.stages) == 0 {
		return nil, errors.New("loadprofiles: profile has no stages (make profiles with Load, Parse, Builtin or Resolve)")
	}
	var capacity int64
	for _, st := range p.stages {
		n := st.expected()
		if st.poisson {
			// Leave room for the usual Poisson excess over the mean.
			n += int64(6*math.Sqrt(float64(n))) + 16
		}
		capacity += n
	}
	capacity = min(capacity, MaxTasks)
	s := &Schedule{Profile: p.Name, Seed: p.Seed, Arrivals: make([]Arrival, 0, capacity)}
	bounds := make([]int, 0, len(p.stages)+1)
	bounds = append(bounds, 0)
	for i, st := range p.stages {
		begin := len(s.Arrivals)
		var err error
		s.Arrivals, err = st.arrivals(s.Arrivals, p.Seed, i)
		if err != nil {
			return nil, &ValidationError{File: p.file, Problems: []Problem{{
				Line: st.line, Field: fmt.Sprintf("stages[%d]", i), Message: err.Error(),
				Fix: "lower the rate or duration of this or an earlier stage",
			}}}
		}
		st.attributes(s.Arrivals[begin:], p.Seed, i)
		bounds = append(bounds, len(s.Arrivals))
		s.Duration = max(s.Duration, st.end)
	}
	s.Arrivals = mergeRuns(s.Arrivals, bounds)
	if n := len(s.Arrivals); n > 0 {
		s.Duration = max(s.Duration, s.Arrivals[n-1].Offset)
	}
	return s, nil
}

// length returns how long the stage lasts, saturating just past MaxOffset.
func (st *stage) length() time.Duration {
	switch st.shape {
	case shapeBurst:
		return st.spread
	case shapeWaves:
		if st.times > 0 && st.every > MaxOffset/time.Duration(st.times) {
			return MaxOffset + 1
		}
		return time.Duration(st.times) * st.every
	case shapeConstant, shapeRamp, shapePoisson, shapeBusinessDay:
		return st.duration
	case shapeReplay:
		if len(st.rows) == 0 {
			return 0
		}
		last := seconds(st.rows[len(st.rows)-1].offset) / st.speed
		if last > seconds(MaxOffset) {
			return MaxOffset + 1
		}
		return fromSeconds(last)
	}
	return 0
}

// expected returns the number of tasks the stage schedules (the mean for
// Poisson arrivals).
func (st *stage) expected() int64 {
	switch st.shape {
	case shapeBurst:
		return int64(st.count)
	case shapeWaves:
		return int64(st.count) * int64(st.times)
	case shapeReplay:
		return int64(len(st.rows))
	}
	c := st.curve()
	if c == nil {
		return 0
	}
	if st.poisson {
		return int64(math.Round(c.total()))
	}
	return evenCount(c.total())
}

// errTooMany is returned when random arrivals exceed MaxTasks.
var errTooMany = fmt.Errorf("the random arrivals exceeded the limit of %d tasks", MaxTasks)

// arrivals appends the stage's arrivals (offset and stage only) to out, in
// increasing offset order.
func (st *stage) arrivals(out []Arrival, seed int64, index int) ([]Arrival, error) {
	add := func(off time.Duration) {
		out = append(out, Arrival{Offset: off, Stage: index})
	}
	switch st.shape {
	case shapeBurst:
		spreadEvenly(st.start, st.spread, st.count, add)
	case shapeWaves:
		for w := 0; w < st.times; w++ {
			spreadEvenly(st.start+time.Duration(w)*st.every, st.spread, st.count, add)
		}
	case shapeReplay:
		for _, row := range st.rows {
			add(st.start + fromSeconds(seconds(row.offset)/st.speed))
		}
	default:
		c := st.curve()
		if c == nil {
			return out, nil
		}
		seg := 0
		if !st.poisson {
			n := evenCount(c.total())
			for k := int64(0); k < n; k++ {
				add(st.start + fromSeconds(c.invert(float64(k), &seg)))
			}
			return out, nil
		}
		r := newRNG(seed, index, streamArrivals)
		total := c.total()
		// The running sum of the exponential gaps is kept in fixed point
		// (units of 2^-32), so that a last-bit difference in math.Log
		// between CPU architectures cannot accumulate into the arrival
		// times.
		var acc uint64
		for {
			acc += uint64(r.exp() * (1 << 32))
			y := float64(acc) * 0x1p-32
			if y >= total {
				break
			}
			if len(out) >= MaxTasks {
				return out, errTooMany
			}
			add(st.start + fromSeconds(c.invert(y, &seg)))
		}
	}
	return out, nil
}

// spreadEvenly calls add for n offsets from start, spaced spread/n apart
// (all at start when spread is 0).
func spreadEvenly(start, spread time.Duration, n int, add func(time.Duration)) {
	for i := 0; i < n; i++ {
		var off time.Duration
		if spread > 0 {
			// spread·i/n without overflow: spread < 2^62 and i < n.
			hi, lo := bits.Mul64(uint64(spread), uint64(i))
			q, _ := bits.Div64(hi, lo, uint64(n))
			off = time.Duration(q)
		}
		add(start + off)
	}
}

// attributes fills the task attributes of the stage's arrivals, each
// attribute from its own random stream.
func (st *stage) attributes(arr []Arrival, seed int64, index int) {
	for a := range attrs {
		d := &st.task[a]
		field := func(x *Arrival) *int {
			switch a {
			case attrSteps:
				return &x.Steps
			case attrPromptTokens:
				return &x.PromptTokens
			case attrOutputTokens:
				return &x.OutputTokens
			}
			return &x.Priority
		}
		if st.shape == shapeReplay {
			r := newRNG(seed, index, attrs[a].stream)
			for i := range arr {
				v := int(st.rows[i].attr[a])
				if v < 0 {
					v = d.draw(r)
				}
				*field(&arr[i]) = v
			}
			continue
		}
		if !d.random() {
			v := d.draw(nil)
			for i := range arr {
				*field(&arr[i]) = v
			}
			continue
		}
		r := newRNG(seed, index, attrs[a].stream)
		for i := range arr {
			*field(&arr[i]) = d.draw(r)
		}
	}
}

// mergeRuns sorts arr, made of runs arr[bounds[i]:bounds[i+1]] that are each
// sorted by Offset, by merging neighbouring runs. Ties keep the earlier run
// first, so the result is stable in stage order. When the runs are already
// in order (stages that follow one another) nothing is copied.
func mergeRuns(arr []Arrival, bounds []int) []Arrival {
	sorted := true
	for i := 1; i < len(arr); i++ {
		if arr[i].Offset < arr[i-1].Offset {
			sorted = false
			break
		}
	}
	if sorted {
		return arr
	}
	if len(bounds) <= 2 {
		slices.SortStableFunc(arr, cmpOffset)
		return arr
	}
	src, dst := arr, make([]Arrival, len(arr))
	for len(bounds) > 2 {
		next := []int{0}
		for i := 0; i+1 < len(bounds); i += 2 {
			lo, mid := bounds[i], bounds[i+1]
			hi := mid
			if i+2 < len(bounds) {
				hi = bounds[i+2]
			}
			merge(dst[lo:hi], src[lo:mid], src[mid:hi])
			next = append(next, hi)
		}
		src, dst = dst, src
		bounds = next
	}
	// Each run is sorted by construction; this is a cheap guard against
	// floating-point noise ever breaking that promise.
	if !slices.IsSortedFunc(src, cmpOffset) {
		slices.SortStableFunc(src, cmpOffset)
	}
	return src
}

func cmpOffset(a, b Arrival) int { return cmp.Compare(a.Offset, b.Offset) }

// merge merges the sorted runs a and b into out, a first on ties.
func merge(out, a, b []Arrival) {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if b[j].Offset < a[i].Offset {
			out[k] = b[j]
			j++
		} else {
			out[k] = a[i]
			i++
		}
		k++
	}
	k += copy(out[k:], a[i:])
	copy(out[k:], b[j:])
}
