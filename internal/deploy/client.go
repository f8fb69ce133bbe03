package deploy

import (
	"fmt"
	"sync"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the server-side apply field manager of everything burst
// applies.
const FieldManager = "burst"

// Client bundles the clients deploy needs for one cluster.
type Client struct {
	// Kube is the typed clientset.
	Kube kubernetes.Interface
	// Dynamic applies and reads arbitrary objects.
	Dynamic dynamic.Interface
	// Discovery answers API group questions (is external.metrics.k8s.io served?).
	Discovery discovery.DiscoveryInterface
	// Mapper maps kinds to resources; Reset after installing CRDs.
	Mapper *restmapper.DeferredDiscoveryRESTMapper

	warnings *warnings
}

// warnings collects the API server's warnings (KEDA's admission webhook
// sends some: "PollingInterval is configured but is not relevant …")
// instead of letting client-go log them to stderr.
type warnings struct {
	mu   sync.Mutex
	seen map[string]bool
	list []string
}

func (w *warnings) HandleWarningHeader(code int, _ string, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.seen[text] {
		w.seen[text] = true
		w.list = append(w.list, text)
	}
}

// Warnings returns the API server warnings received since the last call,
// each once, and forgets them.
func (c *Client) Warnings() []string {
	if c.warnings == nil {
		return nil
	}
	c.warnings.mu.Lock()
	defer c.warnings.mu.Unlock()
	out := c.warnings.list
	c.warnings.list = nil
	c.warnings.seen = map[string]bool{}
	return out
}

// NewClient builds a Client from cfg. API server warnings are collected (see
// Warnings) rather than logged.
func NewClient(cfg *rest.Config) (*Client, error) {
	w := &warnings{seen: map[string]bool{}}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = w
	cfg.WarningHandlerWithContext = nil
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	return &Client{
		Kube:      kube,
		Dynamic:   dyn,
		Discovery: disc,
		Mapper:    restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
		warnings:  w,
	}, nil
}
