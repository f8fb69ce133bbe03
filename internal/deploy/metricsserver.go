package deploy

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DefaultMetricsServerVersion is the metrics-server version installed by
// default (supports Kubernetes 1.34+).
const DefaultMetricsServerVersion = "v0.9.0"

// Environment variables that configure the metrics-server install when the
// matching option is empty (the sandbox exports them).
const (
	EnvMetricsServerManifest = "BURST_METRICS_SERVER_MANIFEST"
	EnvMetricsServerImage    = "BURST_METRICS_SERVER_IMAGE"
)

// Resource metrics names.
const (
	MetricsAPI    = "metrics.k8s.io/v1beta1"
	MetricsAPISvc = "v1beta1.metrics.k8s.io"
)

// MetricsServerManifestURL returns the official release manifest of version.
func MetricsServerManifestURL(version string) string {
	return fmt.Sprintf("https://github.com/kubernetes-sigs/metrics-server/releases/download/%s/components.yaml", normalizeVersion(version))
}

// MetricsServerOptions configure InstallMetricsServer. metrics-server serves
// metrics.k8s.io, which the `cpu` trigger's HorizontalPodAutoscaler needs.
type MetricsServerOptions struct {
	// Version is used for the default manifest URL; empty means
	// DefaultMetricsServerVersion.
	Version string
	// Manifest is the install manifest, a file path or URL; empty means
	// $BURST_METRICS_SERVER_MANIFEST, else the release manifest of Version.
	Manifest string
	// Image overrides the metrics-server image; empty means
	// $BURST_METRICS_SERVER_IMAGE, else the manifest's.
	Image string
	// KubeletInsecureTLS adds --kubelet-insecure-tls, needed on kind, whose
	// kubelets serve self-signed certificates.
	KubeletInsecureTLS bool
	// NoInstall only waits for an existing metrics API; a missing one is an
	// error.
	NoInstall bool
	// Reinstall applies the manifest even when metrics.k8s.io is already
	// registered.
	Reinstall bool
	// Timeout bounds each wait; zero means DefaultInstallTimeout.
	Timeout time.Duration
}

// WithDefaults returns o with every empty field filled from the environment
// or the built-in default.
func (o MetricsServerOptions) WithDefaults() MetricsServerOptions {
	if o.Version == "" {
		o.Version = DefaultMetricsServerVersion
	}
	if o.Manifest == "" {
		o.Manifest = os.Getenv(EnvMetricsServerManifest)
	}
	if o.Manifest == "" {
		o.Manifest = MetricsServerManifestURL(o.Version)
	}
	if o.Image == "" {
		o.Image = os.Getenv(EnvMetricsServerImage)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultInstallTimeout
	}
	return o
}

// MetricsServerStatus says what InstallMetricsServer found or did.
type MetricsServerStatus struct {
	// Present is true when the metrics.k8s.io APIService was registered before.
	Present bool
	// Applied is true when the manifest was applied in this call.
	Applied bool
}

// LoadMetricsServerManifest reads o.Manifest and prepares it for applying:
// image override, IfNotPresent pulls, --kubelet-insecure-tls when asked.
func LoadMetricsServerManifest(ctx context.Context, o MetricsServerOptions) ([]*unstructured.Unstructured, error) {
	o = o.WithDefaults()
	var images []string
	if o.Image != "" {
		images = []string{o.Image}
	}
	objs, err := loadInstallManifest(ctx, o.Manifest, "a metrics-server manifest", images)
	if err != nil {
		return nil, err
	}
	if o.KubeletInsecureTLS {
		eachContainer(ofKind(objs, "Deployment"), func(_ *unstructured.Unstructured, c map[string]any) {
			if c["name"] != "metrics-server" {
				return
			}
			args, _ := c["args"].([]any)
			if !slices.ContainsFunc(args, func(a any) bool { s, _ := a.(string); return strings.HasPrefix(s, "--kubelet-insecure-tls") }) {
				c["args"] = append(args, "--kubelet-insecure-tls")
			}
		})
	}
	return objs, nil
}

// InstallMetricsServer makes sure the resource metrics API
// (metrics.k8s.io/v1beta1) answers: an existing registration is kept unless
// Reinstall, otherwise the manifest is applied, then the Deployments and the
// APIService are waited for.
func (c *Client) InstallMetricsServer(ctx context.Context, o MetricsServerOptions) (MetricsServerStatus, error) {
	o = o.WithDefaults()
	what := "install metrics-server " + normalizeVersion(o.Version)
	var st MetricsServerStatus
	_, err := c.Dynamic.Resource(gvrAPIService).Get(ctx, MetricsAPISvc, metav1.GetOptions{})
	switch {
	case err == nil:
		st.Present = true
	case !apierrors.IsNotFound(err):
		return st, fmt.Errorf("%s: get APIService %s: %w", what, MetricsAPISvc, err)
	}
	if o.NoInstall && !st.Present {
		return st, fmt.Errorf("use existing metrics-server: APIService %s is not registered and installing metrics-server is turned off", MetricsAPISvc)
	}
	if !st.Present || o.Reinstall && !o.NoInstall {
		objs, err := LoadMetricsServerManifest(ctx, o)
		if err != nil {
			return st, fmt.Errorf("%s: %w", what, err)
		}
		if err := c.Apply(ctx, objs, "kube-system"); err != nil {
			return st, fmt.Errorf("%s: %w", what, err)
		}
		st.Applied = true
		for _, d := range ofKind(objs, "Deployment") {
			if err := c.WaitDeploymentAvailable(ctx, orElse(d.GetNamespace(), "kube-system"), d.GetName(), o.Timeout); err != nil {
				return st, fmt.Errorf("%s: %w", what, err)
			}
		}
	} else {
		what = "check metrics-server"
	}
	if err := c.WaitAPIServiceAvailable(ctx, MetricsAPISvc, o.Timeout); err != nil {
		return st, fmt.Errorf("%s: %w", what, err)
	}
	if err := c.WaitAPIServed(ctx, MetricsAPI, o.Timeout); err != nil {
		return st, fmt.Errorf("%s: %w", what, err)
	}
	return st, nil
}
