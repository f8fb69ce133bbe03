package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/burstbench/burst/internal/progress"
	"github.com/burstbench/burst/internal/runner"
	"github.com/burstbench/burst/internal/sweep"
	"github.com/burstbench/burst/loadprofiles"
	"github.com/burstbench/burst/results"
	"github.com/burstbench/burst/scenario"
)

func init() { register(newSweepCmd) }

type sweepFlags struct {
	run       runFlags
	settings  []string
	repeat    int
	dir       string
	keepGoing bool
}

func newSweepCmd(s Streams) *cobra.Command {
	f := &sweepFlags{}
	cmd := &cobra.Command{
		Use:   "sweep (--scenario FILE | --profile NAME|FILE) --set KEY=V1,V2,... [--set ...] [--repeat N] [flags]",
		Short: "Run a scenario over the cartesian product of settings, with repeats, and compare the configurations",
		Long: `sweep runs the scenario once for every combination of the --set values
(KEY is any scenario field by its YAML path, e.g. scaler.lagCount=5,10,20,
scaler.pollingInterval=5s,15s,30s, scaler.trigger=lag,lag+pending), --repeat
times each, and prints the comparison table of 'burst compare'.

Runs go to the sweep directory (--out, default results/sweep-<scenario>-<hash
of the settings>), one per configuration and repeat:
  <out>/<k1=v1,k2=v2>/rep-<i>/   the run directory (summary.json, timeline.png, ...)
  <out>/sweep.json               the manifest: settings, repeats, each run's status
  <out>/comparison.{txt,md,csv}  the comparison as table, Markdown, CSV
  <out>/bench.txt                every run in Go benchmark format (for benchstat)
  <out>/pareto.{png,svg}         completion p95 against cost
Each run starts from a reset queue. The runs are interleaved (repeat 1 of
every configuration, then repeat 2, ...) so drift spreads over all of them.

A sweep is resumable: running the same command again keeps every complete
run and makes only the missing ones; raising --repeat adds repeats. A run
directory made with another effective scenario is a conflict (exit 2): use
another --out. Ctrl-C stops after setting the run in progress aside as
<run dir>.incomplete; the complete runs stay.

The run flags (--target, --redis, --preset, --workers, ..., and the cluster
flags --kubeconfig, --context, --namespace, --worker-image, ...) are those of
'burst run'; a flag and a --set of the same field are rejected. A comma inside
a value is written \,.

Exit codes: 1 when a run could not run (the sweep stops unless --keep-going)
or the sweep was interrupted; otherwise the worst verdict of the runs: 4 when
a run's ledger is invalid, 3 when a run breached an SLO, 0 when all passed;
2 for invalid input (checked for every configuration before the first run).`,
		Example: `  burst sweep --scenario scenarios/local-spike-50.yaml --preset instant \
      --set worker.concurrency=2,4 --set worker.replicas=1,2 --repeat 2
  burst sweep --scenario scenarios/spike-50-lag-pending.yaml \
      --set scaler.pollingInterval=5s,15s,30s --set scaler.lagCount=5,10 --repeat 3 --out results/polling`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSweep(cmd.Context(), s, f, commandLine(cmd))
		},
	}
	fl := cmd.Flags()
	r := &f.run
	r.register(fl, "each run waits")
	fl.StringArrayVar(&f.settings, "set", nil, "sweep a scenario field over values, e.g. --set scaler.lagCount=5,10,20 (repeatable; one value fixes the field)")
	fl.IntVar(&f.repeat, "repeat", 1, "runs per configuration")
	fl.StringVar(&f.dir, "out", "", "sweep directory (default results/sweep-<scenario>-<hash of the settings>)")
	fl.BoolVar(&f.keepGoing, "keep-going", false, "continue with the other runs when one cannot run")
	return cmd
}

// flagFields maps the run flags to the scenario field each one sets.
func (f *runFlags) flagFields() map[string]string {
	m := map[string]string{}
	set := func(on bool, flag string, fields ...string) {
		if on {
			for _, k := range fields {
				m[k] = flag
			}
		}
	}
	set(f.profile != "" && f.scenario != "", "--profile", "profile")
	set(f.target != "", "--target", "target")
	set(f.workers > 0, "--workers", "worker.replicas")
	set(f.concurrency > 0, "--concurrency", "worker.concurrency")
	set(f.endpoint != "", "--inference-endpoint", "inference.endpoint", "inference.preset")
	set(f.model != "", "--model", "inference.model")
	set(f.preset != "", "--preset", "inference.preset")
	set(f.seed != 0, "--seed", "seed")
	set(f.timeout > 0, "--timeout", "run.timeout")
	return m
}

// sweepConfig is one configuration, ready to run.
type sweepConfig struct {
	sc          *scenario.Scenario
	sched       *loadprofiles.Schedule
	fingerprint string
}

func runSweep(ctx context.Context, s Streams, f *sweepFlags, command []string) error {
	if f.repeat < 1 {
		return badInput("--repeat %d: want 1 or more", f.repeat)
	}
	var settings []sweep.Setting
	seen := map[string]bool{}
	fields := f.run.flagFields()
	for _, raw := range f.settings {
		st, err := sweep.ParseSetting(raw)
		if err != nil {
			return badInput("--set %v", err)
		}
		if seen[st.Key] {
			return badInput("--set %s given twice: list every value in one --set %s=V1,V2,…", st.Key, st.Key)
		}
		if flag, ok := fields[st.Key]; ok {
			return badInput("--set %s and %s both set %s: drop one", raw, flag, st.Key)
		}
		seen[st.Key] = true
		settings = append(settings, st)
	}

	// Every configuration is built and validated before the first run.
	configs := map[string]*sweepConfig{}
	var problems []string
	var first *scenario.Scenario
	for _, c := range sweep.Product(settings) {
		rf := f.run
		rf.sets = nil
		for _, p := range c {
			rf.sets = append(rf.sets, p.Key+"="+p.Value)
		}
		sc, err := rf.loadScenario()
		if err == nil {
			_, sched, serr := loadSchedule(sc)
			if serr == nil {
				b, _ := json.Marshal(sc)
				sum := sha256.Sum256(b)
				configs[c.String()] = &sweepConfig{sc: sc, sched: sched, fingerprint: hex.EncodeToString(sum[:])}
				if first == nil {
					first = sc
				}
				continue
			}
			err = serr
		}
		if exitCode(err) != ExitBadInput {
			return err
		}
		problems = append(problems, fmt.Sprintf("configuration %s: %v", configLabel(c), err))
	}
	if len(problems) > 0 {
		return badInput("%s", strings.Join(problems, "\n"))
	}
	for _, cfg := range configs {
		if _, err := runnerFor(cfg.sc.Target, &f.run.cluster, nil); err != nil {
			return err
		}
	}

	dir := f.dir
	if dir == "" {
		dir = filepath.Join("results", defaultSweepName(first.Name, settings))
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the burst executable to start workers: %w", err)
	}
	var prog *progress.Progress
	if !f.run.quiet {
		prog = progress.New(s.Err)
	}
	runFn := func(ctx context.Context, j sweep.Job) (*results.Run, error) {
		cfg := configs[j.Config.String()]
		run, err := runnerFor(cfg.sc.Target, &f.run.cluster, prog.Writer(s.Err))
		if err != nil {
			return nil, err
		}
		return run(ctx, runner.Options{Scenario: cfg.sc, Schedule: cfg.sched, RedisAddr: f.run.redis, RunDir: j.Dir,
			Config: j.Config.Map(), WorkerCommand: []string{exe, "worker"}, Version: Version, Progress: prog})
	}
	o := sweep.Options{Dir: dir, Settings: settings, Repeat: f.repeat, Scenario: f.run.scenario, Command: command,
		Run: runFn, KeepGoing: f.keepGoing, Progress: prog, Log: s.Err,
		Fingerprint: func(c sweep.Config) string { return configs[c.String()].fingerprint }}
	m, sweepErr := sweep.Run(ctx, o)
	prog.Wait()
	if errors.Is(sweepErr, sweep.ErrConflict) {
		return withCode(ExitBadInput, sweepErr)
	}
	if m == nil {
		return sweepErr
	}

	// The comparison of every complete run, also after a failure or Ctrl-C.
	done := m.Count(sweep.StatusComplete) + m.Count(sweep.StatusReused)
	if done > 0 {
		sets, err := loadRunSets([]string{dir})
		if err != nil {
			return errors.Join(sweepErr, err)
		}
		c, err := results.Compare(sets)
		if err != nil {
			return errors.Join(sweepErr, err)
		}
		if err := c.WriteTable(s.Out); err != nil {
			return errors.Join(sweepErr, err)
		}
		if err := writeComparison(dir, c); err != nil {
			return errors.Join(sweepErr, err)
		}
		if err := appendStepSummary(c); err != nil {
			return errors.Join(sweepErr, err)
		}
	}
	fmt.Fprintf(s.Out, "sweep: %s (%d of %d runs complete, %d reused from an earlier invocation)\n", dir, done, len(m.Runs), m.Count(sweep.StatusReused))
	if sweepErr != nil {
		if errors.Is(sweepErr, context.Canceled) {
			return withCode(ExitRunFailed, fmt.Errorf("sweep interrupted after %d of %d runs; run the same command again to resume", done, len(m.Runs)))
		}
		return withCode(ExitRunFailed, fmt.Errorf("sweep: %w", sweepErr))
	}
	return sweepVerdict(dir, m)
}

// sweepVerdict is the worst verdict of the runs: an invalid ledger (4), then
// a breached SLO (3).
func sweepVerdict(dir string, m *sweep.Manifest) error {
	var ledger, slo []string
	breached := map[string]bool{}
	for _, e := range m.Runs {
		name := fmt.Sprintf("%s rep %d", e.Dir, e.Repeat)
		if e.LedgerValid != nil && !*e.LedgerValid {
			ledger = append(ledger, name)
		}
		if e.SLOPassed != nil && !*e.SLOPassed {
			slo = append(slo, name)
			if r, err := results.Load(filepath.Join(dir, filepath.FromSlash(e.Dir))); err == nil {
				for _, b := range r.Summary.SLO.Breaches {
					breached[b.Figure] = true
				}
			}
		}
	}
	if len(ledger) > 0 {
		return withCode(ExitLedgerFail, fmt.Errorf("ledger invalid (a task lost or unexpected) in %d of %d runs: %s", len(ledger), len(m.Runs), strings.Join(ledger, ", ")))
	}
	if len(slo) > 0 {
		var figs []string
		for k := range breached {
			figs = append(figs, k)
		}
		sort.Strings(figs)
		return withCode(ExitSLOBreach, fmt.Errorf("SLO breached: %s in %d of %d runs (%s)", strings.Join(figs, ", "), len(slo), len(m.Runs), strings.Join(slo, ", ")))
	}
	return nil
}

// runnerFor returns the function that makes one run on target: the local
// runner, or the cluster runner with the cluster flags (its status lines go
// to log, which may be nil). It is the one place a sweep learns which targets
// can run.
func runnerFor(target string, cf *clusterFlags, log io.Writer) (func(context.Context, runner.Options) (*results.Run, error), error) {
	wrap := func(r *results.Run, err error) (*results.Run, error) {
		if errors.Is(err, runner.ErrBadInput) {
			return r, withCode(ExitBadInput, err)
		}
		return r, err
	}
	switch target {
	case "local":
		return func(ctx context.Context, o runner.Options) (*results.Run, error) { return wrap(runner.Local(ctx, o)) }, nil
	case "kind", "cluster":
		if target == "cluster" && !cf.existing() {
			return nil, badInput("target cluster needs --kubeconfig and/or --context (or use target kind with burst up)")
		}
		return func(ctx context.Context, o runner.Options) (*results.Run, error) {
			o.Log = log
			return wrap(runner.Cluster(ctx, o, cf.runnerOptions(o.Scenario)))
		}, nil
	default:
		return nil, badInput("target %q: use local, kind or cluster", target)
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// defaultSweepName names a sweep's directory by the scenario and a hash of
// the settings, so that the same command finds the same directory again
// (and a different --repeat extends it).
func defaultSweepName(scenarioName string, settings []sweep.Setting) string {
	h := sha256.New()
	for _, st := range settings {
		fmt.Fprintf(h, "%s=%q\n", st.Key, st.Values)
	}
	return "sweep-" + unsafeName.ReplaceAllString(scenarioName, "_") + "-" + hex.EncodeToString(h.Sum(nil))[:8]
}

func configLabel(c sweep.Config) string {
	if len(c) == 0 {
		return "(no settings)"
	}
	return c.String()
}

// commandLine rebuilds the command line from the flags that were set, for
// the manifest.
func commandLine(cmd *cobra.Command) []string {
	out := []string{"burst", cmd.Name()}
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				out = append(out, "--"+fl.Name, v)
			}
			return
		}
		out = append(out, "--"+fl.Name+"="+fl.Value.String())
	})
	return out
}
