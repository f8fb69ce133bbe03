package cli

import (
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/burstbench/burst/internal/cluster"
	"github.com/burstbench/burst/internal/deploy"
	"github.com/burstbench/burst/internal/images"
	"github.com/burstbench/burst/internal/runner"
	"github.com/burstbench/burst/scenario"
)

// clusterFlags are the flags shared by up, run, sweep and down that say
// which cluster to use and how to install into it. Every flag overrides the
// BURST_* environment variable of the same setting.
type clusterFlags struct {
	name           string
	kubeconfig     string
	kubeContext    string
	kindConfig     string
	nodeImage      string
	namespace      string
	kedaVersion    string
	kedaManifest   string
	kedaImages     []string
	noInstallKEDA  bool
	reinstallKEDA  bool
	metricsServer  string
	noMetrics      bool
	noFake         bool
	redisImage     string
	workerImage    string
	fakeImage      string
	repoRoot       string
	preset         string
	retain         bool
	waitForCluster time.Duration
}

func (f *clusterFlags) register(fl *pflag.FlagSet, installFlags bool) {
	fl.StringVar(&f.name, "name", cluster.DefaultName, "kind cluster name")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "use the existing cluster of this kubeconfig (nothing is created or deleted)")
	fl.StringVar(&f.kubeContext, "context", "", "kubeconfig context of an existing cluster")
	fl.StringVar(&f.namespace, "namespace", "", "namespace of Redis, the fake inference server and the workers (default: the scenario's, else burst)")
	fl.StringVar(&f.workerImage, "worker-image", "", "worker image reference instead of building it from this repository (required on non-kind clusters)")
	fl.StringVar(&f.repoRoot, "repo-root", ".", "burst source tree to build the worker and fakeinference images from")
	if !installFlags {
		return
	}
	fl.StringVar(&f.fakeImage, "fakeinference-image", "", "fake inference image reference instead of building it")
	fl.StringVar(&f.kindConfig, "kind-config", "kind-config.yaml", "kind config file (ignored when it does not exist)")
	fl.StringVar(&f.nodeImage, "node-image", "", "kind node image (default $"+cluster.EnvNodeImage+", else "+cluster.DefaultNodeImage+")")
	fl.StringVar(&f.kedaVersion, "keda-version", "", "KEDA version to install (default $BURST_KEDA_VERSION, else "+deploy.DefaultKEDAVersion+")")
	fl.StringVar(&f.kedaManifest, "keda-manifest", "", "KEDA install manifest, file or URL (default $BURST_KEDA_MANIFEST, else the release manifest)")
	fl.StringArrayVar(&f.kedaImages, "keda-image", nil, "override a KEDA image by repository name, e.g. mirror.local/kedacore/keda:v2.20.2 (repeatable; default $BURST_KEDA_IMAGES)")
	fl.BoolVar(&f.noInstallKEDA, "no-install-keda", false, "do not install KEDA; fail when the cluster has none")
	fl.BoolVar(&f.reinstallKEDA, "reinstall-keda", false, "apply burst's pinned KEDA manifest even when a KEDA is already installed")
	fl.StringVar(&f.metricsServer, "metrics-server-manifest", "", "metrics-server manifest, file or URL (default $BURST_METRICS_SERVER_MANIFEST, else the release manifest)")
	fl.BoolVar(&f.noMetrics, "no-metrics-server", false, "skip metrics-server (only the cpu trigger needs it)")
	fl.BoolVar(&f.noFake, "no-fakeinference", false, "do not deploy the fake inference server (every run names a real --inference-endpoint)")
	fl.StringVar(&f.redisImage, "redis-image", "", "Redis image (default $BURST_REDIS_IMAGE, else "+deploy.DefaultRedisImage+")")
	fl.StringVar(&f.preset, "preset", "h200-8b", "fake inference server preset at start (each run sets its scenario's preset)")
	fl.BoolVar(&f.retain, "retain", false, "keep the node containers when cluster creation fails, for debugging")
	fl.DurationVar(&f.waitForCluster, "wait", cluster.DefaultWait, "how long to wait for the nodes to be Ready")
}

// existing reports whether the flags name an existing cluster.
func (f *clusterFlags) existing() bool { return f.kubeconfig != "" || f.kubeContext != "" }

// upOptions turns the flags into the stack's options.
func (f *clusterFlags) upOptions(log io.Writer) deploy.UpOptions {
	o := deploy.UpOptions{
		Namespace:          f.namespace,
		Images:             images.Options{RepoRoot: f.repoRoot},
		WorkerImage:        f.workerImage,
		FakeInferenceImage: f.fakeImage,
		KEDA:               deploy.KEDAOptions{Version: f.kedaVersion, Manifest: f.kedaManifest, Images: f.kedaImages, NoInstall: f.noInstallKEDA, Reinstall: f.reinstallKEDA},
		MetricsServer:      deploy.MetricsServerOptions{Manifest: f.metricsServer},
		SkipMetricsServer:  f.noMetrics,
		SkipFakeInference:  f.noFake,
		Redis:              deploy.RedisOptions{Image: f.redisImage},
		FakeInference:      deploy.FakeInferenceOptions{Preset: f.preset},
	}
	o.Log = log
	if f.existing() {
		o.Connect = cluster.ConnectOptions{Kubeconfig: f.kubeconfig, Context: f.kubeContext}
		return o
	}
	cfg := f.kindConfig
	if _, err := os.Stat(cfg); err != nil {
		cfg = ""
	}
	o.Kind = &cluster.Options{Name: f.name, ConfigPath: cfg, NodeImage: f.nodeImage, Retain: f.retain, Wait: f.waitForCluster}
	return o
}

// runnerOptions turns the flags into the cluster runner's options.
func (f *clusterFlags) runnerOptions(sc *scenario.Scenario) runner.ClusterOptions {
	co := runner.ClusterOptions{KindName: f.name, Namespace: f.namespace, WorkerImage: f.workerImage, RepoRoot: f.repoRoot}
	if f.existing() {
		co.Connect = cluster.ConnectOptions{Kubeconfig: f.kubeconfig, Context: f.kubeContext}
	}
	if sc.Inference.Endpoint != "" {
		for _, env := range []string{sc.Inference.APIKeyEnv, "INFERENCE_API_KEY", "OPENAI_API_KEY"} {
			if v := os.Getenv(env); env != "" && v != "" {
				co.APIKey = v
				break
			}
		}
	}
	return co
}
