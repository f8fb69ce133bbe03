package worker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/burstbench/burst/internal/signals"
)

// Exit codes of a worker process.
const (
	ExitOK        = 0                  // graceful stop
	ExitRunFailed = 1                  // could not run
	ExitBadConfig = 2                  // invalid configuration
	ExitForced    = signals.ExitForced // a second signal before the graceful stop finished
)

// Main parses args and the environment (getenv; nil means os.Getenv), runs
// the worker until ctx is cancelled and returns the process exit code. It is
// the body of cmd/worker and of the hidden `burst worker` command.
func Main(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, err := ParseArgs(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		return ExitBadConfig
	}
	log := NewLogger(stderr, cfg)
	if err := Run(ctx, cfg, log); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			fmt.Fprintf(stderr, "worker: %v\n", err)
			return ExitBadConfig
		}
		log.Error("worker failed", "err", err)
		return ExitRunFailed
	}
	return ExitOK
}
