package loadprofiles

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update if the change is intended)\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

// TestInvalidProfilesGolden loads every file in testdata/invalid and
// compares the full error message with its .golden file.
func TestInvalidProfilesGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := Load(file)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want an error", file, p)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Load(%s) error is %T (%v), want *ValidationError", file, err, err)
			}
			if ve.File != file {
				t.Errorf("File = %q, want %q", ve.File, file)
			}
			for _, pr := range ve.Problems {
				if pr.Message == "" {
					t.Errorf("problem without message: %+v", pr)
				}
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

// TestValidationErrorFormat checks the one-line-per-problem format.
func TestValidationErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  *ValidationError
		want string
	}{
		{"full", &ValidationError{File: "p.yaml", Problems: []Problem{{Line: 3, Field: "stages[2].rate", Message: "must be above 0", Fix: "use 10"}}},
			"p.yaml:3: stages[2].rate: must be above 0 (fix: use 10)"},
		{"no line, field or fix", &ValidationError{File: "p.yaml", Problems: []Problem{{Message: "file is empty"}}},
			"p.yaml: file is empty"},
		{"two problems", &ValidationError{File: "p.yaml", Problems: []Problem{{Line: 1, Field: "a", Message: "x"}, {Line: 2, Field: "b", Message: "y"}}},
			"p.yaml:1: a: x\np.yaml:2: b: y"},
		{"no file", &ValidationError{Problems: []Problem{{Message: "x"}}}, "<input>: x"},
		{"no problems", &ValidationError{File: "p.yaml"}, "p.yaml: invalid profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestEveryProblemAtOnce makes sure validation does not stop early.
func TestEveryProblemAtOnce(t *testing.T) {
	_, err := Parse("p.yaml", []byte(`
name: x
seed: nope
stages:
  - shape: constant
    rate: -1
    duration: 5
  - shape: burst
    count: 0
    spread: 1
`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	var fields []string
	for _, p := range ve.Problems {
		fields = append(fields, p.Field)
	}
	want := []string{"seed", "stages[0].rate", "stages[0].duration", "stages[1].count", "stages[1].spread"}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("fields = %q, want %q\n%v", fields, want, err)
	}
}

// TestBuiltins parses and schedules every shipped profile and checks that
// each stays laptop-sized.
func TestBuiltins(t *testing.T) {
	want := []string{"business-day", "poisson-steady", "ramp", "spike-1000", "spike-50", "waves"}
	if got := BuiltinNames(); !reflect.DeepEqual(got, want) {
		t.Fatalf("BuiltinNames() = %q, want %q", got, want)
	}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != name {
				t.Errorf("Name = %q, want %q", p.Name, name)
			}
			if p.Description == "" {
				t.Error("no description")
			}
			data, _ := fs.ReadFile(builtinFS, "profiles/"+name+".yaml")
			if !bytes.HasPrefix(data, []byte("# ")) {
				t.Error("the file does not start with a comment saying what it models")
			}
			s, err := p.Schedule()
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() == 0 || s.Len() > 2000 {
				t.Errorf("Len() = %d, want 1..2000", s.Len())
			}
			if s.Duration > 3*time.Minute {
				t.Errorf("Duration = %s, want at most 3m", s.Duration)
			}
			checkSchedule(t, s)
			golden(t, filepath.Join("testdata", "schedules", name+".csv"), encodeSchedule(s))
		})
	}
}

// TestSpike50 pins the seed article's profile.
func TestSpike50(t *testing.T) {
	p, err := Resolve("spike-50")
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Schedule()
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 50 || s.Duration != 0 {
		t.Fatalf("Len() = %d, Duration = %s; want 50 tasks at offset 0", s.Len(), s.Duration)
	}
	var prompt, out float64
	for _, a := range s.Arrivals {
		if a.Offset != 0 {
			t.Errorf("offset %s, want 0", a.Offset)
		}
		if a.Steps < 1 || a.Steps > 3 {
			t.Errorf("steps %d, want 1..3", a.Steps)
		}
		if a.OutputTokens < 100 || a.OutputTokens > 200 {
			t.Errorf("output tokens %d, want 100..200", a.OutputTokens)
		}
		prompt += float64(a.PromptTokens)
		out += float64(a.OutputTokens)
	}
	if m := prompt / 50; m < 470 || m > 530 {
		t.Errorf("mean prompt tokens %.0f, want about 500", m)
	}
}

// TestValidProfiles loads the valid test profiles.
func TestValidProfiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			p, err := Load(file)
			if err != nil {
				t.Fatal(err)
			}
			s, err := p.Schedule()
			if err != nil {
				t.Fatal(err)
			}
			checkSchedule(t, s)
		})
	}
}

// checkSchedule checks the invariants every schedule keeps.
func checkSchedule(t *testing.T, s *Schedule) {
	t.Helper()
	for i, a := range s.Arrivals {
		if i > 0 && a.Offset < s.Arrivals[i-1].Offset {
			t.Fatalf("arrival %d at %s is before arrival %d at %s", i, a.Offset, i-1, s.Arrivals[i-1].Offset)
		}
		if i > 0 && a.Offset == s.Arrivals[i-1].Offset && a.Stage < s.Arrivals[i-1].Stage {
			t.Fatalf("arrival %d: tie not in stage order", i)
		}
		if a.Offset < 0 || a.Offset > s.Duration {
			t.Fatalf("arrival %d at %s outside [0, %s]", i, a.Offset, s.Duration)
		}
		if a.Steps < 1 || a.PromptTokens < 1 || a.OutputTokens < 1 || a.Priority < 0 {
			t.Fatalf("arrival %d has attributes out of range: %+v", i, a)
		}
	}
}

// encodeSchedule writes a schedule as CSV, byte for byte comparable.
func encodeSchedule(s *Schedule) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# profile=%s seed=%d tasks=%d duration=%s\n", s.Profile, s.Seed, s.Len(), s.Duration)
	b.WriteString("offset_ns,stage,steps,prompt_tokens,output_tokens,priority\n")
	for _, a := range s.Arrivals {
		fmt.Fprintf(&b, "%d,%d,%d,%d,%d,%d\n", int64(a.Offset), a.Stage, a.Steps, a.PromptTokens, a.OutputTokens, a.Priority)
	}
	return b.Bytes()
}

// TestDeterminism: the same input and seed give a byte-for-byte identical
// schedule; another seed changes the random parts.
func TestDeterminism(t *testing.T) {
	profiles := map[string]func() (*Profile, error){}
	for _, name := range BuiltinNames() {
		profiles[name] = func() (*Profile, error) { return Builtin(name) }
	}
	for _, file := range []string{"testdata/valid/mixed.yaml", "testdata/valid/replay.yaml"} {
		profiles[file] = func() (*Profile, error) { return Load(file) }
	}
	for name, load := range profiles {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p1, err := load()
			if err != nil {
				t.Fatal(err)
			}
			p2, err := load()
			if err != nil {
				t.Fatal(err)
			}
			s1, _ := p1.Schedule()
			s1again, _ := p1.Schedule()
			s2, _ := p2.Schedule()
			e1 := encodeSchedule(s1)
			if !bytes.Equal(e1, encodeSchedule(s1again)) || !bytes.Equal(e1, encodeSchedule(s2)) {
				t.Fatal("same profile and seed gave different schedules")
			}
			other := p1.WithSeed(p1.Seed + 1)
			if other.Seed != p1.Seed+1 || p1.Seed == other.Seed {
				t.Fatalf("WithSeed did not change the seed or changed the original")
			}
			s3, err := other.Schedule()
			if err != nil {
				t.Fatal(err)
			}
			if s3.Seed != p1.Seed+1 {
				t.Errorf("Schedule.Seed = %d, want %d", s3.Seed, p1.Seed+1)
			}
			if bytes.Equal(e1[strings.IndexByte(string(e1), '\n'):], encodeSchedule(s3)[strings.IndexByte(string(encodeSchedule(s3)), '\n'):]) {
				t.Error("a different seed gave the same schedule")
			}
		})
	}
}

// TestStreamsIndependent: editing one stage does not move the random draws
// of another, and editing one attribute does not move the others.
func TestStreamsIndependent(t *testing.T) {
	base := `
name: streams
seed: 5
task:
  steps: {dist: uniform, min: 1, max: 9}
  prompt_tokens: {dist: normal, mean: 500, stddev: 100}
stages:
  - shape: poisson
    rate: 20
    duration: 10s
  - shape: poisson
    rate: %s
    duration: 10s
    task:
      output_tokens: %s
`
	s1 := mustSchedule(t, fmt.Sprintf(base, "20", "100"))
	s2 := mustSchedule(t, fmt.Sprintf(base, "50", "{dist: uniform, min: 1, max: 500}"))
	stage0 := func(s *Schedule) (out []Arrival) {
		for _, a := range s.Arrivals {
			if a.Stage == 0 {
				out = append(out, a)
			}
		}
		return out
	}
	if !reflect.DeepEqual(stage0(s1), stage0(s2)) {
		t.Error("changing stage 1 changed stage 0")
	}
	// Only output tokens differ in stage 1 when the rate is the same.
	s3 := mustSchedule(t, fmt.Sprintf(base, "20", "{dist: uniform, min: 1, max: 500}"))
	for i := range s1.Arrivals {
		a, b := s1.Arrivals[i], s3.Arrivals[i]
		if a.Offset != b.Offset || a.Steps != b.Steps || a.PromptTokens != b.PromptTokens {
			t.Fatalf("arrival %d: changing output_tokens changed other draws: %+v vs %+v", i, a, b)
		}
	}
}

func mustParse(t testing.TB, yaml string) *Profile {
	t.Helper()
	p, err := Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func mustSchedule(t testing.TB, yaml string) *Schedule {
	t.Helper()
	s, err := mustParse(t, yaml).Schedule()
	if err != nil {
		t.Fatalf("Schedule: %v", err)
	}
	return s
}

// TestResolve covers paths, builtin names and unknown names.
func TestResolve(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(path, []byte("name: mine\nstages:\n  - shape: burst\n    count: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noExt := filepath.Join(dir, "noext")
	if err := os.WriteFile(noExt, []byte("stages:\n  - shape: burst\n    count: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg      string
		wantName string
		wantErr  string
		wantVE   bool
		notExist bool
	}{
		{arg: path, wantName: "mine"},
		{arg: noExt, wantName: "noext"},
		{arg: "spike-50", wantName: "spike-50"},
		{arg: "waves", wantName: "waves"},
		{arg: "nope", wantErr: "business-day, poisson-steady, ramp, spike-1000, spike-50, waves", wantVE: true},
		{arg: "spike-50.yaml", wantErr: `to use the shipped profile, write "spike-50"`, notExist: true},
		{arg: filepath.Join(dir, "missing.yaml"), wantErr: "no such file", notExist: true},
		{arg: "testdata/invalid/zero-tasks.yaml", wantErr: "produces no tasks", wantVE: true},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.arg), func(t *testing.T) {
			p, err := Resolve(tt.arg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if p.Name != tt.wantName {
					t.Errorf("Name = %q, want %q", p.Name, tt.wantName)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			var ve *ValidationError
			if errors.As(err, &ve) != tt.wantVE {
				t.Errorf("err is %T, want ValidationError: %v", err, tt.wantVE)
			}
			if errors.Is(err, fs.ErrNotExist) != tt.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", !tt.notExist, tt.notExist)
			}
		})
	}
}

// TestZeroProfile: a Profile not made by this package does not panic.
func TestZeroProfile(t *testing.T) {
	var nilProfile *Profile
	for _, p := range []*Profile{nilProfile, {}, {Name: "x"}} {
		if _, err := p.Schedule(); err == nil {
			t.Errorf("Schedule() of %+v: want an error", p)
		}
	}
	if nilProfile.WithSeed(1) != nil {
		t.Error("nil.WithSeed != nil")
	}
	var s *Schedule
	if s.Len() != 0 {
		t.Error("nil schedule Len != 0")
	}
}

// TestNameFromFile: a profile without name: takes its file's name.
func TestNameFromFile(t *testing.T) {
	p, err := Parse("dir/my-profile.yaml", []byte("stages:\n  - shape: burst\n    count: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "my-profile" {
		t.Errorf("Name = %q", p.Name)
	}
}

// TestLimits: a profile over MaxTasks names the stage; a profile right at
// the limit is valid.
func TestLimits(t *testing.T) {
	_, err := Parse("p.yaml", []byte("stages:\n  - shape: burst\n    count: 6000000\n  - shape: burst\n    count: 5000000\n"))
	if err == nil || !strings.Contains(err.Error(), "p.yaml:4: stages[1]: with this stage the profile would schedule 11000000 tasks") {
		t.Errorf("err = %v", err)
	}
	if _, err := Parse("p.yaml", []byte("stages:\n  - shape: constant\n    rate: 1000\n    duration: 10000s\n")); err != nil {
		t.Errorf("a profile at the limit: %v", err)
	}
	if _, err := Parse("p.yaml", bytes.Repeat([]byte("#"), maxProfileBytes+1)); err == nil {
		t.Error("an oversized file was accepted")
	}
}

// TestUnknownFieldsNeverIgnored: every place that takes fields rejects
// unknown ones.
func TestUnknownFieldsNeverIgnored(t *testing.T) {
	cases := map[string]string{
		"top":        "name: x\nbogus: 1\nstages: [{shape: burst, count: 1}]\n",
		"stage":      "stages: [{shape: burst, count: 1, bogus: 1}]\n",
		"task":       "task: {bogus: 1}\nstages: [{shape: burst, count: 1}]\n",
		"stage task": "stages: [{shape: burst, count: 1, task: {bogus: 1}}]\n",
		"dist":       "task: {steps: {dist: constant, value: 1, bogus: 1}}\nstages: [{shape: burst, count: 1}]\n",
	}
	for name, yaml := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(yaml))
			if err == nil || !strings.Contains(err.Error(), "bogus") {
				t.Errorf("err = %v, want a problem naming bogus", err)
			}
		})
	}
}

// TestRateUnits: rates may carry a unit.
func TestRateUnits(t *testing.T) {
	for _, rate := range []string{"10", "10/s", "600/m", "600/min", "36000/h", "10.0"} {
		s := mustSchedule(t, "stages: [{shape: constant, rate: "+rate+", duration: 2s}]\n")
		if s.Len() != 20 {
			t.Errorf("rate %s: %d tasks in 2s, want 20", rate, s.Len())
		}
	}
}

// TestShapeList: the documented shapes are the ones the decoder knows.
func TestShapeList(t *testing.T) {
	var names []string
	for n := range shapeNames {
		names = append(names, n)
	}
	slices.Sort(names)
	sorted := slices.Sorted(slices.Values(shapeList))
	if !reflect.DeepEqual(names, sorted) {
		t.Errorf("shapeNames %v != shapeList %v", names, sorted)
	}
	for _, n := range shapeList {
		if shapeNames[n].String() != n {
			t.Errorf("String() of %s = %s", n, shapeNames[n])
		}
	}
}
