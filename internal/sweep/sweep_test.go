package sweep

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burstbench/burst/results"
)

func TestParseSetting(t *testing.T) {
	tests := []struct {
		in      string
		want    Setting
		wantErr string
	}{
		{"scaler.lagCount=5,10,20", Setting{"scaler.lagCount", []string{"5", "10", "20"}}, ""},
		{"scaler.trigger=lag", Setting{"scaler.trigger", []string{"lag"}}, ""},
		{`worker.env.X=a\,b,c`, Setting{"worker.env.X", []string{"a,b", "c"}}, ""},
		{"inference.preset=", Setting{"inference.preset", []string{""}}, ""},
		{"scaler.lagCount", Setting{}, "write KEY=V1,V2"},
		{"=5", Setting{}, "write KEY=V1,V2"},
		{"a=1,1", Setting{}, `value "1" given twice`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSetting(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseSetting(%q) error = %v, want %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseSetting(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestProductAndJobs(t *testing.T) {
	settings := []Setting{{"a", []string{"1", "2"}}, {"b", []string{"x", "y", "z"}}, {"c", []string{"fixed"}}}
	cs := Product(settings)
	if len(cs) != 6 {
		t.Fatalf("%d configurations, want 2×3×1 = 6", len(cs))
	}
	if got := cs[0].String(); got != "a=1 b=x c=fixed" {
		t.Errorf("first = %q", got)
	}
	if got := cs[1].String(); got != "a=1 b=y c=fixed" {
		t.Errorf("second = %q: the first setting must vary slowest", got)
	}
	jobs := Jobs(Options{Dir: "sw", Settings: settings, Repeat: 2})
	if len(jobs) != 12 {
		t.Fatalf("%d jobs, want 12", len(jobs))
	}
	// Repeats are interleaved: every configuration's rep 1 first.
	if jobs[0].Repeat != 1 || jobs[5].Repeat != 1 || jobs[6].Repeat != 2 {
		t.Errorf("repeats of jobs 0, 5, 6 = %d %d %d, want 1 1 2", jobs[0].Repeat, jobs[5].Repeat, jobs[6].Repeat)
	}
	// Only varying settings name the directory.
	if want := filepath.Join("sw", "a=1,b=x", "rep-1"); jobs[0].Dir != want {
		t.Errorf("dir = %q, want %q", jobs[0].Dir, want)
	}
	if got := Jobs(Options{Dir: "sw", Repeat: 1}); len(got) != 1 || got[0].Name != "default" {
		t.Errorf("no settings: %+v, want one job named default", got)
	}
	if got := Jobs(Options{Dir: "sw", Settings: []Setting{{"p", []string{"a/b c"}}, {"q", []string{"1", "2"}}}}); got[0].Name != "q=1" {
		t.Errorf("name = %q, want q=1", got[0].Name)
	}
	if got := dirName(Config{{"p", "a/b c"}}, map[string]bool{"p": true}); got != "p=a_b_c" {
		t.Errorf("unsafe characters: %q, want p=a_b_c", got)
	}
}

// fakeRunner writes a small run directory for each job and counts calls.
type fakeRunner struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]error // by job label + rep
	hook  func(j Job)      // called before returning
}

func (f *fakeRunner) run(ctx context.Context, j Job) (*results.Run, error) {
	f.mu.Lock()
	key := label(j) + " rep " + string(rune('0'+j.Repeat))
	f.calls = append(f.calls, key)
	err := f.fail[key]
	f.mu.Unlock()
	r := &results.Run{Summary: results.Summary{RunID: key, Config: j.Config.Map(), StartedAt: time.Now(),
		Ledger: results.Ledger{Valid: true}, SLO: results.SLOResult{Passed: true}}}
	if werr := results.Write(j.Dir, r); werr != nil {
		return nil, werr
	}
	if f.hook != nil {
		f.hook(j)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func options(dir string, f *fakeRunner) Options {
	return Options{Dir: dir, Settings: []Setting{{"a", []string{"1", "2"}}, {"b", []string{"x", "y"}}}, Repeat: 2, Run: f.run,
		Fingerprint: func(c Config) string { return "fp-" + c.String() }}
}

func TestRunAndResume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sweep")
	f := &fakeRunner{}
	m, err := Run(context.Background(), options(dir, f))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 8 || m.Count(StatusComplete) != 8 {
		t.Fatalf("%d calls, %d complete, want 8 and 8", len(f.calls), m.Count(StatusComplete))
	}
	for _, e := range m.Runs {
		if _, err := os.Stat(filepath.Join(dir, e.Dir, MarkerFile)); err != nil {
			t.Errorf("run %s has no marker: %v", e.Dir, err)
		}
		if e.SLOPassed == nil || !*e.SLOPassed || e.RunID == "" {
			t.Errorf("entry %+v lacks the run's id and gates", e)
		}
	}
	read, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(read.Runs) != 8 || read.Repeat != 2 || len(read.Settings) != 2 {
		t.Errorf("manifest on disk = %d runs, repeat %d, %d settings", len(read.Runs), read.Repeat, len(read.Settings))
	}

	// The same sweep again reuses every run; a third repeat adds 4 runs.
	f2 := &fakeRunner{}
	m, err = Run(context.Background(), options(dir, f2))
	if err != nil {
		t.Fatal(err)
	}
	if len(f2.calls) != 0 || m.Count(StatusReused) != 8 {
		t.Errorf("second invocation: %d calls (%v), %d reused; want 0 and 8", len(f2.calls), f2.calls, m.Count(StatusReused))
	}
	o := options(dir, f2)
	o.Repeat = 3
	if m, err = Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if len(f2.calls) != 4 || m.Count(StatusReused) != 8 || m.Count(StatusComplete) != 4 {
		t.Errorf("--repeat 3: %d calls, %d reused, %d complete; want 4, 8, 4", len(f2.calls), m.Count(StatusReused), m.Count(StatusComplete))
	}
}

func TestRunConflict(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sweep")
	if _, err := Run(context.Background(), options(dir, &fakeRunner{})); err != nil {
		t.Fatal(err)
	}
	f := &fakeRunner{}
	o := options(dir, f)
	o.Fingerprint = func(Config) string { return "edited scenario" }
	_, err := Run(context.Background(), o)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "another --out") {
		t.Fatalf("error = %v, want ErrConflict naming the fix", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("%d runs made despite the conflict", len(f.calls))
	}
}

func TestRunSetsAsideIncompleteLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sweep")
	o := options(dir, &fakeRunner{})
	o.Settings, o.Repeat = []Setting{{"a", []string{"1"}}}, 1
	// A crash left a run directory without the marker.
	stale := filepath.Join(dir, "default", "rep-1")
	if err := results.Write(stale, &results.Run{Summary: results.Summary{RunID: "crashed"}}); err != nil {
		t.Fatal(err)
	}
	f := &fakeRunner{}
	o.Run = f.run
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 {
		t.Fatalf("%d calls, want the leftover redone", len(f.calls))
	}
	if _, err := os.Stat(stale + results.IncompleteSuffix); err != nil {
		t.Errorf("leftover not set aside: %v", err)
	}
}

func TestRunInterrupted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sweep")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakeRunner{}
	n := 0
	f.hook = func(Job) {
		if n++; n == 3 {
			cancel() // Ctrl-C during the third run
		}
	}
	m, err := Run(ctx, options(dir, f))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if m.Count(StatusComplete) != 2 || m.Count(StatusInterrupted) != 1 || m.Count(StatusPending) != 5 {
		t.Errorf("complete %d interrupted %d pending %d, want 2 1 5", m.Count(StatusComplete), m.Count(StatusInterrupted), m.Count(StatusPending))
	}
	third := filepath.Join(dir, m.Runs[2].Dir)
	if _, err := os.Stat(third); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("interrupted run still at %s", third)
	}
	if _, err := os.Stat(third + results.IncompleteSuffix); err != nil {
		t.Errorf("interrupted run not set aside: %v", err)
	}
	sets, err := results.LoadSets([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(sets[0].Runs) != 2 {
		t.Errorf("compare would see %d runs, want the 2 complete ones", len(sets[0].Runs))
	}
	// Resuming runs the interrupted run and the rest.
	f2 := &fakeRunner{}
	if m, err = Run(context.Background(), options(dir, f2)); err != nil {
		t.Fatal(err)
	}
	if len(f2.calls) != 6 || m.Count(StatusReused) != 2 {
		t.Errorf("resume: %d calls, %d reused, want 6 and 2", len(f2.calls), m.Count(StatusReused))
	}
}

func TestRunFailure(t *testing.T) {
	boom := errors.New("redis unreachable")
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "stops", true: "keep going"}[keep], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sweep")
			f := &fakeRunner{fail: map[string]error{"a=1 b=y rep 1": boom}}
			o := options(dir, f)
			o.KeepGoing = keep
			m, err := Run(context.Background(), o)
			if !errors.Is(err, boom) {
				t.Fatalf("error = %v, want the run's error", err)
			}
			wantCalls := 2
			if keep {
				wantCalls = 8
			}
			if len(f.calls) != wantCalls || m.Count(StatusFailed) != 1 {
				t.Errorf("%d calls, %d failed; want %d and 1", len(f.calls), m.Count(StatusFailed), wantCalls)
			}
			if e := m.Runs[1]; e.Status != StatusFailed || !strings.Contains(e.Error, "redis unreachable") {
				t.Errorf("failed entry = %+v", e)
			}
			if _, err := os.Stat(filepath.Join(dir, m.Runs[1].Dir) + results.IncompleteSuffix); err != nil {
				t.Errorf("failed run not set aside: %v", err)
			}
		})
	}
}
