package observe

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// ScaledObjectGVR is KEDA's ScaledObject resource.
var ScaledObjectGVR = schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}

// KubeWatch watches the worker Deployment and everything that scales it and
// records each state change on the timeline, stamped with the harness clock
// when the watch event arrived.
type KubeWatch struct {
	Client  kubernetes.Interface
	Dynamic dynamic.Interface // nil: no ScaledObject watch (cpu trigger)
	// Namespace and Deployment name the worker Deployment; PodSelector
	// selects its pods (e.g. app=burst-worker).
	Namespace   string
	Deployment  string
	PodSelector string
	// ScaledObject names the ScaledObject (empty: none).
	ScaledObject string
	Timeline     *Timeline

	start time.Time
}

// Start runs the informers until ctx ends and returns once their caches
// are in sync, so events after Start returns are seen.
func (k *KubeWatch) Start(ctx context.Context) error {
	k.start = time.Now()
	f := informers.NewSharedInformerFactoryWithOptions(k.Client, 0, informers.WithNamespace(k.Namespace))
	dep := f.Apps().V1().Deployments().Informer()
	pods := informers.NewSharedInformerFactoryWithOptions(k.Client, 0, informers.WithNamespace(k.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = k.PodSelector })).Core().V1().Pods().Informer()
	rs := f.Apps().V1().ReplicaSets().Informer()
	hpa := f.Autoscaling().V2().HorizontalPodAutoscalers().Informer()
	evs := f.Core().V1().Events().Informer()

	if _, err := dep.AddEventHandler(k.deploymentHandler()); err != nil {
		return fmt.Errorf("watch deployment: %w", err)
	}
	if _, err := pods.AddEventHandler(k.podHandler()); err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	if _, err := rs.AddEventHandler(k.replicaSetHandler()); err != nil {
		return fmt.Errorf("watch replicasets: %w", err)
	}
	if _, err := hpa.AddEventHandler(k.hpaHandler()); err != nil {
		return fmt.Errorf("watch hpa: %w", err)
	}
	if _, err := evs.AddEventHandler(k.eventHandler()); err != nil {
		return fmt.Errorf("watch events: %w", err)
	}
	synced := []cache.InformerSynced{dep.HasSynced, pods.HasSynced, rs.HasSynced, hpa.HasSynced, evs.HasSynced}
	go dep.Run(ctx.Done())
	go pods.Run(ctx.Done())
	go rs.Run(ctx.Done())
	go hpa.Run(ctx.Done())
	go evs.Run(ctx.Done())
	if k.Dynamic != nil && k.ScaledObject != "" {
		df := dynamicinformer.NewFilteredDynamicSharedInformerFactory(k.Dynamic, 0, k.Namespace, nil)
		so := df.ForResource(ScaledObjectGVR).Informer()
		if _, err := so.AddEventHandler(k.scaledObjectHandler()); err != nil {
			return fmt.Errorf("watch scaledobjects: %w", err)
		}
		go so.Run(ctx.Done())
		synced = append(synced, so.HasSynced)
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if !cache.WaitForCacheSync(sctx.Done(), synced...) {
		return fmt.Errorf("watch namespace %s: informer caches did not sync within 60s", k.Namespace)
	}
	return nil
}

func (k *KubeWatch) add(e Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	k.Timeline.Add(e)
}

// at returns now for live events and the object's own time (whole seconds)
// for objects listed when the watch started.
func at(initial bool, objTime metav1.Time) time.Time {
	if initial && !objTime.IsZero() {
		return objTime.Time
	}
	return time.Now()
}

func (k *KubeWatch) deploymentHandler() cache.ResourceEventHandler {
	var last [3]int32
	seen := false
	emit := func(obj any, initial bool) {
		d, ok := obj.(*appsv1.Deployment)
		if !ok || d.Name != k.Deployment {
			return
		}
		spec := int32(1)
		if d.Spec.Replicas != nil {
			spec = *d.Spec.Replicas
		}
		cur := [3]int32{spec, d.Status.Replicas, d.Status.ReadyReplicas}
		if seen && cur == last {
			return
		}
		seen, last = true, cur
		k.add(Event{Source: "deployment", Kind: "replicas", Object: d.Name, Values: map[string]float64{
			"spec_replicas": float64(spec), "replicas": float64(d.Status.Replicas), "ready_replicas": float64(d.Status.ReadyReplicas)}})
	}
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc:    emit,
		UpdateFunc: func(_, obj any) { emit(obj, false) },
	}
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) (bool, metav1.Time) {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue, c.LastTransitionTime
		}
	}
	return false, metav1.Time{}
}

func podStarted(p *corev1.Pod) (bool, metav1.Time) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running != nil {
			return true, cs.State.Running.StartedAt
		}
	}
	return false, metav1.Time{}
}

type podState struct {
	scheduled, started, ready, deleting bool
}

func (k *KubeWatch) podHandler() cache.ResourceEventHandler {
	states := map[string]*podState{}
	update := func(p *corev1.Pod, initial bool) {
		st := states[p.Name]
		if st == nil {
			st = &podState{}
			states[p.Name] = st
		}
		ev := func(kind string, t metav1.Time, msg string) {
			k.add(Event{At: at(initial, t), Source: "pod", Kind: kind, Object: p.Name, Message: msg})
		}
		if ok, t := podCondition(p, corev1.PodScheduled); ok && !st.scheduled {
			st.scheduled = true
			ev("scheduled", t, p.Spec.NodeName)
		}
		if ok, t := podStarted(p); ok && !st.started {
			st.started = true
			ev("started", t, "")
		}
		ready, t := podCondition(p, corev1.PodReady)
		if ready != st.ready {
			st.ready = ready
			if ready {
				ev("ready", t, "")
			} else {
				ev("unready", t, "")
			}
		}
		if p.DeletionTimestamp != nil && !st.deleting {
			st.deleting = true
			ev("deleting", *p.DeletionTimestamp, "")
		}
	}
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				return
			}
			k.add(Event{At: at(initial, p.CreationTimestamp), Source: "pod", Kind: "created", Object: p.Name})
			update(p, initial)
		},
		UpdateFunc: func(_, obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				update(p, false)
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				k.add(Event{Source: "pod", Kind: "deleted", Object: p.Name})
				delete(states, p.Name)
			}
		},
	}
}

func (k *KubeWatch) replicaSetHandler() cache.ResourceEventHandler {
	last := map[string]int32{}
	emit := func(obj any) {
		r, ok := obj.(*appsv1.ReplicaSet)
		if !ok || !ownedBy(r.OwnerReferences, k.Deployment) {
			return
		}
		spec := int32(0)
		if r.Spec.Replicas != nil {
			spec = *r.Spec.Replicas
		}
		if v, ok := last[r.Name]; ok && v == spec {
			return
		}
		last[r.Name] = spec
		k.add(Event{Source: "replicaset", Kind: "replicas", Object: r.Name, Values: map[string]float64{"spec_replicas": float64(spec)}})
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: emit, UpdateFunc: func(_, obj any) { emit(obj) }}
}

func ownedBy(refs []metav1.OwnerReference, name string) bool {
	for _, r := range refs {
		if r.Kind == "Deployment" && r.Name == name {
			return true
		}
	}
	return false
}

func (k *KubeWatch) hpaHandler() cache.ResourceEventHandler {
	var last [2]int32
	seen := false
	emit := func(obj any) {
		h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
		if !ok || h.Spec.ScaleTargetRef.Name != k.Deployment {
			return
		}
		cur := [2]int32{h.Status.DesiredReplicas, h.Status.CurrentReplicas}
		if seen && cur == last {
			return
		}
		seen, last = true, cur
		k.add(Event{Source: "hpa", Kind: "status", Object: h.Name, Values: map[string]float64{
			"desired_replicas": float64(h.Status.DesiredReplicas), "current_replicas": float64(h.Status.CurrentReplicas)}})
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: emit, UpdateFunc: func(_, obj any) { emit(obj) }}
}

func (k *KubeWatch) scaledObjectHandler() cache.ResourceEventHandler {
	state := ""
	emit := func(obj any, initial bool) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok || u.GetName() != k.ScaledObject {
			return
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] != "Active" {
				continue
			}
			s, _ := m["status"].(string)
			if s == state {
				return
			}
			state = s
			kind, v := "inactive", 0.0
			if s == "True" {
				kind, v = "active", 1
			}
			msg, _ := m["message"].(string)
			var t metav1.Time
			if ts, ok := m["lastTransitionTime"].(string); ok {
				_ = t.UnmarshalQueryParameter(ts)
			}
			k.add(Event{At: at(initial, t), Source: "scaledobject", Kind: kind, Object: u.GetName(), Values: map[string]float64{"active": v}, Message: msg})
		}
	}
	return cache.ResourceEventHandlerDetailedFuncs{AddFunc: emit, UpdateFunc: func(_, obj any) { emit(obj, false) }}
}

// interesting event reasons: KEDA's activation/deactivation and the HPA's rescales.
var reasons = map[string]bool{
	"KEDAScaleTargetActivated": true, "KEDAScaleTargetDeactivated": true, "KEDAScalerFailed": true,
	"KEDAScaleTargetActivationFailed": true, "KEDAScaleTargetDeactivationFailed": true,
	"SuccessfulRescale": true, "FailedGetExternalMetric": true, "FailedComputeMetricsReplicas": true,
	"ScalingReplicaSet": true, "Killing": true, "FailedScheduling": true,
}

func (k *KubeWatch) eventHandler() cache.ResourceEventHandler {
	emit := func(e *corev1.Event) {
		if reasons[e.Reason] {
			k.add(Event{Source: "event", Kind: e.Reason, Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name, Message: e.Message})
		}
	}
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if e, ok := obj.(*corev1.Event); ok && !initial {
				emit(e)
			}
		},
		// A repeated event is the same object with a higher count.
		UpdateFunc: func(old, obj any) {
			o, ok1 := old.(*corev1.Event)
			e, ok2 := obj.(*corev1.Event)
			if ok1 && ok2 && e.Count != o.Count {
				emit(e)
			}
		},
	}
}
