//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/burstbench/burst/results"
)

// A real endpoint: the workers call the URL given on the command line with
// the API key from the environment (kept in a Secret), and the fake server
// is not configured for the run.
func TestRealEndpoint(t *testing.T) {
	const endpoint = "http://fakeinference.burst.svc:8000/v1"
	f := features.New("workers call a real OpenAI-compatible endpoint").
		WithLabel("scenario", "endpoint").
		Assess("tasks complete through the endpoint with the key from a Secret", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			t.Setenv("INFERENCE_API_KEY", "e2e-secret-key")
			dir := filepath.Join(t.TempDir(), "run")
			_, errOut, code := burst(t, ctx, "run", "--scenario", "e2e/testdata/endpoint-12.yaml", "--name", clusterName, "--run-dir", dir,
				"--inference-endpoint", endpoint, "--model", "burst-fake-model")
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			if want := "real endpoint " + endpoint; !strings.Contains(errOut, want) {
				t.Errorf("the run did not report the endpoint (%q):\n%s", want, errOut)
			}
			run, err := results.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if s := run.Summary; s.Tasks.Completed != 12 || !s.Ledger.Valid {
				t.Errorf("tasks %+v ledger %+v: want 12 completed", s.Tasks, s.Ledger)
			}
			var d appsv1.Deployment
			if err := cfg.Client().Resources("burst").Get(ctx, "worker", "burst", &d); err != nil {
				t.Fatal(err)
			}
			env := map[string]corev1.EnvVar{}
			for _, e := range d.Spec.Template.Spec.Containers[0].Env {
				env[e.Name] = e
			}
			if env["INFERENCE_ENDPOINT"].Value != endpoint || env["MODEL_NAME"].Value != "burst-fake-model" {
				t.Errorf("worker env: endpoint %q model %q", env["INFERENCE_ENDPOINT"].Value, env["MODEL_NAME"].Value)
			}
			key := env["INFERENCE_API_KEY"]
			if key.Value != "" || key.ValueFrom == nil || key.ValueFrom.SecretKeyRef == nil {
				t.Fatalf("INFERENCE_API_KEY = %+v, want a reference to a Secret", key)
			}
			var sec corev1.Secret
			if err := cfg.Client().Resources("burst").Get(ctx, key.ValueFrom.SecretKeyRef.Name, "burst", &sec); err != nil {
				t.Fatal(err)
			}
			if got := string(sec.Data[key.ValueFrom.SecretKeyRef.Key]); got != os.Getenv("INFERENCE_API_KEY") {
				t.Errorf("secret holds %q, want the key from the environment", got)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
