package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/burstbench/burst/internal/cluster"
	"github.com/burstbench/burst/internal/deploy"
	"github.com/burstbench/burst/internal/images"
	"github.com/burstbench/burst/internal/loadgen"
	"github.com/burstbench/burst/internal/measure"
	"github.com/burstbench/burst/internal/observe"
	"github.com/burstbench/burst/internal/progress"
	"github.com/burstbench/burst/internal/queue"
	"github.com/burstbench/burst/results"
	"github.com/burstbench/burst/scenario"
)

// ClusterOptions name the cluster a run uses; `burst up` must have prepared it.
type ClusterOptions struct {
	// KindName is the kind cluster to use unless Connect names an existing one.
	KindName string
	Connect  cluster.ConnectOptions
	// Namespace holds Redis, the fake server and the workers.
	Namespace string
	// WorkerImage skips building the worker image (the fake server is the
	// one `burst up` deployed).
	WorkerImage string
	// RepoRoot is the source tree the images are built from.
	RepoRoot string
	// APIKey is passed to the workers for a real endpoint (stored in a Secret).
	APIKey string
}

// workerSelector selects the worker pods deploy renders.
const workerSelector = "app.kubernetes.io/name=" + deploy.DefaultWorkerName + ",app.kubernetes.io/part-of=burst"

// ErrNotUp reports that the cluster lacks what `burst up` installs.
var ErrNotUp = errors.New("the cluster is not ready: run `burst up` first")

// Cluster runs the scenario on a cluster prepared by `burst up`: it resets
// the workers to the scenario's minimum, empties the streams, deploys the
// worker Deployment and its scaler, watches everything that scales, fires
// the profile, waits for the drain and the scale-down, and measures.
func Cluster(ctx context.Context, o Options, co ClusterOptions) (*results.Run, error) {
	sc := o.Scenario
	ns := co.Namespace
	if ns == "" {
		ns = sc.Namespace
	}
	var (
		target  *cluster.Target
		client  *deploy.Client
		workImg = co.WorkerImage
		redisFw *cluster.Forward
		q       *queue.Client
		kedaV   string
	)
	defer func() {
		if q != nil {
			q.Close()
		}
		if redisFw != nil {
			redisFw.Close()
		}
	}()
	started := time.Now()
	runID, dir := o.runDir(started)
	steps := []deploy.Step{
		{Name: "cluster", Run: func(ctx context.Context) error {
			var err error
			if co.Connect.Kubeconfig != "" || co.Connect.Context != "" {
				target, err = cluster.Connect(ctx, co.Connect)
			} else {
				target, err = cluster.Open(ctx, co.KindName, o.Log)
				if errors.Is(err, cluster.ErrNotFound) {
					return fmt.Errorf("kind cluster %q does not exist: %w", co.KindName, ErrNotUp)
				}
			}
			if err != nil {
				return err
			}
			client, err = deploy.NewClient(target.Config)
			if err != nil {
				return err
			}
			st, err := client.DetectKEDA(ctx)
			if err != nil {
				return err
			}
			kedaV = st.Version
			if !st.CRD && sc.Scaler.Trigger != scenario.TriggerCPU {
				return fmt.Errorf("%s %q has no ScaledObject CRD: %w", target.Type, target.Name, ErrNotUp)
			}
			deploy.Notef(ctx, fmt.Sprintf("%s %s, %s", target.Type, target.Name, st))
			return nil
		}},
		{Name: "worker image", Run: func(ctx context.Context) error {
			if workImg != "" {
				return nil
			}
			imgs, err := images.Build(ctx, images.Options{RepoRoot: co.RepoRoot, Components: []images.Component{images.Worker}, Log: io.Discard})
			if err != nil {
				return err
			}
			if target.CanLoadImages() {
				if _, err := images.Load(ctx, target, imgs); err != nil {
					return err
				}
			}
			workImg = imgs[0].Ref
			deploy.Notef(ctx, workImg)
			return nil
		}},
		{Name: "redis", Run: func(ctx context.Context) error {
			var err error
			redisFw, err = target.PortForward(context.WithoutCancel(ctx), ns, deploy.DefaultRedisName, 6379)
			if err != nil {
				return fmt.Errorf("reach Redis in namespace %s (%w): %v", ns, ErrNotUp, err)
			}
			q, err = queue.Dial(ctx, queue.Options{Addr: redisFw.Addr, Keys: queue.KeysFor(sc.Redis.Prefix), MaxLen: sc.Scaler.StreamMaxLen})
			if err != nil {
				return err
			}
			deploy.Notef(ctx, "port-forward "+redisFw.Addr)
			return nil
		}},
		{Name: "inference", Run: func(ctx context.Context) error {
			if sc.Inference.Endpoint != "" {
				deploy.Notef(ctx, "real endpoint "+sc.Inference.Endpoint)
				return nil
			}
			return configureFake(ctx, target, ns, sc)
		}},
		{Name: "reset", Run: func(ctx context.Context) error {
			ro := deploy.ResetFor(sc)
			ro.Namespace = ns
			if err := client.Reset(ctx, ro); err != nil {
				return err
			}
			return q.Reset(ctx)
		}},
		{Name: "deploy workers", Run: func(ctx context.Context) error {
			return client.DeployWorkers(ctx, deploy.WorkerOptions{Scenario: sc, Namespace: ns, Image: workImg, RunID: runID, APIKey: co.APIKey}, 0)
		}},
	}
	if err := StepBars(ctx, o.Progress, steps); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}

	// Observe.
	tl := &observe.Timeline{}
	wctx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatch()
	soName := ""
	if sc.Scaler.Trigger != scenario.TriggerCPU {
		soName = deploy.DefaultWorkerName
	}
	kw := &observe.KubeWatch{Client: target.Clientset, Dynamic: client.Dynamic, Namespace: ns, Deployment: deploy.DefaultWorkerName,
		PodSelector: workerSelector, ScaledObject: soName, Timeline: tl}
	if err := kw.Start(wctx); err != nil {
		return nil, err
	}
	observedStart := time.Now()
	initial := 0
	if d, err := target.Clientset.AppsV1().Deployments(ns).Get(ctx, deploy.DefaultWorkerName, metav1.GetOptions{}); err == nil {
		initial = int(d.Status.Replicas)
	}
	sampler := &observe.RedisSampler{Queue: q, Interval: sc.Run.SampleInterval.Duration, Timeline: tl}
	samplerDone := make(chan struct{})
	go func() { _ = sampler.Run(wctx); close(samplerDone) }()

	// Fire and wait.
	bar := o.Progress.Counter("enqueue", int64(len(o.Schedule.Arrivals)))
	rep, genErr := loadgen.Run(ctx, loadgen.Options{Run: runID, Arrivals: o.Schedule.Arrivals, Queue: q, Bar: bar})
	bar.Done(genErr)
	var alarms []string
	drained := false
	if rep != nil && ctx.Err() == nil {
		var err error
		drained, err = waitDrain(ctx, q, rep.Sent, sc.Run.Timeout.Duration, o.Progress.Counter("drain", int64(rep.Sent)))
		if err != nil {
			return nil, err
		}
		if !drained {
			alarms = append(alarms, fmt.Sprintf("the queue did not drain within run.timeout (%s)", sc.Run.Timeout.Duration))
		}
	}
	if drained && ctx.Err() == nil {
		if err := waitScaleDown(ctx, &o, target, ns); err != nil {
			alarms = append(alarms, err.Error())
		}
	}
	observedEnd := time.Now()
	stopWatch()
	<-samplerDone
	if genErr != nil {
		alarms = append(alarms, genErr.Error())
	}

	redisV, _ := q.ServerVersion(context.WithoutCancel(ctx))
	kubeV, _ := target.ServerVersion(context.WithoutCancel(ctx))
	in := measure.Input{RunID: runID, Target: target.Type,
		Versions: results.Versions{Burst: o.Version, Kubernetes: results.S(kubeV), KEDA: results.S(kedaV), Redis: redisV},
		Cluster:  &measure.ClusterInput{ObservedStart: observedStart, ObservedEnd: observedEnd, InitialReplicas: initial},
		Alarms:   alarms}
	return finish(ctx, &o, q, collected{started: started, report: rep, timeline: tl}, in, dir)
}

// StepBars runs deploy steps with one progress line each, showing each
// step's note when it ends and marking the steps after a failure skipped.
func StepBars(ctx context.Context, prog *progress.Progress, steps []deploy.Step) error {
	bars := make([]*progress.Bar, len(steps))
	for i, st := range steps {
		bars[i] = prog.Step(st.Name)
	}
	return deploy.RunSteps(ctx, steps, func(e deploy.StepEvent) {
		b := bars[e.Index]
		if !e.Done {
			b.Start()
			return
		}
		b.Status("%s", e.Note)
		b.Done(e.Err)
		if e.Err != nil {
			for _, rest := range bars[e.Index+1:] {
				rest.Status("skipped")
				rest.Done(errors.New("skipped"))
			}
		}
	})
}

// configureFake sets the fake inference server to the scenario's preset and
// overrides through its /admin/config endpoint.
func configureFake(ctx context.Context, t *cluster.Target, ns string, sc *scenario.Scenario) error {
	fw, err := t.PortForward(ctx, ns, deploy.DefaultFakeInferenceName, deploy.FakeInferencePort)
	if err != nil {
		return fmt.Errorf("reach the fake inference server in namespace %s (%w): %v", ns, ErrNotUp, err)
	}
	defer fw.Close()
	var doc bytes.Buffer
	fmt.Fprintf(&doc, "preset: %q\n", sc.Inference.Preset)
	keys := make([]string, 0, len(sc.Inference.Fake))
	for k := range sc.Inference.Fake {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&doc, "%s: %q\n", k, sc.Inference.Fake[k])
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+fw.Addr+"/admin/config", &doc)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("configure the fake inference server: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: inference.fake: the fake inference server refused the settings: %s", ErrBadInput, strings.TrimSpace(string(body)))
	}
	deploy.Notef(ctx, "preset "+sc.Inference.Preset)
	return nil
}

// scaleDownTimeout is how long to watch for the scale-down after the drain:
// run.scaleDownTimeout, else KEDA's cooldown (to zero) or the HPA's default
// 300 s stabilization window, plus two polling intervals and a minute.
func scaleDownTimeout(sc *scenario.Scenario) time.Duration {
	if d := sc.Run.ScaleDownTimeout.Duration; d > 0 {
		return d
	}
	wait := 300 * time.Second
	if sc.Scaler.Min() == 0 && sc.Scaler.Trigger != scenario.TriggerCPU {
		wait = sc.Scaler.CooldownPeriod.Duration
	}
	return wait + 2*sc.Scaler.PollingInterval.Duration + time.Minute
}

// waitScaleDown waits until the worker Deployment is back at its minimum.
func waitScaleDown(ctx context.Context, o *Options, t *cluster.Target, ns string) error {
	sc := o.Scenario
	limit := scaleDownTimeout(sc)
	min := int32(deploy.InitialReplicas(sc))
	bar := o.Progress.Step("scale-down")
	deadline := time.Now().Add(limit)
	for {
		d, err := t.Clientset.AppsV1().Deployments(ns).Get(ctx, deploy.DefaultWorkerName, metav1.GetOptions{})
		if err == nil {
			spec := int32(1)
			if d.Spec.Replicas != nil {
				spec = *d.Spec.Replicas
			}
			// Terminating pods still finish in-flight work: wait until they are gone.
			pods, perr := t.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: workerSelector})
			n := int32(-1)
			if perr == nil {
				n = int32(len(pods.Items))
			}
			bar.Status("%d replicas, %d pods (min %d)", d.Status.Replicas, n, min)
			if spec <= min && d.Status.Replicas <= min && n >= 0 && n <= min {
				bar.Done(nil)
				return nil
			}
		}
		if time.Now().After(deadline) {
			bar.Done(errors.New("timeout"))
			return fmt.Errorf("the workers did not scale back to %d replicas within %s of the drain", min, limit)
		}
		select {
		case <-ctx.Done():
			bar.Done(ctx.Err())
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}
