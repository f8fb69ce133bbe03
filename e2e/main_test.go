//go:build e2e

// Package e2e runs burst end to end on a real kind cluster with real KEDA:
// the suite builds the burst binary, stands the stack up once with the same
// library `burst up` uses, and each feature runs `burst run` on a scenario
// and checks the run directory it wrote.
//
//	go test -tags e2e -v ./e2e/...          (make e2e)
//	go test -tags e2e -v ./e2e/... -args -labels=scenario=seed-article
//
// BURST_E2E_KEEP=1 keeps the cluster afterwards; on a failure the cluster's
// logs are exported to e2e/logs/.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/burstbench/burst/internal/cluster"
	"github.com/burstbench/burst/internal/deploy"
	"github.com/burstbench/burst/internal/images"
)

const clusterName = "burst-e2e"

var (
	testenv env.Environment
	// burstBin is the burst binary built for the suite.
	burstBin string
	// failed records a failed feature so Finish exports the cluster's logs.
	failed atomic.Bool
	stack  *deploy.Stack
	work   string
)

func TestMain(m *testing.M) {
	cfg, err := envconf.NewFromFlags()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(2)
	}
	testenv = env.NewWithConfig(cfg)
	work, err = os.MkdirTemp("", "burst-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	kubeconfig := filepath.Join(work, "kubeconfig")

	testenv.Setup(
		func(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
			burstBin = filepath.Join(work, "burst")
			out, err := exec.CommandContext(ctx, "go", "build", "-o", burstBin, "../cmd/burst").CombinedOutput()
			if err != nil {
				return ctx, fmt.Errorf("build burst: %v\n%s", err, out)
			}
			return ctx, nil
		},
		func(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
			// A fresh cluster: one left over from an earlier run may have
			// stopped containers.
			if ok, _ := cluster.Exists(ctx, clusterName); ok {
				if err := cluster.Delete(ctx, clusterName, kubeconfig); err != nil {
					return ctx, err
				}
			}
			stack = deploy.NewStack(deploy.UpOptions{
				Kind:   &cluster.Options{Name: clusterName, ConfigPath: "../kind-config.yaml", KubeconfigPath: kubeconfig, Log: os.Stderr},
				Images: images.Options{RepoRoot: ".."},
				Log:    os.Stderr,
			})
			start := time.Now()
			err := stack.Up(ctx, func(e deploy.StepEvent) {
				if e.Done {
					fmt.Fprintf(os.Stderr, "e2e: up: %s (%s) %s %v\n", e.Name, e.Elapsed.Round(time.Millisecond), e.Note, errOrEmpty(e.Err))
				}
			})
			if err != nil {
				return ctx, fmt.Errorf("burst up: %w", err)
			}
			fmt.Fprintf(os.Stderr, "e2e: stack up in %s\n", time.Since(start).Round(time.Second))
			if err := stack.Target.WriteKubeconfig(kubeconfig); err != nil {
				return ctx, err
			}
			cfg.WithKubeconfigFile(kubeconfig)
			return ctx, nil
		},
	)
	testenv.AfterEachFeature(func(ctx context.Context, _ *envconf.Config, t *testing.T, _ features.Feature) (context.Context, error) {
		if t.Failed() {
			failed.Store(true)
		}
		return ctx, nil
	})
	testenv.Finish(func(ctx context.Context, _ *envconf.Config) (context.Context, error) {
		if stack != nil && stack.Target != nil && failed.Load() {
			dir, _ := filepath.Abs("logs")
			if err := stack.Target.ExportLogs(ctx, dir); err != nil {
				fmt.Fprintf(os.Stderr, "e2e: export logs: %v\n", err)
			} else {
				fmt.Fprintf(os.Stderr, "e2e: cluster logs in %s\n", dir)
			}
		}
		if os.Getenv("BURST_E2E_KEEP") == "1" {
			fmt.Fprintf(os.Stderr, "e2e: keeping kind cluster %s (kubeconfig %s)\n", clusterName, kubeconfig)
			return ctx, nil
		}
		defer os.RemoveAll(work)
		return ctx, cluster.Delete(ctx, clusterName, kubeconfig)
	})
	os.Exit(testenv.Run(m))
}

func errOrEmpty(err error) any {
	if err == nil {
		return ""
	}
	return err
}

// burst runs the burst binary against the suite's cluster and returns its
// stdout, stderr and exit code.
func burst(t *testing.T, ctx context.Context, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, burstBin, args...)
	cmd.Dir = ".."
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, io.MultiWriter(&errb, testWriter{t})
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run burst %v: %v", args, err)
	}
	t.Logf("burst %v: exit %d\n%s", args, code, out.String())
	return out.String(), errb.String(), code
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Logf("%s", b); return len(b), nil }
