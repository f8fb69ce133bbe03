//go:build e2e

package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/burstbench/burst/results"
)

// runScenario runs `burst run` for a scenario into a fresh run directory and
// loads what it wrote.
func runScenario(ctx context.Context, t *testing.T, file string, wantCode int) *results.Run {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	_, _, code := burst(t, ctx, "run", "--scenario", file, "--name", clusterName, "--run-dir", dir)
	if code != wantCode {
		t.Fatalf("burst run %s: exit %d, want %d", file, code, wantCode)
	}
	run, err := results.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func need(t *testing.T, name string, p *float64) float64 {
	t.Helper()
	if p == nil {
		t.Fatalf("%s is null, want a value", name)
	}
	return *p
}

func TestSpike50FromZeroLagPending(t *testing.T) {
	f := features.New("spike-50 from zero with lag+pending").
		WithLabel("scenario", "spike-50-lag-pending").
		Assess("scales out, drains, ledger valid, figures consistent", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			run := runScenario(ctx, t, "scenarios/spike-50-lag-pending.yaml", 0)
			s := run.Summary
			if s.Target != "kind" || s.Tasks.Enqueued != 50 || s.Tasks.Completed != 50 {
				t.Errorf("tasks = %+v on %s, want 50 enqueued and completed on kind", s.Tasks, s.Target)
			}
			if !s.Ledger.Valid || s.Ledger.Lost != 0 || s.Leftover.Pending != 0 || s.Leftover.Lag == nil || *s.Leftover.Lag != 0 {
				t.Errorf("ledger %+v, leftover %+v: want valid, lost 0, pending 0, lag 0", s.Ledger, s.Leftover)
			}
			sc := s.Scaling
			act := need(t, "activation_ms", sc.ActivationMs)
			first := need(t, "first_ready_ms", sc.FirstReadyMs)
			peak := need(t, "peak_ready_ms", sc.PeakReadyMs)
			drain := need(t, "drain_ms", s.DrainMs)
			need(t, "first_task_started_ms", sc.FirstTaskStartedMs)
			need(t, "scale_down_ms", sc.ScaleDownMs)
			need(t, "replica_seconds", sc.ReplicaSeconds)
			need(t, "expected_first_ready_ms", sc.ExpectedFirstReadyMs)
			if sc.PeakReplicas == nil || *sc.PeakReplicas < 2 || sc.Flaps == nil || sc.PodsKilledWithTasks == nil {
				t.Errorf("peak replicas %v, flaps %v, killed %v: want a scale-out to ≥ 2 and non-null counts", sc.PeakReplicas, sc.Flaps, sc.PodsKilledWithTasks)
			}
			if !(act <= first && first <= peak && peak <= drain) {
				t.Errorf("want activation ≤ first Ready ≤ peak Ready ≤ drain, got %.0f, %.0f, %.0f, %.0f ms", act, first, peak, drain)
			}
			if len(s.Waterfall) == 0 || s.Waterfall[0].ReadyMs == nil {
				t.Errorf("waterfall = %+v, want a row per new pod", s.Waterfall)
			}
			if s.Versions.KEDA == nil || *s.Versions.KEDA == "" || s.Versions.Kubernetes == nil || *s.Versions.Kubernetes == "" || s.Versions.Redis == "" {
				t.Errorf("versions = %+v", s.Versions)
			}
			return ctx
		}).
		Assess("the ScaledObject has a lag and a pending trigger", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			var so unstructured.Unstructured
			so.SetAPIVersion("keda.sh/v1alpha1")
			so.SetKind("ScaledObject")
			if err := cfg.Client().Resources("burst").Get(ctx, "worker", "burst", &so); err != nil {
				t.Fatalf("get ScaledObject burst/worker: %v", err)
			}
			triggers, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
			var keys []string
			for _, tr := range triggers {
				md, _, _ := unstructured.NestedStringMap(tr.(map[string]any), "metadata")
				for _, k := range []string{"lagCount", "pendingEntriesCount"} {
					if md[k] != "" {
						keys = append(keys, k)
					}
				}
			}
			if strings.Join(keys, ",") != "lagCount,pendingEntriesCount" {
				t.Errorf("triggers carry %v, want lagCount then pendingEntriesCount", keys)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func TestSeedArticleNeverActivates(t *testing.T) {
	f := features.New("seed-article pendingEntriesCount from zero").
		WithLabel("scenario", "seed-article").
		Assess("burst lint flags it", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			out, _, code := burst(t, ctx, "lint", "scenarios/seed-article.yaml")
			if code != 0 || !strings.Contains(out, "[pending-from-zero]") {
				t.Errorf("lint exit %d, output:\n%s\nwant the pending-from-zero warning", code, out)
			}
			return ctx
		}).
		Assess("never activates within 2 × pollingInterval + 30 s; all 50 tasks stay in the stream", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run := runScenario(ctx, t, "scenarios/seed-article.yaml", 0)
			s := run.Summary
			if !s.Scaling.NeverActivated || s.Scaling.ActivationMs != nil || s.Scaling.FirstReadyMs != nil {
				t.Errorf("scaling = %+v, want never activated", s.Scaling)
			}
			if s.Tasks.Completed != 0 || s.Leftover.Undelivered != 50 || s.Ledger.StillPending != 50 || s.Ledger.Lost != 0 || s.DrainMs != nil {
				t.Errorf("tasks %+v, leftover %+v, ledger %+v: want all 50 undelivered, none lost, no drain", s.Tasks, s.Leftover, s.Ledger)
			}
			if s.Leftover.Lag == nil || *s.Leftover.Lag != 50 {
				t.Errorf("leftover lag = %v, want 50", s.Leftover.Lag)
			}
			if dur := s.FinishedAt.Sub(s.T0).Seconds(); dur < 90 {
				t.Errorf("observed %.0f s after the burst, want ≥ 2 × 30 s + 30 s", dur)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func TestScaleDownWhileInFlightLosesNothing(t *testing.T) {
	f := features.New("scale-down while tasks are in flight").
		WithLabel("scenario", "scale-down-in-flight").
		Assess("workers scaled down mid-task finish their tasks; nothing lost", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run := runScenario(ctx, t, "e2e/testdata/scale-down-in-flight.yaml", 0)
			s := run.Summary
			if s.Tasks.Completed != 8 || !s.Ledger.Valid || s.Ledger.Lost != 0 || s.Leftover.Pending != 0 {
				t.Errorf("tasks %+v ledger %+v leftover %+v: want 8 completed, none lost or pending", s.Tasks, s.Ledger, s.Leftover)
			}
			drain := need(t, "drain_ms", s.DrainMs)
			// The scale-down must have begun while tasks were in flight: a
			// worker pod was told to terminate before the last task finished.
			early := false
			for _, r := range run.Timeline {
				if r.Source == "pod" && r.Kind == "deleting" && r.Ms > 0 && r.Ms < drain {
					early = true
				}
			}
			if !early {
				t.Errorf("no worker pod began terminating before the drain at %.0f ms: the scenario did not scale down in flight", drain)
			}
			if k := s.Scaling.PodsKilledWithTasks; k == nil || *k != 0 {
				t.Errorf("pods killed with tasks = %v, want 0 (graceful shutdown finishes in-flight tasks)", k)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
