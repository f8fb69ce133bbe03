package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/burstbench/burst/internal/progress"
	"github.com/burstbench/burst/results"
)

// File names in a sweep directory.
const (
	// ManifestFile is the sweep's manifest.
	ManifestFile = "sweep.json"
	// MarkerFile is written into a run directory once the run is complete;
	// it says which configuration, repeat and fingerprint the run belongs to.
	MarkerFile = "sweep-run.json"
	// Schema is the manifest's schema.
	Schema = "burst-sweep/v1"
)

// ErrConflict marks a sweep directory that holds runs made with another
// fingerprint or configuration: reusing them would mix two experiments.
var ErrConflict = errors.New("sweep directory holds other runs")

// Setting is one swept scenario field: its YAML path and the values to try.
type Setting struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

// ParseSetting parses KEY=V1,V2,… . A comma inside a value is written \, .
func ParseSetting(s string) (Setting, error) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return Setting{}, fmt.Errorf("setting %q: write KEY=V1,V2,…, e.g. scaler.lagCount=5,10,20", s)
	}
	var vals []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && v[i+1] == ',':
			cur.WriteByte(',')
			i++
		case v[i] == ',':
			vals = append(vals, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(v[i])
		}
	}
	vals = append(vals, cur.String())
	seen := map[string]bool{}
	for _, x := range vals {
		if seen[x] {
			return Setting{}, fmt.Errorf("setting %s: value %q given twice", k, x)
		}
		seen[x] = true
	}
	return Setting{Key: k, Values: vals}, nil
}

// Pair is one setting's value in a configuration.
type Pair struct {
	Key   string
	Value string
}

// Config is one point of the product: a value for every setting, in the
// order the settings were given.
type Config []Pair

// Map returns the configuration as YAML path → value (results.Summary.Config).
func (c Config) Map() map[string]string {
	m := make(map[string]string, len(c))
	for _, p := range c {
		m[p.Key] = p.Value
	}
	return m
}

// String writes the configuration as "k1=v1 k2=v2".
func (c Config) String() string {
	parts := make([]string, len(c))
	for i, p := range c {
		parts[i] = p.Key + "=" + p.Value
	}
	return strings.Join(parts, " ")
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9._=+,-]+`)

// dirName names the configuration's directory from the settings that vary
// (those with more than one value): "k1=v1,k2=v2", or "default".
func dirName(c Config, varying map[string]bool) string {
	var parts []string
	for _, p := range c {
		if varying[p.Key] {
			parts = append(parts, unsafe.ReplaceAllString(p.Key+"="+p.Value, "_"))
		}
	}
	if len(parts) == 0 {
		return "default"
	}
	return strings.Join(parts, ",")
}

// Product returns every combination of the settings' values; the first
// setting varies slowest. No settings give one empty configuration.
func Product(settings []Setting) []Config {
	out := []Config{{}}
	for _, s := range settings {
		var next []Config
		for _, c := range out {
			for _, v := range s.Values {
				next = append(next, append(append(Config{}, c...), Pair{s.Key, v}))
			}
		}
		out = next
	}
	return out
}

// Job is one run of a sweep.
type Job struct {
	Config Config
	// Repeat counts from 1.
	Repeat int
	// Dir is the run directory the RunFunc must write.
	Dir string
	// Name is the configuration's directory name.
	Name string
	// Fingerprint is Options.Fingerprint of the configuration.
	Fingerprint string
}

// RunFunc makes one run and writes its run directory j.Dir. It must record
// j.Config.Map() as the summary's Config. A run cut short because ctx was
// cancelled is set aside by the sweep whatever RunFunc returns.
type RunFunc func(ctx context.Context, j Job) (*results.Run, error)

// Options configure a sweep.
type Options struct {
	// Dir is the sweep directory.
	Dir string
	// Settings are swept in a cartesian product.
	Settings []Setting
	// Repeat is how often each configuration runs (default 1).
	Repeat int
	// Fingerprint identifies everything that shapes a configuration's runs,
	// e.g. a hash of its effective scenario. A run directory recorded with
	// another fingerprint is a conflict, never reused. Nil: "".
	Fingerprint func(Config) string
	// Scenario and Command are recorded in the manifest.
	Scenario string
	Command  []string
	// Run makes one run.
	Run RunFunc
	// KeepGoing continues after a run fails; by default the sweep stops.
	KeepGoing bool
	// Progress shows the sweep's bars; nil shows none.
	Progress *progress.Progress
	// Log receives status lines.
	Log io.Writer
}

// Status of a run in the manifest.
type Status string

// Run statuses.
const (
	StatusComplete    Status = "complete"    // ran in this invocation
	StatusReused      Status = "reused"      // complete from an earlier invocation
	StatusFailed      Status = "failed"      // could not run; set aside as .incomplete
	StatusInterrupted Status = "interrupted" // cut short by a signal; set aside as .incomplete
	StatusPending     Status = "pending"     // not run (the sweep stopped first)
)

// Entry is one run in the manifest.
type Entry struct {
	Config map[string]string `json:"config"`
	Repeat int               `json:"repeat"`
	// Dir is the run directory relative to the sweep directory.
	Dir         string    `json:"dir"`
	Status      Status    `json:"status"`
	RunID       string    `json:"run_id,omitempty"`
	SLOPassed   *bool     `json:"slo_passed,omitempty"`
	LedgerValid *bool     `json:"ledger_valid,omitempty"`
	Error       string    `json:"error,omitempty"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	Seconds     float64   `json:"seconds,omitempty"`
}

// Manifest is sweep.json.
type Manifest struct {
	Schema    string    `json:"schema"`
	Scenario  string    `json:"scenario,omitempty"`
	Command   []string  `json:"command,omitempty"`
	Settings  []Setting `json:"settings"`
	Repeat    int       `json:"repeat"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Runs      []Entry   `json:"runs"`
}

// Count returns how many runs have status s.
func (m *Manifest) Count(s Status) int {
	n := 0
	for _, e := range m.Runs {
		if e.Status == s {
			n++
		}
	}
	return n
}

// marker is MarkerFile.
type marker struct {
	Config      map[string]string `json:"config"`
	Repeat      int               `json:"repeat"`
	Fingerprint string            `json:"fingerprint"`
	RunID       string            `json:"run_id"`
}

// Jobs lists the sweep's runs in the order they run: repeat 1 of every
// configuration, then repeat 2, …, so that drift over time spreads over
// all configurations instead of biasing one.
func Jobs(o Options) []Job {
	varying := map[string]bool{}
	for _, s := range o.Settings {
		if len(s.Values) > 1 {
			varying[s.Key] = true
		}
	}
	var jobs []Job
	configs := Product(o.Settings)
	for rep := 1; rep <= max(1, o.Repeat); rep++ {
		for _, c := range configs {
			name := dirName(c, varying)
			fp := ""
			if o.Fingerprint != nil {
				fp = o.Fingerprint(c)
			}
			jobs = append(jobs, Job{Config: c, Repeat: rep, Name: name, Fingerprint: fp,
				Dir: filepath.Join(o.Dir, name, fmt.Sprintf("rep-%d", rep))})
		}
	}
	return jobs
}

// state of a job's directory before the sweep runs.
type state int

const (
	stateNew      state = iota // nothing there
	stateComplete              // a complete run of this job: reuse it
	stateStale                 // an incomplete leftover: set it aside and run
)

// inspect classifies a job's directory.
func inspect(j Job) (state, *results.Run, error) {
	if _, err := os.Stat(j.Dir); errors.Is(err, os.ErrNotExist) {
		return stateNew, nil, nil
	}
	b, err := os.ReadFile(filepath.Join(j.Dir, MarkerFile))
	if err != nil {
		return stateStale, nil, nil
	}
	var m marker
	if err := json.Unmarshal(b, &m); err != nil {
		return stateStale, nil, nil
	}
	if m.Fingerprint != j.Fingerprint || !maps.Equal(m.Config, j.Config.Map()) || m.Repeat != j.Repeat {
		return 0, nil, fmt.Errorf("%w: %s was made with another scenario, flags or settings (fingerprint %.12s, config %v); "+
			"use another --out, or delete the directory to redo it", ErrConflict, j.Dir, m.Fingerprint, m.Config)
	}
	r, err := results.Load(j.Dir)
	if err != nil || !maps.Equal(r.Summary.Config, j.Config.Map()) {
		return stateStale, nil, nil
	}
	return stateComplete, r, nil
}

// setAside renames an incomplete run directory to dir.incomplete, replacing
// an older one.
func setAside(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	dst := dir + results.IncompleteSuffix
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("set aside incomplete run %s: %w", dir, err)
	}
	if err := os.Rename(dir, dst); err != nil {
		return fmt.Errorf("set aside incomplete run %s: %w", dir, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Run runs the sweep: every job whose directory does not already hold its
// complete run, in the order of Jobs. It writes the manifest after every run,
// so an interrupted sweep leaves an up-to-date manifest, and returns it. The
// error is ctx's when interrupted, ErrConflict (wrapped) when the directory
// holds other runs, or the first run's error (with KeepGoing, an error that
// counts the failed runs).
func Run(ctx context.Context, o Options) (*Manifest, error) {
	if o.Run == nil {
		return nil, errors.New("sweep: no RunFunc")
	}
	if o.Dir == "" {
		return nil, errors.New("sweep: no directory")
	}
	jobs := Jobs(o)
	states := make([]state, len(jobs))
	prior := make([]*results.Run, len(jobs))
	reuse := 0
	for i, j := range jobs {
		st, r, err := inspect(j)
		if err != nil {
			return nil, err
		}
		states[i], prior[i] = st, r
		if st == stateComplete {
			reuse++
		}
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create sweep directory: %w", err)
	}
	m := &Manifest{Schema: Schema, Scenario: o.Scenario, Command: o.Command, Settings: o.Settings, Repeat: max(1, o.Repeat), StartedAt: time.Now().UTC()}
	for i, j := range jobs {
		rel, _ := filepath.Rel(o.Dir, j.Dir)
		e := Entry{Config: j.Config.Map(), Repeat: j.Repeat, Dir: filepath.ToSlash(rel), Status: StatusPending}
		if states[i] == stateComplete {
			e.Status = StatusReused
			fill(&e, prior[i])
		}
		m.Runs = append(m.Runs, e)
	}
	save := func() error {
		m.UpdatedAt = time.Now().UTC()
		return writeJSON(filepath.Join(o.Dir, ManifestFile), m)
	}
	if err := save(); err != nil {
		return m, err
	}
	logf(o.Log, "sweep %s: %d runs (%d configurations × %d repeats), %d already complete", o.Dir, len(jobs),
		len(jobs)/m.Repeat, m.Repeat, reuse)

	bar := o.Progress.Counter("sweep", int64(len(jobs)))
	bar.Add(reuse)
	if reuse > 0 {
		bar.Status("%d reused", reuse)
	}
	var failed []error
	for i, j := range jobs {
		if states[i] == stateComplete {
			continue
		}
		if err := ctx.Err(); err != nil {
			bar.Done(err)
			return m, errors.Join(err, save())
		}
		if states[i] == stateStale {
			if err := setAside(j.Dir); err != nil {
				bar.Done(err)
				return m, errors.Join(err, save())
			}
		}
		e := &m.Runs[i]
		e.StartedAt = time.Now().UTC()
		step := o.Progress.Step(fmt.Sprintf("run %d/%d: %s rep %d", i+1, len(jobs), label(j), j.Repeat))
		r, err := o.Run(ctx, j)
		e.Seconds = time.Since(e.StartedAt).Round(time.Millisecond).Seconds()
		switch {
		case ctx.Err() != nil:
			e.Status, e.Error = StatusInterrupted, "interrupted"
			step.Done(ctx.Err())
			bar.Done(ctx.Err())
			return m, errors.Join(ctx.Err(), setAside(j.Dir), save())
		case err != nil:
			e.Status, e.Error = StatusFailed, err.Error()
			step.Done(err)
			failed = append(failed, fmt.Errorf("%s rep %d: %w", label(j), j.Repeat, err))
			if aerr := setAside(j.Dir); aerr != nil {
				failed = append(failed, aerr)
			}
			if !o.KeepGoing {
				bar.Done(err)
				return m, errors.Join(append(failed, save())...)
			}
		case r == nil:
			e.Status, e.Error = StatusFailed, "the run returned no result"
			step.Done(errors.New(e.Error))
			failed = append(failed, fmt.Errorf("%s rep %d: %s", label(j), j.Repeat, e.Error))
			if !o.KeepGoing {
				bar.Done(errors.New(e.Error))
				return m, errors.Join(append(failed, setAside(j.Dir), save())...)
			}
		default:
			mk := marker{Config: j.Config.Map(), Repeat: j.Repeat, Fingerprint: j.Fingerprint, RunID: r.Summary.RunID}
			if err := writeJSON(filepath.Join(j.Dir, MarkerFile), mk); err != nil {
				step.Done(err)
				bar.Done(err)
				return m, errors.Join(err, save())
			}
			e.Status = StatusComplete
			fill(e, r)
			step.Done(nil)
		}
		bar.Add(1)
		if err := save(); err != nil {
			bar.Done(err)
			return m, err
		}
	}
	if len(failed) > 0 {
		err := fmt.Errorf("%d of %d runs failed: %w", len(failed), len(jobs), errors.Join(failed...))
		bar.Done(err)
		return m, err
	}
	bar.Done(nil)
	return m, nil
}

// fill records a run's identity and gates in its manifest entry.
func fill(e *Entry, r *results.Run) {
	s := r.Summary
	e.RunID = s.RunID
	passed, valid := s.SLO.Passed, s.Ledger.Valid
	e.SLOPassed, e.LedgerValid = &passed, &valid
	if e.StartedAt.IsZero() {
		e.StartedAt = s.StartedAt
	}
}

func label(j Job) string {
	if len(j.Config) == 0 {
		return "default"
	}
	return j.Config.String()
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "burst: "+format+"\n", args...)
	}
}

// ReadManifest reads a sweep directory's manifest.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("read sweep manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read sweep manifest %s: %w", dir, err)
	}
	if m.Schema != Schema {
		return nil, fmt.Errorf("read sweep manifest %s: schema %q, want %q", dir, m.Schema, Schema)
	}
	return &m, nil
}
