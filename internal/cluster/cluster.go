package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
)

// Target types, as summary.json's "target" field names them.
const (
	TypeKind    = "kind"    // a kind cluster: nodes are local containers, images can be loaded
	TypeCluster = "cluster" // any other cluster reached through a kubeconfig
)

// DefaultName is the kind cluster name used when Options.Name is empty.
const DefaultName = "burst"

// DefaultWait bounds the wait for a new or reused kind cluster to be ready
// when Options.Wait is zero.
const DefaultWait = 5 * time.Minute

// EnvNodeImage names the environment variable that supplies the kind node
// image when Options.NodeImage is empty (the sandbox exports it).
const EnvNodeImage = "BURST_KIND_NODE_IMAGE"

// DefaultNodeImage is the node image used when neither Options.NodeImage nor
// $BURST_KIND_NODE_IMAGE is set. kind v0.33's own default runs Kubernetes
// 1.37, which the pinned KEDA (v2.20, Kubernetes 1.33–1.35) does not support.
const DefaultNodeImage = "kindest/node:v1.34.0"

// Options configure Create.
type Options struct {
	// Name is the kind cluster name; empty means DefaultName.
	Name string
	// ConfigPath is a kind config file (kind-config.yaml); empty means kind's
	// default of one control-plane node. A name inside the file is ignored in
	// favour of Name.
	ConfigPath string
	// NodeImage is the node image; empty means $BURST_KIND_NODE_IMAGE, and
	// when that is unset too, DefaultNodeImage (pulled on first use).
	// It overrides every node's image in the config file.
	NodeImage string
	// Wait bounds the wait for the nodes to be Ready and CoreDNS Available;
	// zero means DefaultWait, negative means do not wait.
	Wait time.Duration
	// Retain keeps the node containers when creation fails, for debugging.
	Retain bool
	// KubeconfigPath is where kind merges the new cluster's kubeconfig; empty
	// means kind's default ($KUBECONFIG, else ~/.kube/config). Reusing a
	// cluster does not touch any kubeconfig file.
	KubeconfigPath string
	// Log receives kind's progress lines; nil discards them.
	Log io.Writer
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.NodeImage == "" {
		o.NodeImage = os.Getenv(EnvNodeImage)
	}
	if o.NodeImage == "" {
		o.NodeImage = DefaultNodeImage
	}
	if o.Wait == 0 {
		o.Wait = DefaultWait
	}
	return o
}

// ConnectOptions name an existing cluster.
type ConnectOptions struct {
	// Kubeconfig is the kubeconfig file; empty means the usual loading rules
	// ($KUBECONFIG, else ~/.kube/config).
	Kubeconfig string
	// Context is the kubeconfig context; empty means the current context.
	Context string
	// Timeout bounds the first request to the API server; zero means 30s.
	Timeout time.Duration
}

// Target is a cluster burst runs against.
type Target struct {
	// Type is TypeKind or TypeCluster.
	Type string
	// Name is the kind cluster name, or the kubeconfig context of an existing
	// cluster.
	Name string
	// Created is true when Create made a new kind cluster, false when it reused
	// one (and for connected clusters).
	Created bool
	// Config reaches the API server; Clientset is built from it.
	Config    *rest.Config
	Clientset kubernetes.Interface

	kubeconfig []byte
	provider   *kindcluster.Provider // nil unless the nodes are local kind nodes
	log        io.Writer
}

// Kubeconfig returns a kubeconfig document that reaches the target (for kind,
// the cluster's own kubeconfig as `kind get kubeconfig` prints it).
func (t *Target) Kubeconfig() []byte { return slices.Clone(t.kubeconfig) }

// WriteKubeconfig writes Kubeconfig to path with mode 0600, for tools that
// want a file (kubectl, e2e-framework).
func (t *Target) WriteKubeconfig(path string) error {
	if err := os.WriteFile(path, t.kubeconfig, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig of %s %q: %w", t.Type, t.Name, err)
	}
	return nil
}

// ServerVersion returns the API server's version (e.g. "v1.34.4").
func (t *Target) ServerVersion(ctx context.Context) (string, error) {
	return serverVersion(ctx, t.Clientset)
}

// Create creates the kind cluster o.Name, or reuses it when it exists, and
// returns it as a Target once it is ready (see Options.Wait). Create is
// idempotent. If ctx ends while kind is still creating the cluster, Create
// returns ctx's error and kind finishes (or cleans up) in the background; run
// Delete to remove what is left.
func Create(ctx context.Context, o Options) (*Target, error) {
	o = o.withDefaults()
	p := newProvider(o.Log)
	exists, err := exists(ctx, p, o.Name)
	if err != nil {
		return nil, fmt.Errorf("create kind cluster %q: %w", o.Name, err)
	}
	created := false
	if !exists {
		opts := []kindcluster.CreateOption{
			kindcluster.CreateWithRetain(o.Retain),
			kindcluster.CreateWithDisplayUsage(false),
			kindcluster.CreateWithDisplaySalutation(false),
		}
		if o.ConfigPath != "" {
			opts = append(opts, kindcluster.CreateWithConfigFile(o.ConfigPath))
		}
		if o.NodeImage != "" {
			opts = append(opts, kindcluster.CreateWithNodeImage(o.NodeImage))
		}
		if o.KubeconfigPath != "" {
			opts = append(opts, kindcluster.CreateWithKubeconfigPath(o.KubeconfigPath))
		}
		if o.Wait > 0 {
			opts = append(opts, kindcluster.CreateWithWaitForReady(o.Wait))
		}
		err := do(ctx, func() error { return p.Create(o.Name, opts...) })
		if errors.Is(err, ctx.Err()) && ctx.Err() != nil {
			return nil, fmt.Errorf("create kind cluster %q: %w (kind goes on in the background; delete the cluster to clean up)", o.Name, err)
		}
		if err != nil {
			return nil, fmt.Errorf("create kind cluster %q (node image %s): %w", o.Name, orDefault(o.NodeImage, "kind's default"), err)
		}
		created = true
	}
	t, err := kindTarget(ctx, p, o.Name, o.Log)
	if err != nil {
		return nil, err
	}
	t.Created = created
	if o.Wait > 0 {
		if err := WaitReady(ctx, t.Clientset, o.Wait); err != nil {
			return nil, fmt.Errorf("kind cluster %q: %w", o.Name, err)
		}
	}
	return t, nil
}

// Open returns the existing kind cluster name as a Target without creating
// or waiting for anything.
func Open(ctx context.Context, name string, log io.Writer) (*Target, error) {
	if name == "" {
		name = DefaultName
	}
	p := newProvider(log)
	ok, err := exists(ctx, p, name)
	if err != nil {
		return nil, fmt.Errorf("open kind cluster %q: %w", name, err)
	}
	if !ok {
		return nil, fmt.Errorf("open kind cluster %q: %w", name, ErrNotFound)
	}
	return kindTarget(ctx, p, name, log)
}

// ErrNotFound reports that a kind cluster does not exist.
var ErrNotFound = errors.New("no such kind cluster")

// Exists reports whether the kind cluster name exists.
func Exists(ctx context.Context, name string) (bool, error) {
	ok, err := exists(ctx, newProvider(nil), name)
	if err != nil {
		return false, fmt.Errorf("list kind clusters: %w", err)
	}
	return ok, nil
}

// Delete deletes the kind cluster name and removes it from the kubeconfig at
// kubeconfigPath (empty: kind's default). Deleting a missing cluster is not an
// error.
func Delete(ctx context.Context, name, kubeconfigPath string) error {
	if name == "" {
		name = DefaultName
	}
	p := newProvider(nil)
	if err := do(ctx, func() error { return p.Delete(name, kubeconfigPath) }); err != nil {
		return fmt.Errorf("delete kind cluster %q: %w", name, err)
	}
	return nil
}

// Connect returns an existing cluster as a Target; it creates nothing. When
// the context is a kind context ("kind-NAME") whose cluster runs on this
// machine, the Target is a kind target and images can be loaded into it.
func Connect(ctx context.Context, o ConnectOptions) (*Target, error) {
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.Kubeconfig != "" {
		rules.ExplicitPath = o.Kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context})
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", orDefault(o.Kubeconfig, "(default)"), err)
	}
	name := o.Context
	if name == "" {
		name = raw.CurrentContext
	}
	what := fmt.Sprintf("cluster of context %q", name)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", what, err)
	}
	t, err := newTarget(TypeCluster, name, cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", what, err)
	}
	if cfgs, err := clientcmd.Write(minify(raw, name)); err == nil {
		t.kubeconfig = cfgs
	}
	vctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if _, err := t.ServerVersion(vctx); err != nil {
		return nil, fmt.Errorf("connect to %s at %s: %w", what, cfg.Host, err)
	}
	if kindName, ok := strings.CutPrefix(name, "kind-"); ok {
		p := newProvider(nil)
		if ok, err := exists(ctx, p, kindName); err == nil && ok {
			t.Type, t.Name, t.provider = TypeKind, kindName, p
		}
	}
	return t, nil
}

func kindTarget(ctx context.Context, p *kindcluster.Provider, name string, log io.Writer) (*Target, error) {
	var kc string
	err := do(ctx, func() (err error) { kc, err = p.KubeConfig(name, false); return err })
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of kind cluster %q (are its node containers running? `docker ps -a --filter label=io.x-k8s.kind.cluster=%s`; delete and recreate it if not): %w", name, name, err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of kind cluster %q: %w", name, err)
	}
	t, err := newTarget(TypeKind, name, cfg, p)
	if err != nil {
		return nil, fmt.Errorf("kind cluster %q: %w", name, err)
	}
	t.kubeconfig = []byte(kc)
	t.log = log
	return t, nil
}

func newTarget(typ, name string, cfg *rest.Config, p *kindcluster.Provider) (*Target, error) {
	cfg = rest.CopyConfig(cfg)
	// Deploying, watching and sampling make bursts of requests; client-go's
	// defaults (5 QPS, burst 10) would throttle them.
	if cfg.QPS == 0 {
		cfg.QPS = 50
	}
	if cfg.Burst == 0 {
		cfg.Burst = 100
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return &Target{Type: typ, Name: name, Config: cfg, Clientset: cs, provider: p}, nil
}

func newProvider(w io.Writer) *kindcluster.Provider {
	opts := []kindcluster.ProviderOption{kindcluster.ProviderWithLogger(newLogger(w))}
	if rt, err := kindcluster.DetectNodeProvider(); err == nil && rt != nil {
		opts = append(opts, rt)
	} else {
		opts = append(opts, kindcluster.ProviderWithDocker())
	}
	return kindcluster.NewProvider(opts...)
}

func exists(ctx context.Context, p *kindcluster.Provider, name string) (bool, error) {
	var names []string
	err := do(ctx, func() (err error) { names, err = p.List(); return err })
	if err != nil {
		return false, err
	}
	return slices.Contains(names, name), nil
}

// do runs f, which cannot be cancelled, in a goroutine and returns its error,
// or ctx's error as soon as ctx ends (f then finishes on its own).
func do(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
