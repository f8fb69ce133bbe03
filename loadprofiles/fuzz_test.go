package loadprofiles

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary bytes to the parser. It must never panic; an
// error must be a *ValidationError with at least one problem; a profile it
// accepts must schedule without panicking and keep the schedule invariants.
// Seeds: every shipped profile and every test profile; crashers found by
// `go test -fuzz FuzzParse` are kept in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	entries, _ := fs.ReadDir(builtinFS, builtinDir)
	for _, e := range entries {
		data, _ := fs.ReadFile(builtinFS, builtinDir+"/"+e.Name())
		f.Add(data)
	}
	for _, pattern := range []string{"testdata/invalid/*.yaml", "testdata/valid/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, _ := os.ReadFile(file)
			f.Add(data)
		}
	}
	f.Add([]byte("stages: [{shape: replay, file: t.csv}]"))
	f.Add([]byte("a: &a [*a, *a]\nstages: *a"))
	f.Add([]byte("x: &x {<<: *x}\nstages: [{<<: *x}]"))
	for _, src := range hostileInputs() {
		if len(src) < 4096 {
			f.Add([]byte(src))
		}
	}

	// Replay files in the fuzz directory; the parser reads them for real.
	dir := f.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "t.csv"), []byte("offset,steps\n0,1\n1s,\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "trace.csv"), []byte("offset\n0\n"), 0o644)
	name := filepath.Join(dir, "fuzz.yaml")

	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(name, data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error is %T, want *ValidationError: %v", err, err)
			}
			if len(ve.Problems) == 0 {
				t.Fatal("ValidationError without problems")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, name) {
				t.Fatalf("message does not start with the file name: %q", msg)
			}
			for _, pr := range ve.Problems {
				if strings.Contains(pr.Message, "internal error") {
					t.Fatalf("parser recovered from a panic: %s", pr.Message)
				}
			}
			return
		}
		var total int64
		for _, st := range p.stages {
			total += st.expected()
		}
		if total > MaxTasks {
			t.Fatalf("accepted a profile of %d tasks", total)
		}
		if total > 200_000 {
			return // valid but too big to schedule on every fuzz iteration
		}
		s, err := p.Schedule()
		if err != nil {
			t.Fatalf("Schedule of a valid profile: %v", err)
		}
		checkSchedule(t, s)
	})
}

// hostileInputs are small files that expand to huge trees through aliases
// and merge keys, or carry thousands of problems.
func hostileInputs() map[string]string {
	var wide strings.Builder
	wide.WriteString("x-a: &a {")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&wide, "k%d: %d, ", i, i)
	}
	wide.WriteString("}\nstages: [")
	for i := 0; i < 999; i++ {
		wide.WriteString("{<<: *a, shape: burst, count: 1}, ")
	}
	wide.WriteString("]\n")

	var deep strings.Builder
	deep.WriteString("x-0: &x0 {shape: burst, count: 1}\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&deep, "x-%d: &x%d {<<: [", i, i)
		for j := 0; j < 10; j++ {
			fmt.Fprintf(&deep, "*x%d, ", i-1)
		}
		deep.WriteString("]}\n")
	}
	deep.WriteString("stages: [")
	for i := 0; i < 1000; i++ {
		deep.WriteString("*x9, ")
	}
	deep.WriteString("]\n")

	var laughs strings.Builder
	laughs.WriteString("x-0: &l0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&laughs, "x-%d: &l%d [", i, i)
		for j := 0; j < 10; j++ {
			fmt.Fprintf(&laughs, "*l%d, ", i-1)
		}
		laughs.WriteString("]\n")
	}
	laughs.WriteString("stages: *l9\n")

	var errs strings.Builder
	errs.WriteString("stages:\n")
	for i := 0; i < 1000; i++ {
		errs.WriteString("  - {shape: burst, count: 0, spread: 1, colour: red}\n")
	}
	return map[string]string{"wide merges": wide.String(), "deep merges": deep.String(), "billion laughs": laughs.String(), "many errors": errs.String()}
}

// TestHostileInputs: inputs built to be slow or noisy are rejected quickly,
// with a bounded list of problems.
func TestHostileInputs(t *testing.T) {
	for name, src := range hostileInputs() {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse("hostile.yaml", []byte(src))
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			if len(ve.Problems) > maxProblems+1 {
				t.Errorf("%d problems, want at most %d", len(ve.Problems), maxProblems+1)
			}
		})
	}
}
