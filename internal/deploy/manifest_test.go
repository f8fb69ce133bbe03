package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const kedaLike = `# a comment before the first document
---
apiVersion: v1
kind: Namespace
metadata:
  name: keda
---
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: keda-operator
  namespace: keda
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: busybox:1.36
      containers:
      - name: keda-operator
        image: ghcr.io/kedacore/keda:2.20.2
        imagePullPolicy: Always
        args: [--leader-elect]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: keda-operator-metrics-apiserver
  namespace: keda
spec:
  template:
    spec:
      containers:
      - name: keda-operator-metrics-apiserver
        image: ghcr.io/kedacore/keda-metrics-apiserver:2.20.2
        imagePullPolicy: IfNotPresent
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: a, namespace: keda}
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: b, namespace: keda}
---
{"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1beta1.external.metrics.k8s.io"}}
`

func TestDecode(t *testing.T) {
	t.Parallel()
	objs, err := Decode([]byte(kedaLike))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, describe(o))
	}
	want := []string{
		"Namespace keda",
		"Deployment keda/keda-operator",
		"Deployment keda/keda-operator-metrics-apiserver",
		"ServiceAccount keda/a",
		"ServiceAccount keda/b",
		"APIService v1beta1.external.metrics.k8s.io",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode = %q\nwant %q", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", "document 1: apiVersion and kind are required"},
		{"second bad", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\nkind: [\n", "document 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	objs, err := Decode([]byte(kedaLike))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Encode(objs)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(objs) {
		t.Fatalf("round trip: %d objects, want %d", len(back), len(objs))
	}
	for i := range objs {
		if !reflect.DeepEqual(back[i].Object, objs[i].Object) {
			t.Errorf("object %d changed:\n%v\nwant\n%v", i, back[i].Object, objs[i].Object)
		}
	}
}

func TestImagesOverridePullPolicy(t *testing.T) {
	t.Parallel()
	objs, err := Decode([]byte(kedaLike))
	if err != nil {
		t.Fatal(err)
	}
	wantImages := []string{"busybox:1.36", "ghcr.io/kedacore/keda-metrics-apiserver:2.20.2", "ghcr.io/kedacore/keda:2.20.2"}
	if got := Images(objs); !reflect.DeepEqual(got, wantImages) {
		t.Errorf("Images = %q, want %q", got, wantImages)
	}
	done := OverrideImages(objs, []string{"mirror.local:5000/kedacore/keda:v2.20.2", " ", "other/unused:1"})
	if want := []string{"ghcr.io/kedacore/keda:2.20.2 → mirror.local:5000/kedacore/keda:v2.20.2"}; !reflect.DeepEqual(done, want) {
		t.Errorf("OverrideImages = %q, want %q", done, want)
	}
	SetPullPolicy(objs, "Always", "IfNotPresent")
	var policies []string
	eachContainer(objs, func(_ *unstructured.Unstructured, c map[string]any) {
		p, _ := c["imagePullPolicy"].(string)
		policies = append(policies, c["image"].(string)+"="+p)
	})
	want := []string{
		"busybox:1.36=",
		"mirror.local:5000/kedacore/keda:v2.20.2=IfNotPresent",
		"ghcr.io/kedacore/keda-metrics-apiserver:2.20.2=IfNotPresent",
	}
	if !reflect.DeepEqual(policies, want) {
		t.Errorf("after override and pull policy: %q\nwant %q", policies, want)
	}
}

func TestImageVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ref, want string }{
		{"ghcr.io/kedacore/keda:2.20.2", "v2.20.2"},
		{"ghcr.io/kedacore/keda:v2.20.2", "v2.20.2"},
		{"ghcr.io/kedacore/keda:v2.20.2@sha256:abcd", "v2.20.2"},
		{"localhost:5000/keda:2.15.1", "v2.15.1"},
		{"localhost:5000/keda", ""},
		{"ghcr.io/kedacore/keda:latest", ""},
		{"ghcr.io/kedacore/keda:main", ""},
		{"ghcr.io/kedacore/keda@sha256:abcd", ""},
		{"keda:2", ""},
	} {
		if got := ImageVersion(tc.ref); got != tc.want {
			t.Errorf("ImageVersion(%q) = %q, want %q", tc.ref, got, tc.want)
		}
	}
}

func TestKEDAVersionOf(t *testing.T) {
	t.Parallel()
	dep := func(label, image string) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{}}}
		if label != "" {
			d.Labels["app.kubernetes.io/version"] = label
		}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "sidecar", Image: "x:9.9.9"}, {Name: "keda-operator", Image: image}}
		return d
	}
	for _, tc := range []struct {
		name, label, image, want string
	}{
		{"label wins", "2.20.2", "ghcr.io/kedacore/keda:2.19.0", "v2.20.2"},
		{"latest label falls back to the tag", "latest", "ghcr.io/kedacore/keda:v2.16.1", "v2.16.1"},
		{"no label", "", "ghcr.io/kedacore/keda:2.15.1", "v2.15.1"},
		{"unknown", "", "ghcr.io/kedacore/keda@sha256:00", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := KEDAVersionOf(dep(tc.label, tc.image)); got != tc.want {
				t.Errorf("KEDAVersionOf = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestManifestURLs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ got, want string }{
		{KEDAManifestURL("v2.20.2"), "https://github.com/kedacore/keda/releases/download/v2.20.2/keda-2.20.2.yaml"},
		{KEDAManifestURL("2.20.2"), "https://github.com/kedacore/keda/releases/download/v2.20.2/keda-2.20.2.yaml"},
		{MetricsServerManifestURL("v0.9.0"), "https://github.com/kubernetes-sigs/metrics-server/releases/download/v0.9.0/components.yaml"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

func TestKEDAOptionsFromEnv(t *testing.T) {
	t.Setenv(EnvKEDAVersion, "2.16.1")
	t.Setenv(EnvKEDAManifest, "/tmp/keda.yaml")
	t.Setenv(EnvKEDAImages, "a/keda:2.16.1  a/keda-metrics-apiserver:2.16.1\n")
	o := KEDAOptions{}.WithDefaults()
	if o.Version != "v2.16.1" || o.Manifest != "/tmp/keda.yaml" || !reflect.DeepEqual(o.Images, []string{"a/keda:2.16.1", "a/keda-metrics-apiserver:2.16.1"}) {
		t.Errorf("from env: %+v", o)
	}
	o = KEDAOptions{Version: "v2.20.2", Manifest: "x.yaml", Images: []string{}}.WithDefaults()
	if o.Version != "v2.20.2" || o.Manifest != "x.yaml" || len(o.Images) != 0 {
		t.Errorf("options must win over env: %+v", o)
	}
}

func TestKEDAOptionsDefault(t *testing.T) {
	t.Setenv(EnvKEDAVersion, "")
	t.Setenv(EnvKEDAManifest, "")
	o := KEDAOptions{}.WithDefaults()
	if o.Version != DefaultKEDAVersion || o.Manifest != KEDAManifestURL(DefaultKEDAVersion) || o.Timeout != DefaultInstallTimeout {
		t.Errorf("defaults: %+v", o)
	}
}

func TestLoadKEDAManifest(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keda.yaml")
	if err := os.WriteFile(path, []byte(kedaLike), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := LoadKEDAManifest(context.Background(), KEDAOptions{Version: "v2.20.2", Manifest: path, Images: []string{"m/keda:v2.20.2"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := Images(objs); !slices.Contains(got, "m/keda:v2.20.2") || slices.Contains(got, "ghcr.io/kedacore/keda:2.20.2") {
		t.Errorf("images after override: %q", got)
	}
	bad := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKEDAManifest(context.Background(), KEDAOptions{Manifest: bad, Images: []string{}}); err == nil || !strings.Contains(err.Error(), "no Deployment") {
		t.Errorf("manifest without Deployment: err = %v", err)
	}
	if _, err := LoadKEDAManifest(context.Background(), KEDAOptions{Manifest: filepath.Join(t.TempDir(), "missing.yaml"), Images: []string{}}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing manifest: err = %v, want ErrNotExist", err)
	}
}

const metricsServerLike = `apiVersion: apps/v1
kind: Deployment
metadata: {name: metrics-server, namespace: kube-system}
spec:
  template:
    spec:
      containers:
      - name: metrics-server
        image: registry.k8s.io/metrics-server/metrics-server:v0.9.0
        args: [--cert-dir=/tmp, --secure-port=10250]
`

func TestLoadMetricsServerManifest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plain := filepath.Join(dir, "components.yaml")
	if err := os.WriteFile(plain, []byte(metricsServerLike), 0o644); err != nil {
		t.Fatal(err)
	}
	already := filepath.Join(dir, "patched.yaml")
	if err := os.WriteFile(already, []byte(strings.Replace(metricsServerLike, "--secure-port=10250]", "--secure-port=10250, --kubelet-insecure-tls]", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		manifest string
		insecure bool
		want     []any
	}{
		{"kind adds the flag", plain, true, []any{"--cert-dir=/tmp", "--secure-port=10250", "--kubelet-insecure-tls"}},
		{"flag present once", already, true, []any{"--cert-dir=/tmp", "--secure-port=10250", "--kubelet-insecure-tls"}},
		{"other clusters unchanged", plain, false, []any{"--cert-dir=/tmp", "--secure-port=10250"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := LoadMetricsServerManifest(context.Background(), MetricsServerOptions{Manifest: tc.manifest, Image: "mirror/metrics-server:v0.9.0", KubeletInsecureTLS: tc.insecure})
			if err != nil {
				t.Fatal(err)
			}
			cs, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
			c := cs[0].(map[string]any)
			if !reflect.DeepEqual(c["args"], tc.want) {
				t.Errorf("args = %v, want %v", c["args"], tc.want)
			}
			if c["image"] != "mirror/metrics-server:v0.9.0" {
				t.Errorf("image = %v, want the override", c["image"])
			}
		})
	}
}

func TestRunSteps(t *testing.T) {
	t.Parallel()
	var events []string
	boom := errors.New("boom")
	steps := []Step{
		{Name: "one", Run: func(ctx context.Context) error { Notef(ctx, "did one"); return nil }},
		{Name: "two", Run: func(context.Context) error { return boom }},
		{Name: "three", Run: func(context.Context) error { t.Error("step after a failure ran"); return nil }},
	}
	err := RunSteps(context.Background(), steps, func(e StepEvent) {
		s := e.Name
		if e.Done {
			s += " done"
			if e.Note != "" {
				s += " (" + e.Note + ")"
			}
			if e.Err != nil {
				s += ": " + e.Err.Error()
			}
		}
		if e.Total != 3 {
			t.Errorf("Total = %d, want 3", e.Total)
		}
		events = append(events, s)
	})
	if !errors.Is(err, boom) {
		t.Errorf("RunSteps = %v, want boom", err)
	}
	want := []string{"one", "one done (did one)", "two", "two done: boom"}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events = %q\nwant %q", events, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := RunSteps(ctx, steps, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled RunSteps = %v", err)
	}
	Notef(context.Background(), "outside RunSteps: ignored")
}

func TestSettled(t *testing.T) {
	t.Parallel()
	now := metav1.NewTime(time.Now())
	pod := func(ready bool, deleting bool) corev1.Pod {
		p := corev1.Pod{}
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
		if deleting {
			p.DeletionTimestamp = &now
		}
		return p
	}
	for _, tc := range []struct {
		name string
		pods []corev1.Pod
		want int32
		done bool
	}{
		{"zero and none", nil, 0, true},
		{"zero but terminating", []corev1.Pod{pod(true, true)}, 0, false},
		{"two ready", []corev1.Pod{pod(true, false), pod(true, false)}, 2, true},
		{"one starting", []corev1.Pod{pod(true, false), pod(false, false)}, 2, false},
		{"too many", []corev1.Pod{pod(true, false), pod(true, false)}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done, status, _ := settled(tc.pods, tc.want)
			if done != tc.done {
				t.Errorf("settled = %v (%s), want %v", done, status, tc.done)
			}
		})
	}
}

func TestPodProblems(t *testing.T) {
	t.Parallel()
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "keda-operator-1"}}
	p.Status.Phase = corev1.PodPending
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:  "keda-operator",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: "image not present"}},
	}}
	got := podProblems([]corev1.Pod{p})
	want := []string{"pod keda-operator-1 Pending: container keda-operator waiting: ErrImageNeverPull image not present"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("podProblems = %q\nwant %q", got, want)
	}
}

func TestDeploymentAvailable(t *testing.T) {
	t.Parallel()
	two, zero := int32(2), int32(0)
	for _, tc := range []struct {
		name string
		d    appsv1.Deployment
		want bool
	}{
		{"ready", appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &two}, Status: appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}}, true},
		{"rolling", appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &two}, Status: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 2, AvailableReplicas: 2}}, false},
		{"old generation", appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Spec: appsv1.DeploymentSpec{Replicas: &two}, Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}}, false},
		{"scaled to zero", appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &zero}}, true},
		{"default one replica missing", appsv1.Deployment{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DeploymentAvailable(&tc.d); got != tc.want {
				t.Errorf("DeploymentAvailable = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	w := &warnings{seen: map[string]bool{}}
	c := &Client{warnings: w}
	w.HandleWarningHeader(299, "", "PollingInterval is configured but is not relevant")
	w.HandleWarningHeader(299, "", "PollingInterval is configured but is not relevant")
	w.HandleWarningHeader(199, "", "not a warning code")
	w.HandleWarningHeader(299, "", "")
	if got := c.Warnings(); !reflect.DeepEqual(got, []string{"PollingInterval is configured but is not relevant"}) {
		t.Errorf("Warnings = %q", got)
	}
	if got := c.Warnings(); len(got) != 0 {
		t.Errorf("second Warnings = %q, want none", got)
	}
	if (&Client{}).Warnings() != nil {
		t.Error("a Client without a collector has warnings")
	}
}
