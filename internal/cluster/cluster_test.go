package cluster

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func TestOptionsDefaults(t *testing.T) {
	t.Setenv(EnvNodeImage, "burst-sandbox/kind-node:v1.34.4")
	for _, tc := range []struct {
		name string
		in   Options
		want Options
	}{
		{"empty: env node image", Options{}, Options{Name: DefaultName, NodeImage: "burst-sandbox/kind-node:v1.34.4", Wait: DefaultWait}},
		{"option wins over env", Options{Name: "x", NodeImage: "kindest/node:v1.34.0", Wait: -1}, Options{Name: "x", NodeImage: "kindest/node:v1.34.0", Wait: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.withDefaults(); got != tc.want {
				t.Errorf("withDefaults = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDoHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	release := make(chan struct{})
	defer close(release)
	start := time.Now()
	err := do(ctx, func() error { <-release; return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("do = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("do returned after %s; it must not wait for the blocked call", d)
	}
	boom := errors.New("boom")
	if err := do(context.Background(), func() error { return boom }); !errors.Is(err, boom) {
		t.Errorf("do = %v, want boom", err)
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := newLogger(&buf)
	l.V(0).Infof("Ensuring node image (%s) 🖼", "img")
	l.V(1).Info("debug line is dropped")
	l.Warn("careful\n")
	l.Errorf("failed %d", 1)
	want := "kind: Ensuring node image (img) 🖼\nkind: WARNING: careful\nkind: ERROR: failed 1\n"
	if buf.String() != want {
		t.Errorf("log =\n%q\nwant\n%q", buf.String(), want)
	}
	if newLogger(nil).V(0).Enabled() {
		t.Error("nil writer: logger must be a no-op")
	}
}

func TestConnectUnreachable(t *testing.T) {
	t.Parallel()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["ctx-a"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "ctx-a"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	_, err := Connect(context.Background(), ConnectOptions{Kubeconfig: path, Timeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), `context "ctx-a"`) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Connect = %v, want an error naming the context and the server", err)
	}
	_, err = Connect(context.Background(), ConnectOptions{Kubeconfig: path, Context: "missing"})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Connect to a missing context = %v", err)
	}
	_, err = Connect(context.Background(), ConnectOptions{Kubeconfig: filepath.Join(t.TempDir(), "none")})
	if err == nil {
		t.Error("Connect with a missing kubeconfig file succeeded")
	}
}

func TestMinify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("CA DATA"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["a"] = &clientcmdapi.Cluster{Server: "https://a", CertificateAuthority: ca}
	cfg.Clusters["b"] = &clientcmdapi.Cluster{Server: "https://b"}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["ctx-a"] = &clientcmdapi.Context{Cluster: "a", AuthInfo: "u"}
	cfg.Contexts["ctx-b"] = &clientcmdapi.Context{Cluster: "b", AuthInfo: "u"}
	cfg.CurrentContext = "ctx-b"
	got := minify(*cfg, "ctx-a")
	if got.CurrentContext != "ctx-a" || len(got.Clusters) != 1 || len(got.Contexts) != 1 {
		t.Fatalf("minify kept %d clusters, %d contexts, current %q", len(got.Clusters), len(got.Contexts), got.CurrentContext)
	}
	if string(got.Clusters["a"].CertificateAuthorityData) != "CA DATA" {
		t.Errorf("minify did not embed the CA file")
	}
	if cfg.CurrentContext != "ctx-b" || len(cfg.Clusters) != 2 {
		t.Error("minify changed its input")
	}
}

func TestNotKind(t *testing.T) {
	t.Parallel()
	tg := &Target{Type: TypeCluster, Name: "prod"}
	if tg.CanLoadImages() {
		t.Error("an existing cluster cannot load images")
	}
	ctx := context.Background()
	if _, err := tg.LoadDockerImages(ctx, "redis:7.2"); !errors.Is(err, ErrNotKind) {
		t.Errorf("LoadDockerImages = %v, want ErrNotKind", err)
	}
	if _, err := tg.LoadArchive(ctx, "x.tar", ImageRef{Name: "a", ID: "sha256:1"}); !errors.Is(err, ErrNotKind) {
		t.Errorf("LoadArchive = %v, want ErrNotKind", err)
	}
	if err := tg.Delete(ctx); !errors.Is(err, ErrNotKind) {
		t.Errorf("Delete = %v, want ErrNotKind", err)
	}
}
