package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/scenario"
)

// KEDA's ScaledObject API.
const (
	ScaledObjectAPIVersion = "keda.sh/v1alpha1"
	ScaledObjectKind       = "ScaledObject"
)

// KEDAHPAName returns the name of the HorizontalPodAutoscaler KEDA creates
// for the ScaledObject name.
func KEDAHPAName(name string) string { return "keda-hpa-" + name }

// Behavior converts the scenario's scaler.behavior (autoscaling/v2
// HorizontalPodAutoscalerBehavior written as YAML) into the typed value;
// unknown fields are an error. Nil means none.
func Behavior(b map[string]any) (*autoscalingv2.HorizontalPodAutoscalerBehavior, error) {
	if len(b) == 0 {
		return nil, nil
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("scaler.behavior: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var out autoscalingv2.HorizontalPodAutoscalerBehavior
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("scaler.behavior is not an autoscaling/v2 HPA behavior: %w", err)
	}
	return &out, nil
}

// ScalerObjects renders the scaling object of the scenario's trigger mode
// for the worker Deployment o.Name:
//
//   - pending: a ScaledObject with one redis-streams trigger with
//     consumerGroup and pendingEntriesCount (KEDA reads XPENDING);
//   - lag: consumerGroup and lagCount (XINFO GROUPS lag, Redis ≥ 7);
//   - length: no consumerGroup, streamLength (XLEN);
//   - lag+pending: two triggers, lag and pending (the HPA takes the max, and
//     either keeps the ScaledObject active);
//   - cpu: a plain autoscaling/v2 HorizontalPodAutoscaler on CPU
//     utilization, no KEDA;
//   - none: nothing (fixed replicas).
//
// KEDA's redis-streams scaler has a single activation key,
// activationLagCount, which applies in every mode; each trigger gets the
// scenario's activation threshold of its own mode (activationLagCount,
// activationPendingEntriesCount, activationStreamLength) under that key.
// pollingInterval and cooldownPeriod are whole seconds; minReplicaCount,
// maxReplicaCount, fallback and behavior (advanced.horizontalPodAutoscalerConfig)
// come from the scenario as they are.
func ScalerObjects(o WorkerOptions) ([]*unstructured.Unstructured, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	sc := o.Scenario.Scaler
	behavior, err := Behavior(sc.Behavior)
	if err != nil {
		return nil, err
	}
	switch sc.Trigger {
	case scenario.TriggerNone:
		return nil, nil
	case scenario.TriggerCPU:
		return []*unstructured.Unstructured{cpuHPA(o, behavior)}, nil
	}
	triggers, err := redisTriggers(o)
	if err != nil {
		return nil, err
	}
	spec := map[string]any{
		"scaleTargetRef":  map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": o.Name},
		"pollingInterval": int64(sc.PollingInterval.Seconds()),
		"cooldownPeriod":  int64(sc.CooldownPeriod.Seconds()),
		"minReplicaCount": int64(sc.Min()),
		"maxReplicaCount": int64(sc.MaxReplicaCount),
		"triggers":        triggers,
	}
	if sc.Fallback != nil {
		spec["fallback"] = map[string]any{
			"failureThreshold": int64(sc.Fallback.FailureThreshold),
			"replicas":         int64(sc.Fallback.Replicas),
		}
	}
	if behavior != nil {
		b, err := runtime.DefaultUnstructuredConverter.ToUnstructured(behavior)
		if err != nil {
			return nil, fmt.Errorf("scaler.behavior: %w", err)
		}
		spec["advanced"] = map[string]any{"horizontalPodAutoscalerConfig": map[string]any{"behavior": b}}
	}
	so := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": ScaledObjectAPIVersion,
		"kind":       ScaledObjectKind,
		"metadata": map[string]any{
			"name":      o.Name,
			"namespace": o.Namespace,
			"labels":    stringMap(scalerLabels(o)),
		},
		"spec": spec,
	}}
	return []*unstructured.Unstructured{so}, nil
}

func scalerLabels(o WorkerOptions) map[string]string {
	l := labels(o.Name, "scaler")
	l["burst.dev/scenario"] = labelValue(o.Scenario.Name)
	l["burst.dev/trigger"] = labelValue(o.Scenario.Scaler.Trigger)
	return l
}

// redisTriggers returns the redis-streams triggers of the scenario's mode.
func redisTriggers(o WorkerOptions) ([]any, error) {
	sc := o.Scenario.Scaler
	keys := queue.KeysFor(o.Scenario.Redis.Prefix)
	trigger := func(name string, md map[string]string) any {
		m := map[string]string{"address": o.RedisAddr, "stream": keys.Stream}
		for k, v := range md {
			m[k] = v
		}
		return map[string]any{"type": "redis-streams", "name": name, "metadata": stringMap(m)}
	}
	itoa := func(v int64) string { return strconv.FormatInt(v, 10) }
	pending := trigger("pending", map[string]string{
		"consumerGroup":       keys.Group,
		"pendingEntriesCount": itoa(sc.PendingEntriesCount),
		"activationLagCount":  itoa(sc.ActivationPendingEntriesCount),
	})
	lag := trigger("lag", map[string]string{
		"consumerGroup":      keys.Group,
		"lagCount":           itoa(sc.LagCount),
		"activationLagCount": itoa(sc.ActivationLagCount),
	})
	switch sc.Trigger {
	case scenario.TriggerPending:
		return []any{pending}, nil
	case scenario.TriggerLag:
		return []any{lag}, nil
	case scenario.TriggerLagPending:
		return []any{lag, pending}, nil
	case scenario.TriggerLength:
		return []any{trigger("length", map[string]string{
			"streamLength":       itoa(sc.StreamLength),
			"activationLagCount": itoa(sc.ActivationStreamLength),
		})}, nil
	}
	return nil, fmt.Errorf("scaler.trigger %q is not a KEDA redis-streams mode", sc.Trigger)
}

// cpuHPA renders the CPU baseline: an autoscaling/v2 HPA on average CPU
// utilization relative to the worker's CPU request.
func cpuHPA(o WorkerOptions, behavior *autoscalingv2.HorizontalPodAutoscalerBehavior) *unstructured.Unstructured {
	sc := o.Scenario.Scaler
	minR := max(sc.Min(), 1)
	util := sc.CPUUtilization
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: scalerLabels(o)},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: o.Name},
			MinReplicas:    &minR,
			MaxReplicas:    sc.MaxReplicaCount,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &util},
				},
			}},
			Behavior: behavior,
		},
	}
	return mustUnstructured(hpa)
}

// stringMap converts m for an unstructured object (which holds map[string]any).
func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
