// Command worker is burst's agent worker, the image that KEDA scales: it
// reads tasks from a Redis stream consumer group, runs each as an agent loop
// of streaming chat completions and records the result. Configuration comes
// from environment variables and flags (flags win); see --help and
// docs/worker.md.
//
// Exit codes: 0 graceful stop, 1 could not run, 2 invalid configuration,
// 130 a second signal before the graceful stop finished.
package main

import (
	"context"
	"github.com/burstbench/burst/internal/signals"
	"io"
	"os"

	"github.com/burstbench/burst/worker"
)

func main() {
	ctx, cancel := signals.Context(os.Stderr, "worker: %v: stopping gracefully (a second signal exits at once)",
		"worker: second signal: exiting now; unfinished tasks stay pending for reclaim")
	defer cancel()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stderr))
}

// run is worker.Main; tests call it without a process.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	return worker.Main(ctx, args, getenv, stderr)
}
