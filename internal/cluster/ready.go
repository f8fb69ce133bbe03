package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// pollInterval is how often the readiness waits look again.
const pollInterval = time.Second

// WaitReady waits until the API server answers, every node is Ready and the
// kube-system/coredns Deployment (when there is one) has all its replicas
// available, for at most timeout. The error names what was still missing.
func WaitReady(ctx context.Context, cs kubernetes.Interface, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, pollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		last = readiness(ctx, cs)
		return last == "", nil
	})
	if err != nil {
		if last == "" {
			last = err.Error()
		}
		return fmt.Errorf("wait for cluster ready (timeout %s): %s: %w", timeout, last, err)
	}
	return nil
}

// readiness returns "" when the cluster is ready, else what it is waiting for.
func readiness(ctx context.Context, cs kubernetes.Interface) string {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "list nodes: " + err.Error()
	}
	if len(nodes.Items) == 0 {
		return "no nodes registered"
	}
	var notReady []string
	for _, n := range nodes.Items {
		if !nodeReady(&n) {
			notReady = append(notReady, n.Name)
		}
	}
	if len(notReady) > 0 {
		return "nodes not Ready: " + strings.Join(notReady, ", ")
	}
	d, err := cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	switch {
	case err != nil && isNotFound(err):
		return ""
	case err != nil:
		return "get deployment kube-system/coredns: " + err.Error()
	case !deploymentAvailable(d):
		return fmt.Sprintf("deployment kube-system/coredns: %d/%d replicas available", d.Status.AvailableReplicas, replicas(d))
	}
	return ""
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	return d.Status.ObservedGeneration >= d.Generation &&
		d.Status.UpdatedReplicas >= replicas(d) &&
		d.Status.AvailableReplicas >= replicas(d)
}

func isNotFound(err error) bool {
	var s interface{ Status() metav1.Status }
	return errors.As(err, &s) && s.Status().Reason == metav1.StatusReasonNotFound
}

func serverVersion(ctx context.Context, cs kubernetes.Interface) (string, error) {
	// Discovery's ServerVersion takes no context; a raw GET does.
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return "", fmt.Errorf("get /version: %w", err)
	}
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("decode /version: %w", err)
	}
	return v.GitVersion, nil
}

// minify returns the part of raw that context name needs, with credentials
// from files embedded, so it stands on its own.
func minify(raw clientcmdapi.Config, name string) clientcmdapi.Config {
	c := *raw.DeepCopy()
	c.CurrentContext = name
	if err := clientcmdapi.MinifyConfig(&c); err != nil {
		return raw
	}
	if err := clientcmdapi.FlattenConfig(&c); err != nil {
		return raw
	}
	return c
}
