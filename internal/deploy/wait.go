package deploy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
)

// pollInterval is how often the waits look again.
const pollInterval = time.Second

var (
	gvrAPIService = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
	gvrCRD        = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

// waitFor polls check every second until it reports done, fails, or timeout
// passes. On timeout the error names what (e.g. "deployment keda/keda-operator
// Available") and the last status check returned.
func waitFor(ctx context.Context, what string, timeout time.Duration, check func(ctx context.Context) (done bool, status string, err error)) error {
	var status string
	err := wait.PollUntilContextTimeout(ctx, pollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		done, s, err := check(ctx)
		if s != "" {
			status = s
		}
		return done, err
	})
	if err == nil {
		return nil
	}
	if status == "" {
		return fmt.Errorf("wait for %s (timeout %s): %w", what, timeout, err)
	}
	return fmt.Errorf("wait for %s (timeout %s): last seen: %s: %w", what, timeout, status, err)
}

// WaitDeploymentAvailable waits until Deployment ns/name has observed its
// latest spec and all its replicas are updated and available. On timeout the
// error includes the Deployment's status and why its pods are not ready.
func (c *Client) WaitDeploymentAvailable(ctx context.Context, ns, name string, timeout time.Duration) error {
	return waitFor(ctx, fmt.Sprintf("deployment %s/%s Available", ns, name), timeout, func(ctx context.Context) (bool, string, error) {
		d, err := c.Kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, "not found", nil
		}
		if err != nil {
			return false, err.Error(), nil
		}
		if DeploymentAvailable(d) {
			return true, "", nil
		}
		return false, c.deploymentStatus(ctx, d), nil
	})
}

// DeploymentAvailable reports whether d has observed its latest spec and all
// its desired replicas are updated and available.
func DeploymentAvailable(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation &&
		d.Status.UpdatedReplicas >= want &&
		d.Status.AvailableReplicas >= want &&
		d.Status.Replicas == d.Status.UpdatedReplicas
}

// deploymentStatus summarises d and its pods for an error message.
func (c *Client) deploymentStatus(ctx context.Context, d *appsv1.Deployment) string {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	parts := []string{fmt.Sprintf("%d/%d available, %d updated", d.Status.AvailableReplicas, want, d.Status.UpdatedReplicas)}
	for _, cond := range d.Status.Conditions {
		if cond.Status != corev1.ConditionTrue && cond.Message != "" {
			parts = append(parts, fmt.Sprintf("%s=%s: %s", cond.Type, cond.Status, cond.Message))
		}
	}
	if d.Spec.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err == nil {
			pods, err := c.Kube.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
			if err == nil {
				parts = append(parts, podProblems(pods.Items)...)
			}
		}
	}
	return strings.Join(parts, "; ")
}

// podProblems describes why pods are not ready: "pod x: container y waiting:
// ErrImageNeverPull: …".
func podProblems(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		var why []string
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status != corev1.ConditionTrue {
				why = append(why, "unschedulable: "+cond.Message)
			}
		}
		for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
			switch {
			case cs.State.Waiting != nil:
				w := cs.State.Waiting
				why = append(why, fmt.Sprintf("container %s waiting: %s %s", cs.Name, w.Reason, w.Message))
			case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0:
				t := cs.State.Terminated
				why = append(why, fmt.Sprintf("container %s terminated: %s (exit %d) %s", cs.Name, t.Reason, t.ExitCode, t.Message))
			case !cs.Ready:
				why = append(why, fmt.Sprintf("container %s not ready (restarts %d)", cs.Name, cs.RestartCount))
			}
		}
		if len(why) > 0 {
			out = append(out, fmt.Sprintf("pod %s %s: %s", p.Name, p.Status.Phase, strings.TrimSpace(strings.Join(why, ", "))))
		}
	}
	sort.Strings(out)
	return out
}

// WaitAPIServiceAvailable waits until the APIService name (e.g.
// "v1beta1.external.metrics.k8s.io") reports Available=True.
func (c *Client) WaitAPIServiceAvailable(ctx context.Context, name string, timeout time.Duration) error {
	return waitFor(ctx, fmt.Sprintf("APIService %s Available", name), timeout, func(ctx context.Context) (bool, string, error) {
		u, err := c.Dynamic.Resource(gvrAPIService).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, "not found", nil
		}
		if err != nil {
			return false, err.Error(), nil
		}
		return conditionTrue(u, "Available")
	})
}

// WaitCRDEstablished waits until the CustomResourceDefinition name (e.g.
// "scaledobjects.keda.sh") reports Established=True.
func (c *Client) WaitCRDEstablished(ctx context.Context, name string, timeout time.Duration) error {
	return waitFor(ctx, fmt.Sprintf("CRD %s Established", name), timeout, func(ctx context.Context) (bool, string, error) {
		u, err := c.Dynamic.Resource(gvrCRD).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, "not found", nil
		}
		if err != nil {
			return false, err.Error(), nil
		}
		return conditionTrue(u, "Established")
	})
}

// conditionTrue reports whether u's status condition typ is True, and its
// reason and message otherwise.
func conditionTrue(u *unstructured.Unstructured, typ string) (bool, string, error) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != typ {
			continue
		}
		if m["status"] == "True" {
			return true, "", nil
		}
		return false, fmt.Sprintf("%s=%v: %v: %v", typ, m["status"], m["reason"], m["message"]), nil
	}
	return false, typ + " condition not reported yet", nil
}

// WaitAPIServed waits until the API server answers discovery for
// groupVersion (e.g. "external.metrics.k8s.io/v1beta1"), which for an
// aggregated API means the backing server answers.
func (c *Client) WaitAPIServed(ctx context.Context, groupVersion string, timeout time.Duration) error {
	return waitFor(ctx, fmt.Sprintf("API %s to answer", groupVersion), timeout, func(ctx context.Context) (bool, string, error) {
		if err := c.apiServed(ctx, groupVersion); err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
}

// apiServed GETs /apis/GROUP/VERSION (or /api/v1) once.
func (c *Client) apiServed(ctx context.Context, groupVersion string) error {
	path := "/apis/" + groupVersion
	if groupVersion == "v1" {
		path = "/api/v1"
	}
	_, err := c.Discovery.RESTClient().Get().AbsPath(path).Do(ctx).Raw()
	return err
}
