//go:build e2e

package cluster

// go test -tags e2e -run TestKindE2E -v ./internal/cluster creates (or
// reuses) the kind cluster $BURST_E2E_CLUSTER (default burst-dev) and keeps
// it. In the sandbox, run eval "$(../shared/sandbox/prepare)" first.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestKindE2E(t *testing.T) {
	name := os.Getenv("BURST_E2E_CLUSTER")
	if name == "" {
		name = "burst-dev"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cfg, err := filepath.Abs("../../kind-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tg, err := Create(ctx, Options{Name: name, ConfigPath: cfg, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Create: %s (created: %v)", time.Since(start).Round(100*time.Millisecond), tg.Created)
	v, err := tg.ServerVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Kubernetes %s", v)

	start = time.Now()
	again, err := Create(ctx, Options{Name: name, ConfigPath: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if again.Created {
		t.Error("second Create created a new cluster; it must reuse")
	}
	t.Logf("second Create (reuse): %s", time.Since(start).Round(100*time.Millisecond))

	nodes, err := tg.Nodes(ctx)
	if err != nil || len(nodes) == 0 {
		t.Fatalf("Nodes = %v, %v", nodes, err)
	}
	if len(tg.Kubeconfig()) == 0 {
		t.Error("empty kubeconfig")
	}
	conn, err := Connect(ctx, ConnectOptions{Kubeconfig: writeKubeconfig(t, tg), Context: "kind-" + name})
	if err != nil {
		t.Fatal(err)
	}
	if conn.Type != TypeKind || conn.Name != name || !conn.CanLoadImages() {
		t.Errorf("Connect to kind-%s = %s %q (can load: %v), want a kind target", name, conn.Type, conn.Name, conn.CanLoadImages())
	}

	img := os.Getenv("BURST_REDIS_IMAGE")
	if img == "" {
		t.Skip("BURST_REDIS_IMAGE unset: skipping the image load check")
	}
	for i := range 2 {
		start = time.Now()
		rep, err := tg.LoadDockerImages(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("LoadDockerImages(%s) #%d: %s, loaded %v, present %v", img, i+1, time.Since(start).Round(100*time.Millisecond), rep.Loaded, rep.Present)
		if i == 1 && len(rep.Loaded) != 0 {
			t.Errorf("second load loaded %v again; it must skip images with the same ID", rep.Loaded)
		}
	}
	ids, err := tg.ImageIDs(ctx, img)
	if err != nil || len(ids) != len(nodes) {
		t.Errorf("ImageIDs = %v, %v; want one per node", ids, err)
	}
}

func writeKubeconfig(t *testing.T, tg *Target) string {
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := tg.WriteKubeconfig(p); err != nil {
		t.Fatal(err)
	}
	return p
}
