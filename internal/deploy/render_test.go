package deploy

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/burstbench/burst/scenario"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/deploy -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("rendering differs from %s (go test ./internal/deploy -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

const scenarioHead = `profile: spike-50
worker:
  concurrency: 4
  terminationGracePeriod: 30s
  resources:
    requests: {cpu: 10m, memory: 24Mi}
    limits: {memory: 64Mi}
inference:
  preset: h200-8b
`

// renderCases are one scenario per trigger mode.
var renderCases = []struct {
	mode string
	yaml string
}{
	{"pending", `name: seed-article
scaler:
  trigger: pending
  pendingEntriesCount: 10
  minReplicaCount: 0
  maxReplicaCount: 50
`},
	{"lag", `name: spike-50-lag
scaler:
  trigger: lag
  lagCount: 5
  activationLagCount: 2
  pollingInterval: 5s
  cooldownPeriod: 30s
  minReplicaCount: 0
  maxReplicaCount: 10
`},
	{"length", `name: length-trimmed
scaler:
  trigger: length
  streamLength: 10
  activationStreamLength: 1
  streamMaxLen: 1000
  pollingInterval: 10s
  minReplicaCount: 1
  maxReplicaCount: 8
`},
	{"lag+pending", `name: spike-50-lag-pending
scaler:
  trigger: lag+pending
  lagCount: 5
  pendingEntriesCount: 4
  activationPendingEntriesCount: 1
  pollingInterval: 5s
  cooldownPeriod: 30s
  minReplicaCount: 0
  maxReplicaCount: 10
  fallback: {failureThreshold: 3, replicas: 2}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      policies:
      - {type: Pods, value: 10, periodSeconds: 15}
    scaleDown:
      stabilizationWindowSeconds: 60
`},
	{"cpu", `name: cpu-baseline
scaler:
  trigger: cpu
  cpuUtilization: 60
  minReplicaCount: 1
  maxReplicaCount: 6
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 30
`},
}

func parseScenario(t *testing.T, doc string) *scenario.Scenario {
	t.Helper()
	s, err := scenario.Parse("test.yaml", []byte(doc+scenarioHead))
	if err != nil {
		t.Fatalf("scenario: %v", err)
	}
	return s
}

func TestRenderWorkersGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range renderCases {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			o := WorkerOptions{Scenario: parseScenario(t, tc.yaml), Image: "burst/worker:0123456789ab", RunID: "20261204T180000Z-" + tc.mode}
			workers, err := WorkerObjects(o)
			if err != nil {
				t.Fatal(err)
			}
			scaler, err := ScalerObjects(o)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Encode(append(workers, scaler...))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "workers-"+strings.ReplaceAll(tc.mode, "+", "-")+".yaml", out)
			// Every rendered object must survive a deep copy (only JSON types inside).
			for _, o := range append(workers, scaler...) {
				_ = o.DeepCopy()
			}
		})
	}
}

// TestScalerTriggers checks the KEDA semantics the golden files encode, so
// a careless -update cannot change them silently.
func TestScalerTriggers(t *testing.T) {
	t.Parallel()
	type trig struct {
		name     string
		metadata map[string]any
	}
	for _, tc := range []struct {
		mode string
		want []trig
	}{
		{"pending", []trig{{"pending", map[string]any{"consumerGroup": "burst-workers", "pendingEntriesCount": "10", "activationLagCount": "0"}}}},
		{"lag", []trig{{"lag", map[string]any{"consumerGroup": "burst-workers", "lagCount": "5", "activationLagCount": "2"}}}},
		{"length", []trig{{"length", map[string]any{"streamLength": "10", "activationLagCount": "1"}}}},
		{"lag+pending", []trig{
			{"lag", map[string]any{"consumerGroup": "burst-workers", "lagCount": "5", "activationLagCount": "0"}},
			{"pending", map[string]any{"consumerGroup": "burst-workers", "pendingEntriesCount": "4", "activationLagCount": "1"}},
		}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			var doc string
			for _, rc := range renderCases {
				if rc.mode == tc.mode {
					doc = rc.yaml
				}
			}
			objs, err := ScalerObjects(WorkerOptions{Scenario: parseScenario(t, doc), Image: "w:1"})
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != 1 || objs[0].GetKind() != "ScaledObject" || objs[0].GetAPIVersion() != "keda.sh/v1alpha1" {
				t.Fatalf("want one keda.sh/v1alpha1 ScaledObject, got %d objects", len(objs))
			}
			triggers, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "triggers")
			if len(triggers) != len(tc.want) {
				t.Fatalf("%d triggers, want %d", len(triggers), len(tc.want))
			}
			for i, w := range tc.want {
				tr := triggers[i].(map[string]any)
				md := tr["metadata"].(map[string]any)
				if tr["type"] != "redis-streams" || tr["name"] != w.name {
					t.Errorf("trigger %d = %v/%v, want redis-streams/%s", i, tr["type"], tr["name"], w.name)
				}
				if md["address"] != "redis.burst.svc:6379" || md["stream"] != "burst:tasks" {
					t.Errorf("trigger %d address/stream = %v %v", i, md["address"], md["stream"])
				}
				for k, v := range w.metadata {
					if md[k] != v {
						t.Errorf("trigger %d metadata %s = %v, want %v", i, k, md[k], v)
					}
				}
				if _, ok := w.metadata["consumerGroup"]; !ok && md["consumerGroup"] != nil {
					t.Errorf("trigger %d has consumerGroup %v; length mode must not (KEDA would read XPENDING)", i, md["consumerGroup"])
				}
				if _, ok := w.metadata["lagCount"]; !ok && md["lagCount"] != nil {
					t.Errorf("trigger %d has lagCount; only lag triggers may (KEDA switches to lag mode)", i)
				}
			}
		})
	}
}

func TestCPUScaler(t *testing.T) {
	t.Parallel()
	objs, err := ScalerObjects(WorkerOptions{Scenario: parseScenario(t, renderCases[4].yaml), Image: "w:1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].GetKind() != "HorizontalPodAutoscaler" || objs[0].GetAPIVersion() != "autoscaling/v2" {
		t.Fatalf("cpu: want one autoscaling/v2 HPA, got %v", objs)
	}
	util, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "metrics")
	target := util[0].(map[string]any)["resource"].(map[string]any)["target"].(map[string]any)
	if target["type"] != "Utilization" || target["averageUtilization"] != int64(60) {
		t.Errorf("cpu target = %v", target)
	}
}

func TestBehaviorRejectsUnknownFields(t *testing.T) {
	t.Parallel()
	_, err := Behavior(map[string]any{"scaleUp": map[string]any{"stabilisationWindowSeconds": 0}})
	if err == nil || !strings.Contains(err.Error(), "stabilisationWindowSeconds") {
		t.Errorf("Behavior with a typo: err = %v, want it named", err)
	}
	b, err := Behavior(nil)
	if b != nil || err != nil {
		t.Errorf("Behavior(nil) = %v, %v", b, err)
	}
}

func TestWorkerEnv(t *testing.T) {
	t.Parallel()
	s := parseScenario(t, renderCases[1].yaml)
	s.Worker.Env = map[string]string{"LOG_LEVEL": "debug", "CONCURRENCY": "8"}
	s.Worker.StartupDelay = scenario.D(3 * time.Second)
	s.Inference.APIKeySecret = "vllm-key"
	env, err := WorkerEnv(WorkerOptions{Scenario: s, Image: "w:1", RedisAddr: "redis:6379", InferenceURL: "http://vllm:8000/v1"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range env {
		if _, dup := got[e.Name]; dup {
			t.Errorf("duplicate env %s (server-side apply rejects duplicate keys)", e.Name)
		}
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			got[e.Name] = "field:" + e.ValueFrom.FieldRef.FieldPath
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			got[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		default:
			got[e.Name] = e.Value
		}
	}
	for k, v := range map[string]string{
		"REDIS_ADDR":         "redis:6379",
		"STREAM_PREFIX":      "burst",
		"CONSUMER_NAME":      "field:metadata.name",
		"CONCURRENCY":        "8",
		"LOG_LEVEL":          "debug",
		"INFERENCE_ENDPOINT": "http://vllm:8000/v1",
		"INFERENCE_API_KEY":  "secret:vllm-key/api-key",
		"SHUTDOWN_GRACE":     "25s",
		"STARTUP_DELAY":      "3s",
		"MAX_DELIVERIES":     "5",
	} {
		if got[k] != v {
			t.Errorf("env %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestShutdownGrace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want time.Duration }{
		{30 * time.Second, 25 * time.Second},
		{60 * time.Second, 55 * time.Second},
		{10 * time.Second, 8 * time.Second},
		{time.Second, 800 * time.Millisecond},
	} {
		if got := ShutdownGrace(tc.in); got != tc.want {
			t.Errorf("ShutdownGrace(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestResourcesRejectsBadQuantity(t *testing.T) {
	t.Parallel()
	_, err := Resources(scenario.Resources{Requests: map[string]string{"cpu": "ten"}})
	if err == nil || !strings.Contains(err.Error(), "worker.resources.requests.cpu") {
		t.Errorf("err = %v, want it to name worker.resources.requests.cpu", err)
	}
}

func TestLabelValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"spike-50-lag", "spike-50-lag"},
		{"lag+pending", "lag-pending"},
		{"-x-", "x"},
		{strings.Repeat("a", 70), strings.Repeat("a", 63)},
	} {
		if got := labelValue(tc.in); got != tc.want {
			t.Errorf("labelValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRenderServicesGolden(t *testing.T) {
	t.Parallel()
	redis := RedisObjects(RedisOptions{Image: "burst-sandbox/redis:7.0"})
	fake, err := FakeInferenceObjects(FakeInferenceOptions{
		Image:  "burst/fakeinference:0123456789ab",
		Preset: "h200-8b",
		Flags:  map[string]string{"inter-token-latency": "12ms", "max-num-seqs": "64"},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Encode(append(append([]*unstructured.Unstructured{NamespaceObject("burst")}, redis...), fake...))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "services.yaml", out)
	if _, err := FakeInferenceObjects(FakeInferenceOptions{}); err == nil {
		t.Error("FakeInferenceObjects without an image succeeded")
	}
	if _, err := FakeInferenceObjects(FakeInferenceOptions{Image: "x:1", Flags: map[string]string{"port": "http"}}); err == nil {
		t.Error("FakeInferenceObjects with port=http succeeded")
	}
}

func TestAddresses(t *testing.T) {
	t.Parallel()
	if got := (RedisOptions{Namespace: "bench"}).Addr(); got != "redis.bench.svc:6379" {
		t.Errorf("Redis Addr = %s", got)
	}
	if got := (FakeInferenceOptions{}).URL(); got != "http://fakeinference.burst.svc:8000/v1" {
		t.Errorf("fake URL = %s", got)
	}
	s := parseScenario(t, renderCases[0].yaml)
	if got := ResetFor(s); got.Replicas != 0 || got.Namespace != "burst" {
		t.Errorf("ResetFor = %+v", got)
	}
	res, err := Resources(s.Worker.Resources)
	if err != nil {
		t.Fatal(err)
	}
	if q := res.Requests[corev1.ResourceCPU]; q.String() != "10m" {
		t.Errorf("cpu request = %s, want 10m", q.String())
	}
}
