package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/burstbench/burst/internal/cluster"
)

// Component is one image burst builds.
type Component struct {
	// Name is the image and binary name ("worker").
	Name string
	// Package is the main package, relative to the repository root.
	Package string
	// Ports are the TCP ports the binary listens on by default.
	Ports []int
}

// The components burst builds by default.
var (
	Worker        = Component{Name: "worker", Package: "./cmd/worker", Ports: []int{8080}}
	FakeInference = Component{Name: "fakeinference", Package: "./cmd/fakeinference", Ports: []int{8000}}
)

// DefaultRepository prefixes the image names: burst/worker, burst/fakeinference.
const DefaultRepository = "burst"

// DefaultCACerts is the host CA bundle copied into the images when present.
const DefaultCACerts = "/etc/ssl/certs/ca-certificates.crt"

// NonrootUID is the user (and group) the images run as.
const NonrootUID = 65532

// Options configure Build.
type Options struct {
	// RepoRoot is the root of the burst module; empty means ".".
	RepoRoot string
	// OutDir receives the binaries (OutDir/bin/linux_ARCH/) and the image
	// tarballs; empty means RepoRoot/dist/images.
	OutDir string
	// Repository prefixes the image names; empty means DefaultRepository.
	Repository string
	// GOARCH is the target architecture; empty means this machine's, which is
	// the architecture of its kind nodes.
	GOARCH string
	// LDFlags are added to "-s -w" (e.g. "-X main.version=v1.2.3").
	LDFlags string
	// Components to build; nil means Worker and FakeInference.
	Components []Component
	// CACerts is the CA bundle to copy into the images; empty means
	// DefaultCACerts when it exists, "-" means none.
	CACerts string
	// Log receives one line per step; nil discards them.
	Log io.Writer
}

func (o Options) withDefaults() Options {
	if o.RepoRoot == "" {
		o.RepoRoot = "."
	}
	if o.OutDir == "" {
		o.OutDir = filepath.Join(o.RepoRoot, "dist", "images")
	}
	if o.Repository == "" {
		o.Repository = DefaultRepository
	}
	if o.GOARCH == "" {
		o.GOARCH = runtime.GOARCH
	}
	if o.Components == nil {
		o.Components = []Component{Worker, FakeInference}
	}
	if o.CACerts == "" {
		if _, err := os.Stat(DefaultCACerts); err == nil {
			o.CACerts = DefaultCACerts
		}
	}
	if o.CACerts == "-" {
		o.CACerts = ""
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// Image is a built image.
type Image struct {
	// Name is the component name ("worker").
	Name string
	// Ref is the image reference pods use: "burst/worker:0123456789ab".
	Ref string
	// ID is the digest of the image config ("sha256:…"), the image ID docker
	// and containerd report.
	ID string
	// TarPath is the docker-archive tarball holding the image under Ref.
	TarPath string
}

// ClusterRef returns the image as internal/cluster names it for loading.
func (i Image) ClusterRef() cluster.ImageRef { return cluster.ImageRef{Name: i.Ref, ID: i.ID} }

// Find returns the image of component name from imgs.
func Find(imgs []Image, name string) (Image, bool) {
	i := slices.IndexFunc(imgs, func(img Image) bool { return img.Name == name })
	if i < 0 {
		return Image{}, false
	}
	return imgs[i], true
}

// Build compiles the components' binaries for linux/GOARCH in one `go build`
// and assembles each into an image tarball under o.OutDir. Tarballs that
// already exist for the same content are reused.
func Build(ctx context.Context, o Options) ([]Image, error) {
	o = o.withDefaults()
	binDir := filepath.Join(o.OutDir, "bin", "linux_"+o.GOARCH)
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, fmt.Errorf("build images: %w", err)
	}
	names := make([]string, len(o.Components))
	for i, c := range o.Components {
		names[i] = c.Name
	}
	fmt.Fprintf(o.Log, "images: go build %s for linux/%s\n", strings.Join(names, ", "), o.GOARCH)
	if err := goBuild(ctx, o, binDir); err != nil {
		return nil, fmt.Errorf("build images %s: %w", strings.Join(names, ", "), err)
	}
	var caCerts []byte
	if o.CACerts != "" {
		b, err := os.ReadFile(o.CACerts)
		if err != nil {
			return nil, fmt.Errorf("build images: CA certificates: %w", err)
		}
		caCerts = b
	}
	out := make([]Image, 0, len(o.Components))
	for _, c := range o.Components {
		bin, err := os.ReadFile(filepath.Join(binDir, c.Name))
		if err != nil {
			return nil, fmt.Errorf("build image %s: %w", c.Name, err)
		}
		img, err := Assemble(Spec{Component: c, Binary: bin, GOARCH: o.GOARCH, CACerts: caCerts})
		if err != nil {
			return nil, fmt.Errorf("build image %s: %w", c.Name, err)
		}
		built, err := WriteTarball(img, o.Repository+"/"+c.Name, o.OutDir)
		if err != nil {
			return nil, fmt.Errorf("build image %s: %w", c.Name, err)
		}
		built.Name = c.Name
		prune(built, o.Repository+"/"+c.Name, o.OutDir)
		fmt.Fprintf(o.Log, "images: %s (%s)\n", built.Ref, built.TarPath)
		out = append(out, built)
	}
	return out, nil
}

func goBuild(ctx context.Context, o Options, binDir string) error {
	ldflags := "-s -w"
	if o.LDFlags != "" {
		ldflags += " " + o.LDFlags
	}
	abs, err := filepath.Abs(binDir)
	if err != nil {
		return err
	}
	args := []string{"build", "-trimpath", "-ldflags", ldflags, "-o", abs + string(filepath.Separator)}
	for _, c := range o.Components {
		args = append(args, c.Package)
	}
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = o.RepoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.GOARCH)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// goTool returns the go command of the running toolchain when it exists,
// else "go" from PATH.
func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

// Spec describes one image to assemble.
type Spec struct {
	Component
	// Binary is the static linux executable, installed as /NAME.
	Binary []byte
	// GOARCH is the image architecture (amd64, arm64).
	GOARCH string
	// CACerts, when not empty, is installed as /etc/ssl/certs/ca-certificates.crt.
	CACerts []byte
}

// Assemble builds a one-layer image from s: /NAME (the binary, mode 0755),
// /etc/passwd and /etc/group with root and nonroot (65532), the CA bundle,
// /home/nonroot and /tmp (1777). The image runs /NAME as 65532:65532 and
// exposes s.Ports. Assembly is deterministic: the same spec gives the same
// image ID.
func Assemble(s Spec) (v1.Image, error) {
	if s.Name == "" || len(s.Binary) == 0 {
		return nil, errors.New("assemble image: name and binary are required")
	}
	layerTar, err := rootfs(s)
	if err != nil {
		return nil, fmt.Errorf("assemble image %s: %w", s.Name, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		return nil, fmt.Errorf("assemble image %s: layer: %w", s.Name, err)
	}
	ports := map[string]struct{}{}
	for _, p := range s.Ports {
		ports[strconv.Itoa(p)+"/tcp"] = struct{}{}
	}
	uid := strconv.Itoa(NonrootUID)
	cfg := &v1.ConfigFile{
		Architecture: s.GOARCH,
		OS:           "linux",
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint:   []string{"/" + s.Name},
			User:         uid + ":" + uid,
			WorkingDir:   "/",
			Env:          []string{"PATH=/"},
			ExposedPorts: ports,
			Labels: map[string]string{
				"org.opencontainers.image.title":  s.Name,
				"org.opencontainers.image.source": "https://github.com/burstbench/burst",
			},
		},
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, fmt.Errorf("assemble image %s: config: %w", s.Name, err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{CreatedBy: "burst images: " + s.Package, Comment: "static binary, passwd, CA certificates, /tmp"},
	})
	if err != nil {
		return nil, fmt.Errorf("assemble image %s: %w", s.Name, err)
	}
	return img, nil
}

// rootfs returns the layer's tar stream with fixed times and owners.
func rootfs(s Spec) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0).UTC()
	dir := func(name string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: uid, ModTime: epoch, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	uid := strconv.Itoa(NonrootUID)
	passwd := "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:" + uid + ":" + uid + ":nonroot:/home/nonroot:/sbin/nologin\n"
	group := "root:x:0:\nnonroot:x:" + uid + ":\n"
	steps := []func() error{
		func() error { return dir("etc", 0o755, 0) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return dir("home", 0o755, 0) },
		func() error { return dir("home/nonroot", 0o700, NonrootUID) },
		func() error { return dir("tmp", 0o1777, 0) },
		func() error { return file(s.Name, 0o755, s.Binary) },
	}
	if len(s.CACerts) > 0 {
		steps = append(steps,
			func() error { return dir("etc/ssl", 0o755, 0) },
			func() error { return dir("etc/ssl/certs", 0o755, 0) },
			func() error { return file("etc/ssl/certs/ca-certificates.crt", 0o644, s.CACerts) },
		)
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TagLen is the number of hex digits of the config digest used as the tag.
const TagLen = 12

// Tag returns the content tag of img: the first TagLen hex digits of its
// config digest (its image ID).
func Tag(img v1.Image) (string, error) {
	h, err := img.ConfigName()
	if err != nil {
		return "", err
	}
	return h.Hex[:TagLen], nil
}

// WriteTarball tags img as repository:Tag(img) and writes it as a
// docker-archive tarball into dir, named after the reference; an existing
// tarball for the same reference is kept.
func WriteTarball(img v1.Image, repository, dir string) (Image, error) {
	id, err := img.ConfigName()
	if err != nil {
		return Image{}, fmt.Errorf("write image %s: %w", repository, err)
	}
	tag, err := Tag(img)
	if err != nil {
		return Image{}, fmt.Errorf("write image %s: %w", repository, err)
	}
	ref, err := name.NewTag(repository+":"+tag, name.WeakValidation)
	if err != nil {
		return Image{}, fmt.Errorf("write image %s: %w", repository, err)
	}
	out := Image{
		Name:    filepath.Base(repository),
		Ref:     repository + ":" + tag,
		ID:      id.String(),
		TarPath: filepath.Join(dir, strings.ReplaceAll(repository, "/", "_")+"_"+tag+".tar"),
	}
	if st, err := os.Stat(out.TarPath); err == nil && st.Size() > 0 {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Image{}, fmt.Errorf("write image %s: %w", out.Ref, err)
	}
	tmp := out.TarPath + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		os.Remove(tmp)
		return Image{}, fmt.Errorf("write image %s: %w", out.Ref, err)
	}
	if err := os.Rename(tmp, out.TarPath); err != nil {
		return Image{}, fmt.Errorf("write image %s: %w", out.Ref, err)
	}
	return out, nil
}

// prune removes the tarballs of earlier builds of repository from dir,
// keeping keep's; errors are ignored (it is housekeeping).
func prune(keep Image, repository, dir string) {
	old, _ := filepath.Glob(filepath.Join(dir, strings.ReplaceAll(repository, "/", "_")+"_*.tar"))
	for _, p := range old {
		if p != keep.TarPath && len(filepath.Base(p)) == len(filepath.Base(keep.TarPath)) {
			os.Remove(p)
		}
	}
}

// Load loads imgs into every node of the kind target t that does not already
// hold them with the same ID.
func Load(ctx context.Context, t *cluster.Target, imgs []Image) (cluster.LoadReport, error) {
	var rep cluster.LoadReport
	for _, img := range imgs {
		r, err := t.LoadArchive(ctx, img.TarPath, img.ClusterRef())
		rep.Loaded = append(rep.Loaded, r.Loaded...)
		rep.Present = append(rep.Present, r.Present...)
		if err != nil {
			return rep, fmt.Errorf("load image %s: %w", img.Ref, err)
		}
	}
	return rep, nil
}

// DockerLoad loads imgs into the local docker daemon (`docker load`), for
// users who want to run them with docker or push them to a registry.
func DockerLoad(ctx context.Context, imgs []Image) error {
	for _, img := range imgs {
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, "docker", "load", "-q", "-i", img.TarPath)
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("docker load %s: %w: %s", img.Ref, err, strings.TrimSpace(stderr.String()))
		}
	}
	return nil
}
