package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/burstbench/burst/internal/progress"
	"github.com/burstbench/burst/internal/runner"
	"github.com/burstbench/burst/loadprofiles"
	"github.com/burstbench/burst/results"
	"github.com/burstbench/burst/scenario"
)

func init() { register(newRunCmd) }

type runFlags struct {
	scenario    string
	profile     string
	target      string
	workers     int
	concurrency int
	redis       string
	endpoint    string
	model       string
	preset      string
	out         string
	runDir      string
	seed        int64
	timeout     time.Duration
	quiet       bool
	sets        []string
	cluster     clusterFlags
}

func newRunCmd(s Streams) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run (--scenario FILE | --profile NAME|FILE) [flags]",
		Short: "Fire a load profile at the workers and measure scale-up, drain, latency, leftovers and cost",
		Long: `run fires a load profile into the task stream and measures what happens.

With --scenario, everything comes from the scenario file (profile, scaler,
workers, inference, SLOs, prices); flags override it. With --profile alone, a
local scenario is built from the flags.

Targets:
  local    N worker processes on this machine, a Redis server at --redis, the
           fake inference server in-process (or --inference-endpoint)
  kind     the kind cluster from 'burst up' (KEDA-scaled workers)
  cluster  an existing cluster from --kubeconfig/--context

The run directory (summary.json, tasks.csv, timeline.csv, report.md,
bench.txt) is written under --out; the main figures are printed as a table.
Exit codes: 0 ok, 1 could not run, 2 invalid input, 3 SLO breached,
4 ledger invalid (a task lost or unexpected).`,
		Example: `  burst run --target local --profile spike-50 --workers 2
  burst run --scenario scenarios/local-spike-50.yaml --out results
  burst run --scenario scenarios/spike-50-lag-pending.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRun(cmd.Context(), s, f, cmd)
		},
	}
	fl := cmd.Flags()
	f.register(fl, "the run waits")
	fl.StringVar(&f.out, "out", "results", "directory that receives the run directory")
	fl.StringVar(&f.runDir, "run-dir", "", "exact run directory (default: OUT/<UTC time>-<scenario>)")
	fl.StringArrayVar(&f.sets, "set", nil, "set a scenario field by YAML path, e.g. --set scaler.lagCount=10 (repeatable)")
	return cmd
}

// register adds the flags run and sweep share; waits completes the help of
// --timeout ("the run waits", "each run waits").
func (f *runFlags) register(fl *pflag.FlagSet, waits string) {
	fl.StringVar(&f.scenario, "scenario", "", "scenario file")
	fl.StringVar(&f.profile, "profile", "", "load profile: a shipped name ("+strings.Join(loadprofiles.BuiltinNames(), ", ")+") or a file (overrides the scenario's)")
	fl.StringVar(&f.target, "target", "", "local, kind or cluster (default: the scenario's, else local)")
	fl.IntVar(&f.workers, "workers", 0, "local target: number of worker processes (default 2)")
	fl.IntVar(&f.concurrency, "concurrency", 0, "tasks one worker runs at once (default 4)")
	fl.StringVar(&f.redis, "redis", "127.0.0.1:6379", "local target: Redis server address")
	fl.StringVar(&f.endpoint, "inference-endpoint", "", "real OpenAI-compatible base URL (e.g. http://vllm:8000/v1); no fake server is started")
	fl.StringVar(&f.model, "model", "", "model name for --inference-endpoint")
	fl.StringVar(&f.preset, "preset", "", "fake inference preset: instant, h200-8b, h200-70b, serverless")
	fl.Int64Var(&f.seed, "seed", 0, "override the profile's seed")
	fl.DurationVar(&f.timeout, "timeout", 0, "how long "+waits+" for the drain after the last enqueue (default: the scenario's run.timeout, 10m)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress bars")
	f.cluster.register(fl, false)
}

// loadScenario builds the effective scenario from the file and the flags.
func (f *runFlags) loadScenario() (*scenario.Scenario, error) {
	var doc []byte
	file := f.scenario
	switch {
	case f.scenario != "":
		b, err := os.ReadFile(f.scenario)
		if err != nil {
			return nil, badInput("read scenario: %v", err)
		}
		doc = b
	case f.profile != "":
		name := strings.TrimSuffix(filepath.Base(f.profile), filepath.Ext(f.profile))
		doc = []byte(fmt.Sprintf("name: %s\nprofile: %q\ntarget: local\n", name, f.profile))
		file = "(flags)"
	default:
		return nil, badInput("run needs --scenario FILE or --profile NAME|FILE (see burst run --help)")
	}
	sets := append([]string(nil), f.sets...)
	if f.profile != "" && f.scenario != "" {
		sets = append(sets, "profile="+f.profile)
	}
	if f.target != "" {
		sets = append(sets, "target="+f.target)
	}
	if f.workers > 0 {
		sets = append(sets, fmt.Sprintf("worker.replicas=%d", f.workers))
	}
	if f.concurrency > 0 {
		sets = append(sets, fmt.Sprintf("worker.concurrency=%d", f.concurrency))
	}
	if f.endpoint != "" {
		sets = append(sets, "inference.endpoint="+f.endpoint, "inference.preset=")
	}
	if f.model != "" {
		sets = append(sets, "inference.model="+f.model)
	}
	if f.preset != "" {
		sets = append(sets, "inference.preset="+f.preset)
	}
	if f.seed != 0 {
		sets = append(sets, fmt.Sprintf("seed=%d", f.seed))
	}
	if f.timeout > 0 {
		sets = append(sets, "run.timeout="+f.timeout.String())
	}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, badInput("--set %q: write KEY=VALUE, e.g. scaler.lagCount=10", kv)
		}
		var err error
		if doc, err = scenario.Set(doc, k, v); err != nil {
			return nil, badInput("--set %s: %v", kv, err)
		}
	}
	sc, err := scenario.Parse(file, doc)
	if err != nil {
		return nil, withCode(ExitBadInput, err)
	}
	if f.target == "" && f.scenario == "" {
		sc.Target = "local"
	}
	return sc, nil
}

// loadSchedule resolves the scenario's profile and builds its schedule.
func loadSchedule(sc *scenario.Scenario) (*loadprofiles.Profile, *loadprofiles.Schedule, error) {
	p, err := loadprofiles.Resolve(sc.ProfileRef())
	if err != nil {
		return nil, nil, withCode(ExitBadInput, fmt.Errorf("scenario %s: profile: %w", sc.File, err))
	}
	if sc.Seed != 0 {
		p = p.WithSeed(sc.Seed)
	}
	sched, err := p.Schedule()
	if err != nil {
		return nil, nil, withCode(ExitBadInput, fmt.Errorf("profile %s: %w", sc.Profile, err))
	}
	return p, sched, nil
}

func runRun(ctx context.Context, s Streams, f *runFlags, cmd *cobra.Command) error {
	sc, err := f.loadScenario()
	if err != nil {
		return err
	}
	_, sched, err := loadSchedule(sc)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the burst executable to start workers: %w", err)
	}
	var prog *progress.Progress
	if !f.quiet {
		prog = progress.New(s.Err)
	}
	o := runner.Options{Scenario: sc, Schedule: sched, RedisAddr: f.redis, OutRoot: f.out, RunDir: f.runDir,
		WorkerCommand: []string{exe, "worker"}, Version: Version, Progress: prog, Log: prog.Writer(s.Err)}
	runFn, err := runnerFor(sc.Target, &f.cluster, prog.Writer(s.Err))
	if err != nil {
		return err
	}
	run, err := runFn(ctx, o)
	prog.Wait()
	if run == nil {
		return err
	}
	if perr := results.PrintTable(s.Out, &run.Summary); perr != nil {
		return perr
	}
	fmt.Fprintf(s.Out, "results: %s\n", run.Dir)
	if err != nil {
		return err
	}
	return verdict(&run.Summary)
}

// verdict turns a run's summary into its exit code: the ledger first (4),
// then the SLOs (3).
func verdict(sum *results.Summary) error {
	if !sum.Ledger.Valid {
		return withCode(ExitLedgerFail, fmt.Errorf("ledger invalid: %d lost, %d unexpected (see %s)", sum.Ledger.Lost, sum.Ledger.Unexpected, results.TasksFile))
	}
	if !sum.SLO.Passed {
		var names []string
		for _, b := range sum.SLO.Breaches {
			names = append(names, b.Figure)
		}
		return withCode(ExitSLOBreach, fmt.Errorf("SLO breached: %s", strings.Join(names, ", ")))
	}
	return nil
}
