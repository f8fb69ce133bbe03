package deploy

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/burstbench/burst/internal/cluster"
	"github.com/burstbench/burst/internal/images"
)

// UpOptions configure the stack `burst up` stands up.
type UpOptions struct {
	// Kind creates or reuses a kind cluster; when nil, Connect names an
	// existing cluster and nothing is created.
	Kind    *cluster.Options
	Connect cluster.ConnectOptions
	// Namespace for Redis, the fake server and the workers; empty means
	// DefaultNamespace. It overrides the namespaces in Redis and FakeInference.
	Namespace string
	// Images configure building the worker and fakeinference images.
	Images images.Options
	// WorkerImage and FakeInferenceImage use these references instead of
	// building (required on clusters that are not kind: push the images to a
	// registry the cluster can pull from).
	WorkerImage        string
	FakeInferenceImage string
	// KEDA, MetricsServer, Redis and FakeInference configure each install.
	KEDA              KEDAOptions
	MetricsServer     MetricsServerOptions
	SkipMetricsServer bool
	Redis             RedisOptions
	FakeInference     FakeInferenceOptions
	SkipFakeInference bool
	// Log receives kind's and the image build's progress lines; nil discards.
	Log io.Writer
}

// Stack is the infrastructure of a burst cluster run; its fields are filled
// in as the steps of Up run.
type Stack struct {
	opts UpOptions

	// Target and Client reach the cluster.
	Target *cluster.Target
	Client *Client
	// Images are the images built from this repository (none when both
	// references were given).
	Images []images.Image
	// WorkerImage and FakeInferenceImage are the references pods run.
	WorkerImage        string
	FakeInferenceImage string
	// KEDA and MetricsServer say what was found or installed.
	KEDA          KEDAStatus
	MetricsServer MetricsServerStatus
	// Loaded lists the images loaded into kind nodes, Present those already there.
	Loaded, Present []string
}

// NewStack returns the stack for o; nothing runs until Up or its Steps do.
func NewStack(o UpOptions) *Stack {
	o.Namespace = orElse(o.Namespace, DefaultNamespace)
	o.Redis.Namespace = o.Namespace
	o.FakeInference.Namespace = o.Namespace
	o.KEDA = o.KEDA.WithDefaults()
	o.MetricsServer = o.MetricsServer.WithDefaults()
	o.Redis = o.Redis.WithDefaults()
	return &Stack{opts: o, WorkerImage: o.WorkerImage, FakeInferenceImage: o.FakeInferenceImage}
}

// Namespace returns the namespace of Redis, the fake server and the workers.
func (s *Stack) Namespace() string { return s.opts.Namespace }

// RedisAddr returns Redis's in-cluster address.
func (s *Stack) RedisAddr() string { return s.opts.Redis.Addr() }

// FakeInferenceURL returns the fake server's in-cluster base URL.
func (s *Stack) FakeInferenceURL() string { return s.opts.FakeInference.URL() }

// Steps returns the named steps of Up, in order: cluster, images (build),
// load images, metrics-server, KEDA, Redis, fake inference server.
func (s *Stack) Steps() []Step {
	o := s.opts
	steps := []Step{{Name: "cluster", Run: s.connect}}
	if s.WorkerImage == "" || (!o.SkipFakeInference && s.FakeInferenceImage == "") {
		steps = append(steps, Step{Name: "build images", Run: s.build})
	}
	steps = append(steps, Step{Name: "load images", Run: s.load})
	if !o.SkipMetricsServer {
		steps = append(steps, Step{Name: "metrics-server", Run: s.metricsServer})
	}
	steps = append(steps,
		Step{Name: "KEDA", Run: s.keda},
		Step{Name: "Redis", Run: func(ctx context.Context) error {
			if err := s.Client.InstallRedis(ctx, o.Redis); err != nil {
				return err
			}
			Notef(ctx, fmt.Sprintf("%s at %s", o.Redis.Image, o.Redis.Addr()))
			return nil
		}},
	)
	if !o.SkipFakeInference {
		steps = append(steps, Step{Name: "fake inference server", Run: func(ctx context.Context) error {
			fo := o.FakeInference
			fo.Image = s.FakeInferenceImage
			if err := s.Client.InstallFakeInference(ctx, fo); err != nil {
				return err
			}
			Notef(ctx, fmt.Sprintf("preset %s at %s", orElse(fo.Preset, "default"), fo.URL()))
			return nil
		}})
	}
	return steps
}

// Up runs Steps, reporting to progress (which may be nil).
func (s *Stack) Up(ctx context.Context, progress Progress) error {
	return RunSteps(ctx, s.Steps(), progress)
}

func (s *Stack) connect(ctx context.Context) error {
	var (
		t   *cluster.Target
		err error
	)
	if s.opts.Kind != nil {
		ko := *s.opts.Kind
		if ko.Log == nil {
			ko.Log = s.opts.Log
		}
		t, err = cluster.Create(ctx, ko)
	} else {
		t, err = cluster.Connect(ctx, s.opts.Connect)
	}
	if err != nil {
		return err
	}
	c, err := NewClient(t.Config)
	if err != nil {
		return fmt.Errorf("%s %q: %w", t.Type, t.Name, err)
	}
	s.Target, s.Client = t, c
	v, _ := t.ServerVersion(ctx)
	verb := "using"
	if t.Type == cluster.TypeKind {
		verb = map[bool]string{true: "created", false: "reused"}[t.Created]
	}
	Notef(ctx, fmt.Sprintf("%s %s cluster %s (Kubernetes %s)", verb, t.Type, t.Name, orElse(v, "?")))
	return nil
}

func (s *Stack) build(ctx context.Context) error {
	bo := s.opts.Images
	if bo.Log == nil {
		bo.Log = s.opts.Log
	}
	var comps []images.Component
	if s.WorkerImage == "" {
		comps = append(comps, images.Worker)
	}
	if !s.opts.SkipFakeInference && s.FakeInferenceImage == "" {
		comps = append(comps, images.FakeInference)
	}
	bo.Components = comps
	imgs, err := images.Build(ctx, bo)
	if err != nil {
		return err
	}
	s.Images = imgs
	var refs []string
	for _, img := range imgs {
		refs = append(refs, img.Ref)
		switch img.Name {
		case images.Worker.Name:
			s.WorkerImage = img.Ref
		case images.FakeInference.Name:
			s.FakeInferenceImage = img.Ref
		}
	}
	Notef(ctx, strings.Join(refs, ", "))
	return nil
}

// load puts every image the stack runs into the kind nodes: the images built
// here, and the third-party images (KEDA, metrics-server, Redis) when the
// local docker daemon has them; the others are pulled by the nodes.
func (s *Stack) load(ctx context.Context) error {
	if !s.Target.CanLoadImages() {
		if len(s.Images) > 0 {
			return fmt.Errorf("load images into %s %q: %w; push the worker and fakeinference images to a registry the cluster can pull from and pass their references",
				s.Target.Type, s.Target.Name, cluster.ErrNotKind)
		}
		Notef(ctx, "not a kind cluster: nodes pull the images")
		return nil
	}
	rep, err := images.Load(ctx, s.Target, s.Images)
	s.Loaded = append(s.Loaded, rep.Loaded...)
	s.Present = append(s.Present, rep.Present...)
	if err != nil {
		return err
	}
	var third []string
	third = append(third, s.opts.KEDA.Images...)
	third = append(third, s.opts.Redis.Image)
	if !s.opts.SkipMetricsServer && s.opts.MetricsServer.Image != "" {
		third = append(third, s.opts.MetricsServer.Image)
	}
	var local, pulled []string
	for _, ref := range third {
		if _, err := cluster.DockerImageID(ctx, ref); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			pulled = append(pulled, ref)
			continue
		}
		local = append(local, ref)
	}
	if len(local) > 0 {
		rep, err := s.Target.LoadDockerImages(ctx, local...)
		s.Loaded = append(s.Loaded, rep.Loaded...)
		s.Present = append(s.Present, rep.Present...)
		if err != nil {
			return err
		}
	}
	note := fmt.Sprintf("%d loaded, %d already there", len(s.Loaded), len(s.Present))
	if len(pulled) > 0 {
		note += fmt.Sprintf(", %d pulled by the nodes", len(pulled))
	}
	Notef(ctx, note)
	return nil
}

func (s *Stack) metricsServer(ctx context.Context) error {
	o := s.opts.MetricsServer
	if s.Target.Type == cluster.TypeKind {
		o.KubeletInsecureTLS = true
	}
	st, err := s.Client.InstallMetricsServer(ctx, o)
	s.MetricsServer = st
	if err != nil {
		return err
	}
	Notef(ctx, map[bool]string{true: "installed", false: "already there"}[st.Applied])
	return nil
}

func (s *Stack) keda(ctx context.Context) error {
	st, err := s.Client.InstallKEDA(ctx, s.opts.KEDA)
	s.KEDA = st
	if err != nil {
		return err
	}
	note := st.String()
	switch {
	case st.Applied:
		note = "installed " + note
	case st.Version != "" && st.Version != s.opts.KEDA.Version:
		note = fmt.Sprintf("kept %s (burst pins %s; reinstall to change)", note, s.opts.KEDA.Version)
	default:
		note = "kept " + note
	}
	Notef(ctx, note)
	return nil
}
