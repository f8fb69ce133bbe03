//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
)

// TestUpIsIdempotent runs last (Go runs test files in name order): `burst up`
// on the suite's cluster must reuse everything and load nothing again.
func TestUpIsIdempotent(t *testing.T) {
	f := features.New("burst up twice").
		WithLabel("scenario", "up").
		Assess("a second up reuses the cluster, the images and KEDA", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			start := time.Now()
			out, errOut, code := burst(t, ctx, "up", "--name", clusterName, "--preset", "instant")
			if code != 0 {
				t.Fatalf("burst up: exit %d\n%s", code, errOut)
			}
			if d := time.Since(start); d > time.Minute {
				t.Errorf("second burst up took %v, want well under a minute", d)
			}
			for _, want := range []string{"reused kind cluster " + clusterName, "0 loaded", "kept KEDA v2.20.2"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("burst up progress lacks %q:\n%s", want, errOut)
				}
			}
			if !strings.HasPrefix(out, "ready: kind "+clusterName) {
				t.Errorf("stdout = %q, want the ready line", out)
			}
			return ctx
		}).
		Assess("down of a cluster that does not exist is a no-op", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			out, _, code := burst(t, ctx, "down", "--name", "burst-e2e-no-such-cluster")
			if code != 0 || !strings.Contains(out, "nothing to delete") {
				t.Errorf("burst down of a missing cluster: exit %d, %q", code, out)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
