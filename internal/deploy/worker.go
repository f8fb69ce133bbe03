package deploy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/burstbench/burst/fakeinference"
	"github.com/burstbench/burst/scenario"
)

// Worker defaults.
const (
	DefaultWorkerName = "worker"
	WorkerPort        = 8080
	// APIKeySecretKey is the key of the API key in an inference Secret.
	APIKeySecretKey = "api-key"
)

// WorkerOptions configure the worker Deployment and its scaler.
type WorkerOptions struct {
	// Scenario supplies the worker, inference and scaler settings; it must
	// have its defaults applied (scenario.Load does).
	Scenario *scenario.Scenario
	// Name of the Deployment and of its ScaledObject or HPA; empty means
	// DefaultWorkerName.
	Name string
	// Namespace; empty means the scenario's, else DefaultNamespace.
	Namespace string
	// Image is the worker image; required.
	Image string
	// RedisAddr is Redis as the pods (and KEDA) reach it; empty means
	// RedisOptions{Namespace}.Addr().
	RedisAddr string
	// InferenceURL is the OpenAI base URL the workers call; empty means the
	// scenario's endpoint, else the fake server in Namespace.
	InferenceURL string
	// APIKey, when set, is stored in a Secret NAME-api-key and passed to
	// the workers as INFERENCE_API_KEY (scenario inference.apiKeySecret
	// names an existing Secret instead).
	APIKey string
	// RunID labels the pods (burst.dev/run) so observers can tell runs apart.
	RunID string
}

func (o WorkerOptions) withDefaults() (WorkerOptions, error) {
	if o.Scenario == nil {
		return o, errors.New("worker: no scenario")
	}
	if o.Image == "" {
		return o, errors.New("worker: no image (build it with `burst images` or pass one)")
	}
	o.Name = orElse(o.Name, DefaultWorkerName)
	o.Namespace = orElse(o.Namespace, orElse(o.Scenario.Namespace, DefaultNamespace))
	if o.RedisAddr == "" {
		o.RedisAddr = RedisOptions{Namespace: o.Namespace}.Addr()
	}
	if o.InferenceURL == "" {
		o.InferenceURL = o.Scenario.Inference.Endpoint
	}
	if o.InferenceURL == "" {
		o.InferenceURL = FakeInferenceOptions{Namespace: o.Namespace}.URL()
	}
	return o, nil
}

// Model returns the model name the workers send: the scenario's
// inference.model, else the fake server's model (its "model" override or
// its default).
func Model(s *scenario.Scenario) string {
	if s.Inference.Model != "" {
		return s.Inference.Model
	}
	if m := s.Inference.Fake["model"]; m != "" {
		return m
	}
	return fakeinference.DefaultConfig().Model
}

// ShutdownGrace returns the worker's SHUTDOWN_GRACE for a pod grace period:
// 5 s less (20 % less below 25 s), so the worker stops before the kubelet
// kills it.
func ShutdownGrace(terminationGrace time.Duration) time.Duration {
	margin := 5 * time.Second
	if terminationGrace < 25*time.Second {
		margin = terminationGrace / 5
	}
	return (terminationGrace - margin).Round(100 * time.Millisecond)
}

// WorkerEnv returns the worker container's environment for o: Redis, the
// stream prefix (the worker and the ScaledObject both derive the key names
// from it with queue.KeysFor), slots, inference endpoint and
// model, retry, reclaim and shutdown settings; then the scenario's
// worker.env, which overrides any of them.
func WorkerEnv(o WorkerOptions) ([]corev1.EnvVar, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	s := o.Scenario
	w := s.Worker
	env := []corev1.EnvVar{
		{Name: "REDIS_ADDR", Value: o.RedisAddr},
		{Name: "STREAM_PREFIX", Value: s.Redis.Prefix},
		{Name: "CONSUMER_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "CONCURRENCY", Value: strconv.Itoa(w.Concurrency)},
		{Name: "READ_COUNT", Value: strconv.Itoa(w.ReadCount)},
		{Name: "INFERENCE_ENDPOINT", Value: o.InferenceURL},
		{Name: "MODEL_NAME", Value: Model(s)},
		{Name: "MAX_RETRIES", Value: strconv.Itoa(w.MaxRetries)},
		{Name: "MAX_DELIVERIES", Value: strconv.Itoa(w.MaxDeliveries)},
		{Name: "HTTP_ADDR", Value: ":" + strconv.Itoa(WorkerPort)},
		{Name: "LOG_FORMAT", Value: "json"},
	}
	dur := func(name string, d time.Duration) {
		if d > 0 {
			env = append(env, corev1.EnvVar{Name: name, Value: d.String()})
		}
	}
	dur("CALL_TIMEOUT", w.CallTimeout.Duration)
	dur("RECLAIM_MIN_IDLE", w.ReclaimMinIdle.Duration)
	dur("SHUTDOWN_GRACE", ShutdownGrace(w.TerminationGracePeriod.Duration))
	dur("STARTUP_DELAY", w.StartupDelay.Duration)
	switch {
	case s.Inference.APIKeySecret != "":
		env = append(env, secretEnv("INFERENCE_API_KEY", s.Inference.APIKeySecret))
	case o.APIKey != "":
		env = append(env, secretEnv("INFERENCE_API_KEY", o.Name+"-api-key"))
	}
	for _, k := range slices.Sorted(maps.Keys(w.Env)) {
		v := corev1.EnvVar{Name: k, Value: w.Env[k]}
		if i := slices.IndexFunc(env, func(e corev1.EnvVar) bool { return e.Name == k }); i >= 0 {
			env[i] = v
		} else {
			env = append(env, v)
		}
	}
	return env, nil
}

func secretEnv(name, secret string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: APIKeySecretKey,
	}}}
}

// Resources parses the scenario's worker resources ("10m", "24Mi").
func Resources(r scenario.Resources) (corev1.ResourceRequirements, error) {
	var out corev1.ResourceRequirements
	parse := func(field string, in map[string]string) (corev1.ResourceList, error) {
		if len(in) == 0 {
			return nil, nil
		}
		l := corev1.ResourceList{}
		for _, k := range slices.Sorted(maps.Keys(in)) {
			q, err := resource.ParseQuantity(in[k])
			if err != nil {
				return nil, fmt.Errorf("worker.resources.%s.%s: %q is not a quantity (e.g. 10m, 24Mi)", field, k, in[k])
			}
			l[corev1.ResourceName(k)] = q
		}
		return l, nil
	}
	var err error
	if out.Requests, err = parse("requests", r.Requests); err != nil {
		return out, err
	}
	if out.Limits, err = parse("limits", r.Limits); err != nil {
		return out, err
	}
	return out, nil
}

// InitialReplicas is the worker Deployment's replica count when applied:
// the scaler's minReplicaCount, or worker.replicas for the fixed trigger
// "none".
func InitialReplicas(s *scenario.Scenario) int32 {
	if s.Scaler.Trigger == scenario.TriggerNone {
		return int32(s.Worker.Replicas)
	}
	return s.Scaler.Min()
}

// WorkerObjects renders the worker Deployment for o (plus the API key
// Secret when o.APIKey is set): the scenario's environment, resources and
// terminationGracePeriodSeconds, a readiness probe on /readyz every second
// (the scale-up figures count from Ready), and InitialReplicas replicas. The
// scaling object comes from ScalerObjects.
func WorkerObjects(o WorkerOptions) ([]*unstructured.Unstructured, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	s := o.Scenario
	env, err := WorkerEnv(o)
	if err != nil {
		return nil, err
	}
	res, err := Resources(s.Worker.Resources)
	if err != nil {
		return nil, err
	}
	lbl := labels(o.Name, "worker")
	lbl["burst.dev/scenario"] = labelValue(s.Name)
	podLbl := maps.Clone(lbl)
	if o.RunID != "" {
		podLbl["burst.dev/run"] = labelValue(o.RunID)
	}
	replicas := InitialReplicas(s)
	grace := int64(s.Worker.TerminationGracePeriod.Seconds())
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: lbl},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector(o.Name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLbl},
				Spec: corev1.PodSpec{
					EnableServiceLinks:            ptr(false),
					TerminationGracePeriodSeconds: &grace,
					SecurityContext:               restrictedPod(),
					Containers: []corev1.Container{{
						Name:            "worker",
						Image:           o.Image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Env:             env,
						Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: WorkerPort, Protocol: corev1.ProtocolTCP}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}},
							PeriodSeconds:    1,
							FailureThreshold: 2,
						},
						LivenessProbe: &corev1.Probe{
							ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
							InitialDelaySeconds: int32(s.Worker.StartupDelay.Seconds()) + 10,
							PeriodSeconds:       10,
							FailureThreshold:    3,
						},
						Resources:       res,
						SecurityContext: restrictedContainer(),
					}},
				},
			},
		},
	}
	objs := []*unstructured.Unstructured{mustUnstructured(d)}
	if o.APIKey != "" && s.Inference.APIKeySecret == "" {
		objs = append(objs, mustUnstructured(&corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: o.Name + "-api-key", Namespace: o.Namespace, Labels: labels(o.Name, "worker")},
			Type:       corev1.SecretTypeOpaque,
			StringData: map[string]string{APIKeySecretKey: o.APIKey},
		}))
	}
	return objs, nil
}

// labelValue cuts s to a valid label value (63 characters, alphanumeric at
// both ends, else "-._").
func labelValue(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '-'
		}
	}
	if len(b) > 63 {
		b = b[:63]
	}
	isAlnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	for len(b) > 0 && !isAlnum(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && !isAlnum(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return string(b)
}
