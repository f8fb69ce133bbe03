package deploy

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/burstbench/burst/scenario"
)

var gvrScaledObject = schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}

// DefaultWorkerTimeout bounds DeployWorkers and Reset waits when no timeout is
// given.
const DefaultWorkerTimeout = 3 * time.Minute

// DeployWorkers applies the worker Deployment and its scaling object
// (WorkerObjects and ScalerObjects), then waits until the Deployment has its
// initial replicas available and, for KEDA modes, the ScaledObject reports
// Ready (KEDA could reach Redis and read the stream: create the stream and
// consumer group first). Run Reset before, so the scaler starts fresh.
func (c *Client) DeployWorkers(ctx context.Context, o WorkerOptions, timeout time.Duration) error {
	if timeout == 0 {
		timeout = DefaultWorkerTimeout
	}
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	what := fmt.Sprintf("deploy workers %s/%s (trigger %s)", o.Namespace, o.Name, o.Scenario.Scaler.Trigger)
	workers, err := WorkerObjects(o)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	scaler, err := ScalerObjects(o)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	objs := append([]*unstructured.Unstructured{NamespaceObject(o.Namespace)}, workers...)
	if err := c.Apply(ctx, objs, o.Namespace); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := c.WaitDeploymentAvailable(ctx, o.Namespace, o.Name, timeout); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	// A ScaledObject and an HPA on the same Deployment fight (KEDA's webhook
	// rejects the pair); drop a scaler of the other kind left by a run that
	// skipped Reset.
	if err := c.deleteOtherScalers(ctx, o, scaler, timeout); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if len(scaler) == 0 {
		return nil
	}
	if scaler[0].GetKind() == ScaledObjectKind {
		if _, err := c.Dynamic.Resource(gvrCRD).Get(ctx, ScaledObjectCRD, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return fmt.Errorf("%s: the ScaledObject CRD %s is not installed (run burst up): %w", what, ScaledObjectCRD, ErrKEDAMissing)
		}
	}
	if err := c.Apply(ctx, scaler, o.Namespace); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if scaler[0].GetKind() == ScaledObjectKind {
		if err := c.WaitScaledObjectReady(ctx, o.Namespace, o.Name, timeout); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// deleteOtherScalers deletes the scaling objects of Deployment o.Name that
// are not of the kind in want (all of them when want is empty).
func (c *Client) deleteOtherScalers(ctx context.Context, o WorkerOptions, want []*unstructured.Unstructured, timeout time.Duration) error {
	kind := ""
	if len(want) > 0 {
		kind = want[0].GetKind()
	}
	switch kind {
	case ScaledObjectKind:
		return c.deleteAndWait(ctx, o.Namespace, []scalerRef{{hpa: true, name: o.Name}}, timeout)
	case "HorizontalPodAutoscaler":
		return c.deleteAndWait(ctx, o.Namespace, []scalerRef{{name: o.Name}, {hpa: true, name: KEDAHPAName(o.Name)}}, timeout)
	default:
		return c.deleteScalers(ctx, o.Namespace, o.Name, timeout)
	}
}

// WaitScaledObjectReady waits until ScaledObject ns/name reports Ready=True.
func (c *Client) WaitScaledObjectReady(ctx context.Context, ns, name string, timeout time.Duration) error {
	return waitFor(ctx, fmt.Sprintf("ScaledObject %s/%s Ready", ns, name), timeout, func(ctx context.Context) (bool, string, error) {
		u, err := c.Dynamic.Resource(gvrScaledObject).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, "not found", nil
		}
		if err != nil {
			return false, err.Error(), nil
		}
		return conditionTrue(u, "Ready")
	})
}

// ResetOptions configure Reset.
type ResetOptions struct {
	// Namespace and Name of the worker Deployment; empty means
	// DefaultNamespace and DefaultWorkerName.
	Namespace, Name string
	// Replicas to scale to (the next scenario's InitialReplicas).
	Replicas int32
	// Timeout bounds each wait; zero means DefaultWorkerTimeout.
	Timeout time.Duration
}

// ResetFor returns the ResetOptions that prepare the worker Deployment for
// scenario s.
func ResetFor(s *scenario.Scenario) ResetOptions {
	return ResetOptions{Namespace: s.Namespace, Replicas: InitialReplicas(s)}
}

// Reset prepares the worker Deployment for the next run: it deletes the
// scaling objects (the ScaledObject, KEDA's HPA for it, a CPU HPA) so the
// next scaler starts without the HPA's history (stabilization windows,
// last scale time), scales the Deployment to o.Replicas, and waits until
// exactly that many pods exist, all Ready, none terminating. A missing
// Deployment is already reset. Emptying the streams is internal/queue's job.
func (c *Client) Reset(ctx context.Context, o ResetOptions) error {
	o.Namespace = orElse(o.Namespace, DefaultNamespace)
	o.Name = orElse(o.Name, DefaultWorkerName)
	if o.Timeout == 0 {
		o.Timeout = DefaultWorkerTimeout
	}
	what := fmt.Sprintf("reset workers %s/%s to %d replicas", o.Namespace, o.Name, o.Replicas)
	if err := c.deleteScalers(ctx, o.Namespace, o.Name, o.Timeout); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	d, err := c.Kube.AppsV1().Deployments(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != o.Replicas {
		patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, o.Replicas)
		_, err := c.Kube.AppsV1().Deployments(o.Namespace).Patch(ctx, o.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager + "-reset"})
		if err != nil {
			return fmt.Errorf("%s: scale: %w", what, err)
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	err = waitFor(ctx, fmt.Sprintf("%d worker pods Ready and none terminating", o.Replicas), o.Timeout, func(ctx context.Context) (bool, string, error) {
		pods, err := c.Kube.CoreV1().Pods(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return false, err.Error(), nil
		}
		return settled(pods.Items, o.Replicas)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// settled reports whether pods are exactly want Ready pods with none
// terminating, and what is left otherwise.
func settled(pods []corev1.Pod, want int32) (bool, string, error) {
	var ready, notReady, terminating int32
	for _, p := range pods {
		switch {
		case p.DeletionTimestamp != nil:
			terminating++
		case podReady(&p):
			ready++
		default:
			notReady++
		}
	}
	if ready == want && notReady == 0 && terminating == 0 {
		return true, "", nil
	}
	return false, fmt.Sprintf("%d ready, %d not ready, %d terminating", ready, notReady, terminating), nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// scalerRef names a ScaledObject, or an HPA when hpa is set.
type scalerRef struct {
	hpa  bool
	name string
}

// deleteScalers deletes the ScaledObject name, KEDA's HPA for it and an HPA
// name, and waits until they are gone.
func (c *Client) deleteScalers(ctx context.Context, ns, name string, timeout time.Duration) error {
	return c.deleteAndWait(ctx, ns, []scalerRef{{name: name}, {hpa: true, name: KEDAHPAName(name)}, {hpa: true, name: name}}, timeout)
}

// deleteAndWait deletes refs in ns (missing ones, or a missing ScaledObject
// CRD, are fine) and waits until each is gone.
func (c *Client) deleteAndWait(ctx context.Context, ns string, refs []scalerRef, timeout time.Duration) error {
	so := c.Dynamic.Resource(gvrScaledObject).Namespace(ns)
	hpas := c.Kube.AutoscalingV2().HorizontalPodAutoscalers(ns)
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	for _, r := range refs {
		what := "ScaledObject " + ns + "/" + r.name
		del := func(ctx context.Context) error { return so.Delete(ctx, r.name, opts) }
		get := func(ctx context.Context) error { _, err := so.Get(ctx, r.name, metav1.GetOptions{}); return err }
		if r.hpa {
			what = "HorizontalPodAutoscaler " + ns + "/" + r.name
			del = func(ctx context.Context) error { return hpas.Delete(ctx, r.name, opts) }
			get = func(ctx context.Context) error { _, err := hpas.Get(ctx, r.name, metav1.GetOptions{}); return err }
		}
		// NotFound also covers a missing ScaledObject CRD (no KEDA).
		err := del(ctx)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("delete %s: %w", what, err)
		}
		err = waitFor(ctx, what+" deleted", timeout, func(ctx context.Context) (bool, string, error) {
			err := get(ctx)
			if apierrors.IsNotFound(err) {
				return true, "", nil
			}
			if err != nil {
				return false, err.Error(), nil
			}
			return false, "still there (a finalizer: is its controller running?)", nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// DeleteWorkers deletes the worker Deployment name in ns with its scaling
// objects and API key Secret, and waits for the scalers to be gone.
func (c *Client) DeleteWorkers(ctx context.Context, ns, name string, timeout time.Duration) error {
	ns = orElse(ns, DefaultNamespace)
	name = orElse(name, DefaultWorkerName)
	if timeout == 0 {
		timeout = DefaultWorkerTimeout
	}
	what := fmt.Sprintf("delete workers %s/%s", ns, name)
	if err := c.deleteScalers(ctx, ns, name, timeout); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	bg := metav1.DeletePropagationBackground
	err := c.Kube.AppsV1().Deployments(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	err = c.Kube.CoreV1().Secrets(ns).Delete(ctx, name+"-api-key", metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// DeleteNamespace deletes namespace ns (Redis, the fake server, the
// workers) and waits until it is gone; a missing namespace is not an error.
func (c *Client) DeleteNamespace(ctx context.Context, ns string, timeout time.Duration) error {
	if timeout == 0 {
		timeout = DefaultWorkerTimeout
	}
	err := c.Kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	err = wait.PollUntilContextTimeout(ctx, pollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := c.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("delete namespace %s: wait until gone (timeout %s): %w", ns, timeout, err)
	}
	return nil
}
