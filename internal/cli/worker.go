package cli

import (
	"github.com/spf13/cobra"

	"github.com/burstbench/burst/worker"
)

func init() { register(newWorkerCmd) }

// newWorkerCmd is the hidden `burst worker`: the agent worker built into the
// burst binary, so `burst run --target local` starts real worker processes
// without a second binary. It takes the same flags and environment as
// cmd/worker (see `burst worker --help`).
func newWorkerCmd(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:                "worker [flags]",
		Short:              "Run one agent worker (the process `run --target local` starts)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := worker.Main(cmd.Context(), args, nil, s.Err); code != 0 {
				return withCode(code, errSilent)
			}
			return nil
		},
	}
}
