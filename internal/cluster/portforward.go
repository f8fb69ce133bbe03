package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Forward is a running port-forward from a local port to a pod, as
// `kubectl port-forward` makes one. It reaches in-cluster services (Redis,
// the fake inference server) from the harness on any target.
type Forward struct {
	// Addr is the local address, "127.0.0.1:PORT".
	Addr string
	// Pod is the namespace/name of the pod it forwards to.
	Pod string

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	err      error
	errOut   bytes.Buffer
	mu       sync.Mutex
}

// Close stops the forward; it is safe to call more than once.
func (f *Forward) Close() {
	f.stopOnce.Do(func() { close(f.stop) })
	<-f.done
}

// Done is closed when the forward has stopped (Close, ctx ended, or the pod
// went away); Err then says why.
func (f *Forward) Done() <-chan struct{} { return f.done }

// Err returns why the forward stopped, or nil while it runs or after Close.
func (f *Forward) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// PortForward forwards a free local port to port on a pod in namespace ns
// and returns once the forward is ready. target is a Service name (a Ready
// pod behind it is picked) or "pod/NAME". The forward stops when ctx ends or
// Close is called; a forward whose pod goes away stops too (see Done), and
// the caller opens a new one.
func (t *Target) PortForward(ctx context.Context, ns, target string, port int) (*Forward, error) {
	what := fmt.Sprintf("port-forward to %s/%s:%d", ns, target, port)
	pod, err := t.pickPod(ctx, ns, target)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	url := t.Clientset.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(t.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var dialer httpstream.Dialer = spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	if ws, err := portforward.NewSPDYOverWebsocketDialer(url, t.Config); err == nil {
		dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
	}
	f := &Forward{Pod: ns + "/" + pod, stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, f.stop, ready, nil, &f.errOut)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	go func() {
		err := fw.ForwardPorts()
		f.mu.Lock()
		if err == nil {
			select {
			case <-f.stop:
			default:
				err = errors.New("forward stopped: " + strings.TrimSpace(f.errOut.String()))
			}
		}
		f.err = err
		f.mu.Unlock()
		close(f.done)
	}()
	select {
	case <-ready:
	case <-f.done:
		return nil, fmt.Errorf("%s (pod %s): %w", what, pod, f.Err())
	case <-ctx.Done():
		f.Close()
		return nil, fmt.Errorf("%s: %w", what, ctx.Err())
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		f.Close()
		return nil, fmt.Errorf("%s: no local port: %v", what, err)
	}
	f.Addr = "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
	go func() {
		select {
		case <-ctx.Done():
			f.Close()
		case <-f.done:
		}
	}()
	return f, nil
}

// pickPod returns the pod target names: "pod/NAME", or a Running, Ready pod
// selected by Service target.
func (t *Target) pickPod(ctx context.Context, ns, target string) (string, error) {
	if name, ok := strings.CutPrefix(target, "pod/"); ok {
		return name, nil
	}
	name := strings.TrimPrefix(target, "svc/")
	svc, err := t.Clientset.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if len(svc.Spec.Selector) == 0 {
		return "", fmt.Errorf("service %s/%s has no selector", ns, name)
	}
	pods, err := t.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return "", err
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && podReady(&p) {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("service %s/%s has no Ready pod", ns, name)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
