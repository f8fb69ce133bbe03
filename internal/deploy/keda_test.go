package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

// fakeClient returns a Client over fake clientsets holding objs (typed) and
// crds (names of CustomResourceDefinitions).
func fakeClient(t *testing.T, objs []runtime.Object, crds ...string) *Client {
	t.Helper()
	var dyn []runtime.Object
	for _, name := range crds {
		dyn = append(dyn, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{"name": name},
		}})
	}
	scheme := runtime.NewScheme()
	lists := map[schema.GroupVersionResource]string{
		gvrCRD:          "CustomResourceDefinitionList",
		gvrAPIService:   "APIServiceList",
		gvrScaledObject: "ScaledObjectList",
	}
	return &Client{
		Kube:    kubefake.NewClientset(objs...),
		Dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, lists, dyn...),
	}
}

func operator(ns, versionLabel, image string) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{
		Name: "keda-operator", Namespace: ns,
		Labels: map[string]string{"app.kubernetes.io/name": "keda-operator"},
	}}
	if versionLabel != "" {
		d.Labels["app.kubernetes.io/version"] = versionLabel
	}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "keda-operator", Image: image}}
	return d
}

func TestDetectKEDA(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		objs []runtime.Object
		crds []string
		want KEDAStatus
	}{
		{"nothing", nil, nil, KEDAStatus{}},
		{"CRD only", nil, []string{ScaledObjectCRD}, KEDAStatus{CRD: true}},
		{"release manifest", []runtime.Object{operator("keda", "2.20.2", "ghcr.io/kedacore/keda:2.20.2")}, []string{ScaledObjectCRD},
			KEDAStatus{CRD: true, Present: true, Namespace: "keda", OperatorImage: "ghcr.io/kedacore/keda:2.20.2", Version: "v2.20.2"}},
		{"helm in another namespace, version from the tag", []runtime.Object{operator("platform", "", "mirror/keda:v2.16.1")}, []string{ScaledObjectCRD},
			KEDAStatus{CRD: true, Present: true, Namespace: "platform", OperatorImage: "mirror/keda:v2.16.1", Version: "v2.16.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := fakeClient(t, tc.objs, tc.crds...).DetectKEDA(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("DetectKEDA = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestInstallKEDANoInstallMissing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		objs []runtime.Object
		crds []string
		want string
	}{
		{"no CRD", nil, nil, "the ScaledObject CRD scaledobjects.keda.sh is not in the cluster and installing KEDA is turned off"},
		{"CRD without operator", nil, []string{ScaledObjectCRD}, "no KEDA operator Deployment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := fakeClient(t, tc.objs, tc.crds...).InstallKEDA(context.Background(), KEDAOptions{NoInstall: true, Version: "v2.20.2", Manifest: "unused", Images: []string{}})
			if !errors.Is(err, ErrKEDAMissing) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("InstallKEDA = %v\nwant ErrKEDAMissing saying %q", err, tc.want)
			}
		})
	}
}
