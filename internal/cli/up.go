package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/burstbench/burst/internal/cluster"
	"github.com/burstbench/burst/internal/deploy"
	"github.com/burstbench/burst/internal/progress"
	"github.com/burstbench/burst/internal/runner"
)

func init() {
	register(newUpCmd)
	register(newDownCmd)
}

func newUpCmd(s Streams) *cobra.Command {
	f := &clusterFlags{}
	var quiet bool
	cmd := &cobra.Command{
		Use:   "up [flags]",
		Short: "Create or reuse the kind cluster with KEDA, Redis and the fake inference server",
		Long: `up stands up everything a cluster run needs, in named steps, each skipped when
its result already exists (running it twice is fine and takes seconds):

  cluster                create or reuse the kind cluster from kind-config.yaml, or use
                         --kubeconfig/--context without creating anything
  build images           the worker and fakeinference images, from this source tree,
                         without pulling anything
  load images            into every kind node (KEDA, Redis, metrics-server too when the
                         local docker has them), so no pull pollutes a scale-up figure
  metrics-server         for the cpu trigger's HPA
  KEDA                   the pinned version; waits until the external metrics API answers
  Redis                  Deployment + Service redis in --namespace
  fake inference server  Deployment + Service fakeinference:8000

Every knob also reads the BURST_* environment variables (see README, "Sandbox").`,
		Example: `  burst up
  burst up --node-image kindest/node:v1.34.0 --keda-version v2.20.2
  burst up --kubeconfig ~/.kube/config --context staging --worker-image reg.local/burst/worker:v1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var prog *progress.Progress
			if !quiet {
				prog = progress.New(s.Err)
			}
			stack := deploy.NewStack(f.upOptions(prog.Writer(s.Err)))
			err := runner.StepBars(cmd.Context(), prog, stack.Steps())
			prog.Wait()
			if err != nil {
				if errors.Is(err, deploy.ErrKEDAMissing) {
					return withCode(ExitRunFailed, err)
				}
				return err
			}
			fake := "fake inference at " + stack.FakeInferenceURL()
			if f.noFake {
				fake = "no fake inference server (runs need --inference-endpoint)"
			}
			fmt.Fprintf(s.Out, "ready: %s %s, %s, Redis at %s, %s\n", stack.Target.Type, stack.Target.Name, stack.KEDA, stack.RedisAddr(), fake)
			return nil
		},
	}
	f.register(cmd.Flags(), true)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bars")
	return cmd
}

func newDownCmd(s Streams) *cobra.Command {
	var name string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "down [--name NAME]",
		Short: "Delete the kind cluster that up created",
		Long: `down deletes the kind cluster (default name burst) and everything in it. It never
touches an existing cluster named with --kubeconfig/--context: remove burst's
namespace there with kubectl delete namespace burst.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			ok, err := cluster.Exists(ctx, name)
			if err != nil {
				return err
			}
			if !ok {
				fmt.Fprintf(s.Out, "no kind cluster %q: nothing to delete\n", name)
				return nil
			}
			if err := cluster.Delete(ctx, name, ""); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "deleted kind cluster %q\n", name)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", cluster.DefaultName, "kind cluster name")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Minute, "give up after this long")
	return cmd
}
