package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DefaultKEDAVersion is the KEDA version burst installs by default: the
// newest that supports Kubernetes 1.34 and builds in the air-gapped sandbox.
const DefaultKEDAVersion = "v2.20.2"

// Environment variables that configure the KEDA install when the matching
// option is empty (the sandbox exports them).
const (
	EnvKEDAVersion  = "BURST_KEDA_VERSION"
	EnvKEDAManifest = "BURST_KEDA_MANIFEST"
	EnvKEDAImages   = "BURST_KEDA_IMAGES" // space-separated image references
)

// KEDA names burst relies on.
const (
	ScaledObjectCRD       = "scaledobjects.keda.sh"
	ExternalMetricsAPI    = "external.metrics.k8s.io/v1beta1"
	ExternalMetricsAPISvc = "v1beta1.external.metrics.k8s.io"
	kedaOperator          = "keda-operator"
)

// DefaultInstallTimeout bounds each wait of an install when no timeout is
// given. KEDA's pods restart once on a fresh install (certificates).
const DefaultInstallTimeout = 5 * time.Minute

// KEDAManifestURL returns the official release manifest of version
// ("v2.20.2" → https://github.com/kedacore/keda/releases/download/v2.20.2/keda-2.20.2.yaml).
func KEDAManifestURL(version string) string {
	v := normalizeVersion(version)
	return fmt.Sprintf("https://github.com/kedacore/keda/releases/download/%s/keda-%s.yaml", v, strings.TrimPrefix(v, "v"))
}

// ErrKEDAMissing reports that KEDA (its ScaledObject CRD) is not installed and
// installing it is turned off.
var ErrKEDAMissing = errors.New("KEDA is not installed")

// KEDAOptions configure InstallKEDA.
type KEDAOptions struct {
	// Version is the KEDA version to install; empty means $BURST_KEDA_VERSION,
	// else DefaultKEDAVersion.
	Version string
	// Manifest is the install manifest, a file path or URL; empty means
	// $BURST_KEDA_MANIFEST, else the official release manifest of Version.
	Manifest string
	// Images override the manifest's images by repository name (see
	// OverrideImages); nil means the fields of $BURST_KEDA_IMAGES.
	Images []string
	// NoInstall only detects KEDA and waits for it; a missing ScaledObject CRD
	// is ErrKEDAMissing.
	NoInstall bool
	// Reinstall applies the manifest even when a KEDA (of any version) is
	// already there; without it an existing KEDA is kept as it is.
	Reinstall bool
	// Timeout bounds each wait; zero means DefaultInstallTimeout.
	Timeout time.Duration
}

// WithDefaults returns o with every empty field filled from the environment
// or the built-in default.
func (o KEDAOptions) WithDefaults() KEDAOptions {
	if o.Version == "" {
		o.Version = os.Getenv(EnvKEDAVersion)
	}
	if o.Version == "" {
		o.Version = DefaultKEDAVersion
	}
	o.Version = orElse(normalizeVersion(o.Version), o.Version)
	if o.Manifest == "" {
		o.Manifest = os.Getenv(EnvKEDAManifest)
	}
	if o.Manifest == "" {
		o.Manifest = KEDAManifestURL(o.Version)
	}
	if o.Images == nil {
		o.Images = strings.Fields(os.Getenv(EnvKEDAImages))
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultInstallTimeout
	}
	return o
}

// KEDAStatus describes the KEDA of a cluster.
type KEDAStatus struct {
	// CRD is true when the ScaledObject CRD exists.
	CRD bool
	// Present is true when the KEDA operator Deployment was found.
	Present bool
	// Namespace and OperatorImage locate the operator.
	Namespace     string
	OperatorImage string
	// Version is the running version ("v2.20.2"), from the operator's
	// app.kubernetes.io/version label or image tag; "" when unknown.
	Version string
	// Applied is true when InstallKEDA applied the manifest in this call.
	Applied bool
}

// String says what was found: "KEDA v2.20.2 in namespace keda".
func (s KEDAStatus) String() string {
	switch {
	case s.Present:
		return fmt.Sprintf("KEDA %s in namespace %s", orElse(s.Version, "(unknown version)"), s.Namespace)
	case s.CRD:
		return "KEDA CRDs without a running operator"
	default:
		return "no KEDA"
	}
}

// DetectKEDA looks for the ScaledObject CRD and the KEDA operator Deployment
// (label app.kubernetes.io/name=keda-operator, as the release manifest and
// the Helm chart set it) in every namespace.
func (c *Client) DetectKEDA(ctx context.Context) (KEDAStatus, error) {
	var st KEDAStatus
	_, err := c.Dynamic.Resource(gvrCRD).Get(ctx, ScaledObjectCRD, metav1.GetOptions{})
	switch {
	case err == nil:
		st.CRD = true
	case !apierrors.IsNotFound(err):
		return st, fmt.Errorf("detect KEDA: get CRD %s: %w", ScaledObjectCRD, err)
	}
	var found *appsv1.Deployment
	for _, sel := range []string{"app.kubernetes.io/name=keda-operator", "app=keda-operator"} {
		list, err := c.Kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return st, fmt.Errorf("detect KEDA: list deployments %s: %w", sel, err)
		}
		if len(list.Items) > 0 {
			found = &list.Items[0]
			break
		}
	}
	if found == nil {
		return st, nil
	}
	st.Present = true
	st.Namespace = found.Namespace
	st.OperatorImage = operatorImage(found)
	st.Version = KEDAVersionOf(found)
	return st, nil
}

// operatorImage returns the image of the operator container (named
// keda-operator, else the first container).
func operatorImage(d *appsv1.Deployment) string {
	cs := d.Spec.Template.Spec.Containers
	for _, c := range cs {
		if c.Name == kedaOperator {
			return c.Image
		}
	}
	if len(cs) > 0 {
		return cs[0].Image
	}
	return ""
}

// KEDAVersionOf returns the KEDA version of an operator Deployment: its
// app.kubernetes.io/version label when that is a version, else its image tag;
// "" when neither says.
func KEDAVersionOf(d *appsv1.Deployment) string {
	if v := normalizeVersion(d.Labels["app.kubernetes.io/version"]); v != "" {
		return v
	}
	return ImageVersion(operatorImage(d))
}

// LoadKEDAManifest reads o.Manifest and prepares it for applying: image
// overrides, and imagePullPolicy Always turned into IfNotPresent (the
// images are pinned versions, and loaded images must not be pulled).
func LoadKEDAManifest(ctx context.Context, o KEDAOptions) ([]*unstructured.Unstructured, error) {
	o = o.WithDefaults()
	return loadInstallManifest(ctx, o.Manifest, "a KEDA install manifest", o.Images)
}

// loadInstallManifest reads and decodes an install manifest (a file or URL)
// that must hold a Deployment, applies the image overrides and turns
// imagePullPolicy Always into IfNotPresent.
func loadInstallManifest(ctx context.Context, src, what string, images []string) ([]*unstructured.Unstructured, error) {
	raw, err := ReadManifest(ctx, src)
	if err != nil {
		return nil, err
	}
	objs, err := Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", src, err)
	}
	if len(ofKind(objs, "Deployment")) == 0 {
		return nil, fmt.Errorf("manifest %s has no Deployment: is it %s?", src, what)
	}
	OverrideImages(objs, images)
	SetPullPolicy(objs, "Always", "IfNotPresent")
	return objs, nil
}

// InstallKEDA makes sure KEDA runs and serves the external metrics API:
//
//   - with NoInstall, a missing ScaledObject CRD is ErrKEDAMissing;
//   - an existing KEDA is kept (whatever its version) unless Reinstall;
//   - otherwise the manifest is applied.
//
// Then it waits for the operator, metrics apiserver and admission webhooks
// Deployments, the external metrics APIService, and for
// external.metrics.k8s.io/v1beta1 to answer. It returns what it found or
// installed.
func (c *Client) InstallKEDA(ctx context.Context, o KEDAOptions) (KEDAStatus, error) {
	o = o.WithDefaults()
	what := "install KEDA " + o.Version
	st, err := c.DetectKEDA(ctx)
	if err != nil {
		return st, fmt.Errorf("%s: %w", what, err)
	}
	if o.NoInstall {
		what = "use existing KEDA"
		if !st.CRD {
			return st, fmt.Errorf("%s: the ScaledObject CRD %s is not in the cluster and installing KEDA is turned off; install KEDA (e.g. %s) or let burst install it: %w",
				what, ScaledObjectCRD, KEDAManifestURL(o.Version), ErrKEDAMissing)
		}
		if !st.Present {
			return st, fmt.Errorf("%s: the ScaledObject CRD exists but no KEDA operator Deployment (label app.kubernetes.io/name=keda-operator) was found: %w", what, ErrKEDAMissing)
		}
	}
	var waits []func(context.Context) error
	if st.Present && !o.Reinstall || o.NoInstall {
		what = "check " + st.String()
		// The release manifest and the Helm chart label every KEDA
		// Deployment (operator, metrics apiserver, admission webhooks) so.
		list, err := c.Kube.AppsV1().Deployments(st.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=keda-operator"})
		if err != nil {
			return st, fmt.Errorf("%s: list deployments: %w", what, err)
		}
		var names []string
		for _, d := range list.Items {
			names = append(names, d.Name)
		}
		if len(names) == 0 {
			names = []string{kedaOperator}
		}
		for _, name := range names {
			waits = append(waits, func(ctx context.Context) error {
				return c.WaitDeploymentAvailable(ctx, st.Namespace, name, o.Timeout)
			})
		}
	} else {
		objs, err := LoadKEDAManifest(ctx, o)
		if err != nil {
			return st, fmt.Errorf("%s: %w", what, err)
		}
		if err := c.Apply(ctx, objs, "keda"); err != nil {
			return st, fmt.Errorf("%s: %w", what, err)
		}
		st.Applied = true
		for _, d := range ofKind(objs, "Deployment") {
			waits = append(waits, func(ctx context.Context) error {
				return c.WaitDeploymentAvailable(ctx, orElse(d.GetNamespace(), "keda"), d.GetName(), o.Timeout)
			})
		}
		for _, a := range ofKind(objs, "APIService") {
			waits = append(waits, func(ctx context.Context) error {
				return c.WaitAPIServiceAvailable(ctx, a.GetName(), o.Timeout)
			})
		}
	}
	waits = append(waits, func(ctx context.Context) error {
		return c.WaitAPIServed(ctx, ExternalMetricsAPI, o.Timeout)
	})
	for _, w := range waits {
		if err := w(ctx); err != nil {
			return st, fmt.Errorf("%s: %w", what, err)
		}
	}
	if st.Applied || !st.Present {
		now, err := c.DetectKEDA(ctx)
		if err != nil {
			return st, fmt.Errorf("%s: %w", what, err)
		}
		now.Applied = st.Applied
		st = now
	}
	return st, nil
}

// orElse returns s, or def when s is empty.
func orElse(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
