package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/burstbench/burst/fakeinference"
	"github.com/burstbench/burst/loadprofiles"
	"github.com/burstbench/burst/scenario"
)

func init() { register(newLintCmd) }

type lintFlags struct {
	redisVersion string
	strict       bool
}

func newLintCmd(s Streams) *cobra.Command {
	f := &lintFlags{}
	cmd := &cobra.Command{
		Use:   "lint FILE...",
		Short: "Validate profiles and scenarios, and warn about KEDA pitfalls before a run",
		Long: `lint validates load profile and scenario files and prints every problem with
the file, the field and the fix (exit 2 when any file is invalid).

For scenarios it also warns, with the reason and the fix, about the KEDA
redis-streams pitfalls that make a run fail in ways that are easy to miss:
  pending-from-zero            pendingEntriesCount with minReplicaCount 0 never starts
  pending-backlog-invisible    workers that hold few entries hide the backlog from XPENDING
  lag-scale-to-zero-in-flight  lag-only can scale to zero while tasks still run
  length-without-trim          XLEN counts acked entries until the stream is trimmed
  activation-off-by-one        activation thresholds are strict (value > threshold)
  lag-needs-redis-7            consumer-group lag needs Redis ≥ 7

Warnings exit 0 unless --strict.`,
		Example: `  burst lint scenarios/seed-article.yaml
  burst lint loadprofiles/profiles/*.yaml
  burst lint --redis-version 6.2.14 scenarios/spike-50-lag.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLint(s, f, args)
		},
	}
	cmd.Flags().StringVar(&f.redisVersion, "redis-version", "", "Redis server version the scenario will run against (enables the Redis ≥ 7 check)")
	cmd.Flags().BoolVar(&f.strict, "strict", false, "exit 2 when there are warnings")
	return cmd
}

func runLint(s Streams, f *lintFlags, files []string) error {
	invalid, warnings := 0, 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(s.Out, "%s: %v\n", file, err)
			invalid++
			continue
		}
		if isProfile(data) {
			p, err := loadprofiles.Parse(file, data)
			if err == nil {
				_, err = p.Schedule()
			}
			if err != nil {
				fmt.Fprintln(s.Out, err)
				invalid++
				continue
			}
			fmt.Fprintf(s.Out, "%s: valid load profile\n", file)
			continue
		}
		sc, err := scenario.Parse(file, data)
		if err != nil {
			fmt.Fprintln(s.Out, err)
			invalid++
			continue
		}
		prof, sched, err := loadSchedule(sc)
		if err != nil {
			fmt.Fprintln(s.Out, err)
			invalid++
			continue
		}
		facts := scenario.LintFacts{RedisVersion: f.redisVersion, SmallestBurst: smallestBurst(sched)}
		facts.TaskDuration = estimateTask(sc, sched)
		findings := scenario.Lint(sc, facts)
		if len(findings) == 0 {
			fmt.Fprintf(s.Out, "%s: valid scenario (profile %s), no KEDA pitfalls found\n", file, prof.Name)
			continue
		}
		warnings += len(findings)
		fmt.Fprintf(s.Out, "%s: valid scenario (profile %s), %d warning(s):\n", file, prof.Name, len(findings))
		for _, w := range findings {
			fmt.Fprintf(s.Out, "  warning [%s] %s: %s\n    why: %s\n    fix: %s\n", w.Code, w.Field, w.Message, w.Reason, w.Fix)
		}
	}
	switch {
	case invalid > 0:
		return withCode(ExitBadInput, fmt.Errorf("%d of %d file(s) invalid", invalid, len(files)))
	case warnings > 0 && f.strict:
		return withCode(ExitBadInput, fmt.Errorf("%d warning(s) with --strict", warnings))
	}
	return nil
}

// isProfile tells a load profile (top-level stages) from a scenario.
func isProfile(data []byte) bool {
	var top map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&top); err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	_, hasStages := top["stages"]
	_, hasScaler := top["scaler"]
	return hasStages && !hasScaler
}

// smallestBurst is the fewest tasks the schedule enqueues at one instant.
func smallestBurst(s *loadprofiles.Schedule) int {
	best := 0
	for i := 0; i < len(s.Arrivals); {
		j := i
		for j < len(s.Arrivals) && s.Arrivals[j].Offset-s.Arrivals[i].Offset < time.Millisecond {
			j++
		}
		if best == 0 || j-i < best {
			best = j - i
		}
		i = j
	}
	return best
}

// estimateTask estimates the longest task's service time from the fake
// server's latency model (unknown for a real endpoint).
func estimateTask(sc *scenario.Scenario, s *loadprofiles.Schedule) time.Duration {
	if sc.Inference.Endpoint != "" {
		return 0
	}
	cfg, err := fakeinference.Preset(sc.Inference.Preset)
	if err != nil {
		return 0
	}
	for k, v := range sc.Inference.Fake {
		if cfg.Set(k, v) != nil {
			return 0
		}
	}
	var longest time.Duration
	for _, a := range s.Arrivals {
		step := cfg.PrefillOverhead + time.Duration(a.PromptTokens)*cfg.PrefillTimePerToken + time.Duration(max(0, a.OutputTokens-1))*cfg.InterTokenLatency
		longest = max(longest, time.Duration(a.Steps)*step)
	}
	return longest
}
