package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/burstbench/burst/internal/loadgen"
	"github.com/burstbench/burst/internal/signals"
)

// Version is set at build time with -ldflags "-X github.com/burstbench/burst/internal/cli.Version=…".
var Version = "dev"

// Streams are the process's standard streams; tests pass buffers.
type Streams struct {
	Out io.Writer // results: tables, paths
	Err io.Writer // progress, logs, errors
}

// Main runs burst with the process arguments and returns the exit code. The
// first SIGINT/SIGTERM cancels the context (runs stop and still write their
// results); a second one exits at once with 130.
func Main() int {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(loadgen.GCPercent)
	}
	ctx, cancel := signals.Context(os.Stderr, "burst: %v: stopping (press Ctrl-C again to exit now)", "")
	defer cancel()
	err := Run(ctx, os.Args[1:], Streams{Out: os.Stdout, Err: os.Stderr})
	if err != nil && !errors.Is(err, errSilent) {
		fmt.Fprintf(os.Stderr, "burst: %v\n", err)
	}
	return exitCode(err)
}

// Run executes one burst command line.
func Run(ctx context.Context, args []string, s Streams) error {
	root := newRoot(s)
	root.SetArgs(args)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	if err := root.ExecuteContext(ctx); err != nil {
		if exitCode(err) == ExitRunFailed && isUsageError(err) {
			return withCode(ExitBadInput, err)
		}
		return err
	}
	return nil
}

func newRoot(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "burst",
		Short: "Measure how KEDA-scaled agent workers absorb bursts of tasks",
		Long: `burst fires bursts of agent tasks into a Redis stream consumed by autoscaled
workers and measures how fast they scale, how long the queue takes to drain,
what latency each task sees, what is left behind and what it cost.

Results go to stdout (tables) and to a run directory; progress goes to stderr.
Exit codes: 0 ok, 1 could not run, 2 invalid input, 3 SLO breached, 4 ledger invalid.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(ExitBadInput, fmt.Errorf("%s: %w (see %s --help)", c.CommandPath(), err, c.CommandPath()))
	})
	for _, add := range commands {
		root.AddCommand(add(s))
	}
	return root
}

// commands holds the constructors of the subcommands; each command's file
// registers itself in init so commands can be added without editing this file.
var commands []func(Streams) *cobra.Command

func register(f func(Streams) *cobra.Command) { commands = append(commands, f) }

func isUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
