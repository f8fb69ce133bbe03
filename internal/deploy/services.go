package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DefaultNamespace is where burst deploys Redis, the fake inference server
// and the workers unless told otherwise.
const DefaultNamespace = "burst"

// Redis defaults.
const (
	EnvRedisImage     = "BURST_REDIS_IMAGE"
	DefaultRedisImage = "redis:7.2"
	DefaultRedisName  = "redis"
	RedisPort         = 6379
)

// Fake inference server defaults.
const (
	DefaultFakeInferenceName = "fakeinference"
	FakeInferencePort        = 8000
)

// labels returns the labels of component name.
func labels(name, component string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":       name,
		"app.kubernetes.io/component":  component,
		"app.kubernetes.io/part-of":    "burst",
		"app.kubernetes.io/managed-by": "burst",
	}
}

// selector returns the pod selector of component name (a subset of labels
// that never changes, as Deployment selectors are immutable).
func selector(name string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "burst"}
}

// NamespaceObject returns the Namespace ns, labelled as burst's.
func NamespaceObject(ns string) *unstructured.Unstructured {
	return mustUnstructured(&corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"app.kubernetes.io/part-of": "burst"}},
	})
}

// RedisOptions configure the Redis Deployment and Service.
type RedisOptions struct {
	// Namespace; empty means DefaultNamespace.
	Namespace string
	// Name of the Deployment and Service; empty means DefaultRedisName.
	Name string
	// Image; empty means $BURST_REDIS_IMAGE, else DefaultRedisImage.
	Image string
	// Resources of the container; empty means requests of 50m CPU and 64Mi.
	Resources corev1.ResourceRequirements
	// Timeout bounds the wait for the Deployment; zero means DefaultInstallTimeout.
	Timeout time.Duration
}

// WithDefaults returns o with every empty field filled.
func (o RedisOptions) WithDefaults() RedisOptions {
	o.Namespace = orElse(o.Namespace, DefaultNamespace)
	o.Name = orElse(o.Name, DefaultRedisName)
	o.Image = orElse(o.Image, orElse(os.Getenv(EnvRedisImage), DefaultRedisImage))
	if o.Resources.Requests == nil && o.Resources.Limits == nil {
		o.Resources.Requests = corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("50m"),
			corev1.ResourceMemory: resource.MustParse("64Mi"),
		}
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultInstallTimeout
	}
	return o
}

// Addr returns the in-cluster address of Redis: "redis.burst.svc:6379".
func (o RedisOptions) Addr() string {
	o = o.WithDefaults()
	return fmt.Sprintf("%s.%s.svc:%d", o.Name, o.Namespace, RedisPort)
}

// RedisObjects renders Redis: a one-replica Deployment without persistence
// (no RDB snapshots, no AOF: nothing stalls a measurement) and a ClusterIP
// Service.
func RedisObjects(o RedisOptions) []*unstructured.Unstructured {
	o = o.WithDefaults()
	lbl := labels(o.Name, "queue")
	one := int32(1)
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: lbl},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: selector(o.Name)},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{
					EnableServiceLinks: ptr(false),
					Containers: []corev1.Container{{
						Name:            "redis",
						Image:           o.Image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            []string{"redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no"},
						Ports:           []corev1.ContainerPort{{Name: "redis", ContainerPort: RedisPort, Protocol: corev1.ProtocolTCP}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("redis")}},
							PeriodSeconds: 2,
						},
						Resources: o.Resources,
					}},
				},
			},
		},
	}
	return []*unstructured.Unstructured{mustUnstructured(d), service(o.Name, o.Namespace, lbl, "redis", RedisPort)}
}

// service renders a ClusterIP Service for component name on port.
func service(name, ns string, lbl map[string]string, portName string, port int32) *unstructured.Unstructured {
	return mustUnstructured(&corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbl},
		Spec: corev1.ServiceSpec{
			Selector: selector(name),
			Ports:    []corev1.ServicePort{{Name: portName, Port: port, TargetPort: intstr.FromString(portName), Protocol: corev1.ProtocolTCP}},
		},
	})
}

// InstallRedis applies the namespace and RedisObjects and waits for Redis to
// be Available.
func (c *Client) InstallRedis(ctx context.Context, o RedisOptions) error {
	o = o.WithDefaults()
	what := fmt.Sprintf("install Redis (%s) in namespace %s", o.Image, o.Namespace)
	objs := append([]*unstructured.Unstructured{NamespaceObject(o.Namespace)}, RedisObjects(o)...)
	if err := c.Apply(ctx, objs, o.Namespace); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := c.WaitDeploymentAvailable(ctx, o.Namespace, o.Name, o.Timeout); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// FakeInferenceOptions configure the fake inference server's Deployment and
// Service.
type FakeInferenceOptions struct {
	// Namespace; empty means DefaultNamespace.
	Namespace string
	// Name of the Deployment and Service; empty means DefaultFakeInferenceName.
	Name string
	// Image is the fakeinference image (internal/images); required.
	Image string
	// Preset is passed as --preset (empty: the server's default).
	Preset string
	// Flags override preset settings by flag name ("inter-token-latency":
	// "12ms" → --inter-token-latency=12ms). "port" also moves the Service's
	// target.
	Flags map[string]string
	// Resources of the container; empty means requests of 50m CPU and 32Mi.
	Resources corev1.ResourceRequirements
	// Timeout bounds the wait for the Deployment; zero means DefaultInstallTimeout.
	Timeout time.Duration
}

// WithDefaults returns o with every empty field filled.
func (o FakeInferenceOptions) WithDefaults() FakeInferenceOptions {
	o.Namespace = orElse(o.Namespace, DefaultNamespace)
	o.Name = orElse(o.Name, DefaultFakeInferenceName)
	if o.Resources.Requests == nil && o.Resources.Limits == nil {
		o.Resources.Requests = corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("50m"),
			corev1.ResourceMemory: resource.MustParse("32Mi"),
		}
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultInstallTimeout
	}
	return o
}

// port returns the server's port: Flags["port"] or FakeInferencePort.
func (o FakeInferenceOptions) port() (int32, error) {
	p, ok := o.Flags["port"]
	if !ok {
		return FakeInferencePort, nil
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("fake inference flag port=%q is not a TCP port", p)
	}
	return int32(n), nil
}

// URL returns the in-cluster OpenAI base URL of the fake server:
// "http://fakeinference.burst.svc:8000/v1".
func (o FakeInferenceOptions) URL() string {
	o = o.WithDefaults()
	return fmt.Sprintf("http://%s.%s.svc:%d/v1", o.Name, o.Namespace, FakeInferencePort)
}

// FakeInferenceObjects renders the fake inference server: a one-replica
// Deployment running the image with --preset and the flag overrides (sorted
// by name), ready when /readyz answers, and a Service on port 8000.
func FakeInferenceObjects(o FakeInferenceOptions) ([]*unstructured.Unstructured, error) {
	o = o.WithDefaults()
	if o.Image == "" {
		return nil, errors.New("fake inference server: no image (build it with `burst images` or pass one)")
	}
	port, err := o.port()
	if err != nil {
		return nil, err
	}
	var args []string
	if o.Preset != "" {
		args = append(args, "--preset="+o.Preset)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Flags)) {
		if k == "preset" {
			continue
		}
		args = append(args, "--"+k+"="+o.Flags[k])
	}
	if _, ok := o.Flags["port"]; !ok {
		args = append(args, "--port="+strconv.Itoa(int(port)))
	}
	lbl := labels(o.Name, "inference")
	one := int32(1)
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: lbl},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: selector(o.Name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{
					EnableServiceLinks: ptr(false),
					SecurityContext:    restrictedPod(),
					Containers: []corev1.Container{{
						Name:            "fakeinference",
						Image:           o.Image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            args,
						Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: port, Protocol: corev1.ProtocolTCP}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}},
							PeriodSeconds: 2,
						},
						LivenessProbe: &corev1.Probe{
							ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
							PeriodSeconds:    10,
							FailureThreshold: 6,
						},
						Resources:       o.Resources,
						SecurityContext: restrictedContainer(),
					}},
				},
			},
		},
	}
	svc := service(o.Name, o.Namespace, lbl, "http", FakeInferencePort)
	return []*unstructured.Unstructured{mustUnstructured(d), svc}, nil
}

// InstallFakeInference applies the namespace and FakeInferenceObjects and
// waits for the server to be Available (its /readyz answering).
func (c *Client) InstallFakeInference(ctx context.Context, o FakeInferenceOptions) error {
	o = o.WithDefaults()
	what := fmt.Sprintf("install fake inference server (%s, preset %s) in namespace %s", o.Image, orElse(o.Preset, "default"), o.Namespace)
	objs, err := FakeInferenceObjects(o)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	objs = append([]*unstructured.Unstructured{NamespaceObject(o.Namespace)}, objs...)
	if err := c.Apply(ctx, objs, o.Namespace); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := c.WaitDeploymentAvailable(ctx, o.Namespace, o.Name, o.Timeout); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// restrictedPod is the pod security context of burst's own images (they run
// as nonroot 65532 from scratch).
func restrictedPod() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr(true),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// restrictedContainer is the container security context of burst's images.
func restrictedContainer() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr(false),
		ReadOnlyRootFilesystem:   ptr(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

func ptr[T any](v T) *T { return &v }
