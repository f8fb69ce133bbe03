package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
)

// applyOrder ranks kinds for applying: namespaces and CRDs first, so that the
// objects in them and of their kinds can follow; everything else keeps the
// manifest's order.
func applyOrder(kind string) int {
	switch kind {
	case "Namespace":
		return 0
	case "CustomResourceDefinition":
		return 1
	default:
		return 2
	}
}

// crdEstablishTimeout bounds the wait for applied CRDs to be served.
const crdEstablishTimeout = time.Minute

// Apply server-side applies objs with field manager "burst", forcing
// ownership of conflicting fields (as `kubectl apply --server-side
// --force-conflicts`). Namespaced objects without a namespace go to
// defaultNamespace. Namespaces and CRDs are applied first, and the CRDs are
// waited for (Established) before the rest. Transient API errors are retried
// briefly. objs is not modified.
func (c *Client) Apply(ctx context.Context, objs []*unstructured.Unstructured, defaultNamespace string) error {
	sorted := slices.Clone(objs)
	slices.SortStableFunc(sorted, func(a, b *unstructured.Unstructured) int {
		return applyOrder(a.GetKind()) - applyOrder(b.GetKind())
	})
	split := slices.IndexFunc(sorted, func(o *unstructured.Unstructured) bool { return applyOrder(o.GetKind()) > 1 })
	if split < 0 {
		split = len(sorted)
	}
	var crds []string
	for _, o := range sorted[:split] {
		if err := c.applyOne(ctx, o, defaultNamespace); err != nil {
			return err
		}
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o.GetName())
		}
	}
	for _, name := range crds {
		if err := c.WaitCRDEstablished(ctx, name, crdEstablishTimeout); err != nil {
			return err
		}
	}
	if len(crds) > 0 {
		c.Mapper.Reset()
	}
	for _, o := range sorted[split:] {
		if err := c.applyOne(ctx, o, defaultNamespace); err != nil {
			return err
		}
	}
	return nil
}

// ApplyManifest decodes a multi-document YAML manifest and applies it (see
// Apply).
func (c *Client) ApplyManifest(ctx context.Context, manifest []byte, defaultNamespace string) error {
	objs, err := Decode(manifest)
	if err != nil {
		return err
	}
	return c.Apply(ctx, objs, defaultNamespace)
}

func (c *Client) applyOne(ctx context.Context, o *unstructured.Unstructured, defaultNamespace string) error {
	gvk := o.GroupVersionKind()
	mapping, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		// A kind installed moments ago (a CRD) or discovery cached before it.
		c.Mapper.Reset()
		mapping, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return fmt.Errorf("apply %s: %s is not served by the cluster: %w", describe(o), gvk, err)
	}
	o = o.DeepCopy()
	ri := c.Dynamic.Resource(mapping.Resource)
	var apply func() error
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := o.GetNamespace()
		if ns == "" {
			ns = defaultNamespace
		}
		if ns == "" {
			return fmt.Errorf("apply %s: namespaced object without a namespace", describe(o))
		}
		o.SetNamespace(ns)
		apply = func() error {
			_, err := ri.Namespace(ns).Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
			return err
		}
	} else {
		o.SetNamespace("")
		apply = func() error {
			_, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
			return err
		}
	}
	if err := retryTransient(ctx, apply); err != nil {
		return fmt.Errorf("apply %s: %w", describe(o), err)
	}
	return nil
}

// retryTransient runs f until it succeeds, fails with a permanent error, or
// about half a minute of transient errors (API server busy, a webhook not
// answering yet, a dropped connection) has passed.
func retryTransient(ctx context.Context, f func() error) error {
	var last error
	backoff := wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Steps: 6, Cap: 10 * time.Second}
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(context.Context) (bool, error) {
		last = f()
		if last == nil {
			return true, nil
		}
		if transient(last) {
			return false, nil
		}
		return false, last
	})
	if err != nil && last != nil && !errors.Is(err, last) {
		return fmt.Errorf("%w (gave up retrying: %v)", last, err)
	}
	return err
}

// transient reports whether err is worth retrying.
func transient(err error) bool {
	var netErr net.Error
	return apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || errors.As(err, &netErr)
}

// toUnstructured converts a typed object (with TypeMeta set) into an
// unstructured one fit for apply: no status, no creationTimestamp.
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
	return u, nil
}

// mustUnstructured is toUnstructured for objects built in this package,
// which always convert.
func mustUnstructured(obj runtime.Object) *unstructured.Unstructured {
	u, err := toUnstructured(obj)
	if err != nil {
		panic(fmt.Sprintf("deploy: convert %T: %v", obj, err))
	}
	return u
}
