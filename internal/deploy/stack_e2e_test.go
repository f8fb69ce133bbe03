//go:build e2e

package deploy_test

// This test stands up the real stack on a kind cluster and keeps it running
// for development: go test -tags e2e -run TestStackE2E -v ./internal/deploy
// (in the sandbox, after eval "$(../shared/sandbox/prepare)"). The cluster
// name is $BURST_E2E_CLUSTER, default burst-dev; it is reused when it exists.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/burstbench/burst/internal/cluster"
	"github.com/burstbench/burst/internal/deploy"
	"github.com/burstbench/burst/internal/images"
	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/scenario"
)

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func progress(t *testing.T) deploy.Progress {
	return func(e deploy.StepEvent) {
		switch {
		case !e.Done:
			t.Logf("[%d/%d] %s ...", e.Index+1, e.Total, e.Name)
		case e.Err != nil:
			t.Logf("[%d/%d] %s FAILED after %s: %v", e.Index+1, e.Total, e.Name, e.Elapsed.Round(100*time.Millisecond), e.Err)
		default:
			t.Logf("[%d/%d] %s done in %s: %s", e.Index+1, e.Total, e.Name, e.Elapsed.Round(100*time.Millisecond), e.Note)
		}
	}
}

func TestStackE2E(t *testing.T) {
	name := os.Getenv("BURST_E2E_CLUSTER")
	if name == "" {
		name = "burst-dev"
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	up := func() (*deploy.Stack, time.Duration) {
		t.Helper()
		s := deploy.NewStack(deploy.UpOptions{
			Kind:   &cluster.Options{Name: name, ConfigPath: filepath.Join(root, "kind-config.yaml")},
			Images: images.Options{RepoRoot: root},
			Log:    logWriter{t},
		})
		start := time.Now()
		if err := s.Up(ctx, progress(t)); err != nil {
			t.Fatalf("up: %v", err)
		}
		return s, time.Since(start)
	}

	s, took := up()
	t.Logf("first up: %s (cluster created: %v, %d images loaded)", took.Round(time.Second), s.Target.Created, len(s.Loaded))
	for _, gv := range []string{deploy.ExternalMetricsAPI, deploy.MetricsAPI} {
		if err := s.Client.WaitAPIServed(ctx, gv, 10*time.Second); err != nil {
			t.Errorf("after up: %v", err)
		}
	}

	s2, took2 := up()
	t.Logf("second up (idempotent): %s", took2.Round(100*time.Millisecond))
	if s2.Target.Created || s2.KEDA.Applied || len(s2.Loaded) != 0 {
		t.Errorf("second up changed things: created=%v KEDA applied=%v loaded=%v", s2.Target.Created, s2.KEDA.Applied, s2.Loaded)
	}
	if want := (deploy.KEDAOptions{}).WithDefaults().Version; s2.KEDA.Version != want {
		t.Errorf("KEDA version = %q, want %q", s2.KEDA.Version, want)
	}

	// Phase 2: workers scaled by lag+pending from zero drain a small burst.
	sc, err := scenario.Parse("e2e.yaml", []byte(`name: e2e-lag-pending
profile: spike-50
scaler:
  trigger: lag+pending
  lagCount: 5
  pendingEntriesCount: 4
  pollingInterval: 5s
  cooldownPeriod: 15s
  minReplicaCount: 0
  maxReplicaCount: 3
worker:
  concurrency: 2
  terminationGracePeriod: 10s
  resources:
    requests: {cpu: 10m, memory: 24Mi}
    limits: {memory: 64Mi}
inference:
  preset: h200-8b
`))
	if err != nil {
		t.Fatal(err)
	}
	c := s2.Client
	if err := c.Reset(ctx, deploy.ResetFor(sc)); err != nil {
		t.Fatal(err)
	}
	fwd, err := s2.Target.PortForward(ctx, s2.Namespace(), deploy.DefaultRedisName, deploy.RedisPort)
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()
	q, err := queue.Dial(ctx, queue.Options{Addr: fwd.Addr, Keys: queue.KeysFor(sc.Redis.Prefix)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	wo := deploy.WorkerOptions{Scenario: sc, Image: s2.WorkerImage, RunID: "e2e"}
	if err := c.DeployWorkers(ctx, wo, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("workers deployed, ScaledObject Ready in %s", time.Since(start).Round(100*time.Millisecond))

	const n = 12
	tasks := make([]queue.Task, n)
	now := time.Now()
	for i := range tasks {
		tasks[i] = queue.Task{ID: queue.TaskID("e2e", int64(i)), Run: "e2e", Seq: int64(i), Steps: 1, PromptTokens: 32, OutputTokens: 16, Intended: now, Sent: now}
	}
	t0 := time.Now()
	if _, err := q.Enqueue(ctx, tasks); err != nil {
		t.Fatal(err)
	}
	var firstReplica, drained time.Duration
	peak := int32(0)
	for drained == 0 {
		if ctx.Err() != nil || time.Since(t0) > 4*time.Minute {
			st, _ := q.Sample(context.Background())
			t.Fatalf("burst of %d not drained after %s: %+v", n, time.Since(t0).Round(time.Second), st)
		}
		d, err := c.Kube.AppsV1().Deployments(s2.Namespace()).Get(ctx, deploy.DefaultWorkerName, metav1.GetOptions{})
		if err == nil {
			if d.Status.ReadyReplicas > 0 && firstReplica == 0 {
				firstReplica = time.Since(t0)
			}
			peak = max(peak, d.Status.ReadyReplicas)
		}
		st, err := q.Sample(ctx)
		if err == nil && st.Results >= n && st.Pending == 0 && st.Lag == 0 {
			drained = time.Since(t0)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("burst of %d: first worker Ready after %s, drained after %s, peak %d ready replicas",
		n, firstReplica.Round(100*time.Millisecond), drained.Round(100*time.Millisecond), peak)

	start = time.Now()
	if err := c.Reset(ctx, deploy.ResetFor(sc)); err != nil {
		t.Fatal(err)
	}
	t.Logf("reset to 0 replicas in %s", time.Since(start).Round(100*time.Millisecond))
	fmt.Fprintf(os.Stderr, "cluster %q left running: kubectl --context kind-%s -n %s get all\n", name, name, s2.Namespace())
}
