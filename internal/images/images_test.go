package images

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func spec(binary string) Spec {
	return Spec{
		Component: Component{Name: "worker", Package: "./cmd/worker", Ports: []int{8080}},
		Binary:    []byte(binary),
		GOARCH:    "amd64",
		CACerts:   []byte("-----BEGIN CERTIFICATE-----\n"),
	}
}

func TestAssembleWriteReadBack(t *testing.T) {
	t.Parallel()
	img, err := Assemble(spec("\x7fELF fake binary"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	got, err := WriteTarball(img, "burst/worker", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Ref, "burst/worker:") || len(got.Ref) != len("burst/worker:")+TagLen {
		t.Errorf("Ref = %q, want burst/worker:<%d hex>", got.Ref, TagLen)
	}
	if !strings.HasPrefix(got.ID, "sha256:") || !strings.HasPrefix(got.ID, "sha256:"+strings.TrimPrefix(got.Ref, "burst/worker:")) {
		t.Errorf("ID = %q does not start with the tag of %q", got.ID, got.Ref)
	}
	if got.Name != "worker" {
		t.Errorf("Name = %q, want worker", got.Name)
	}

	tag, err := name.NewTag(got.Ref)
	if err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(got.TarPath, &tag)
	if err != nil {
		t.Fatalf("read back %s: %v", got.TarPath, err)
	}
	cfg, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/worker"}; !reflect.DeepEqual(cfg.Config.Entrypoint, want) {
		t.Errorf("Entrypoint = %q, want %q", cfg.Config.Entrypoint, want)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("User = %q, want 65532:65532", cfg.Config.User)
	}
	if _, ok := cfg.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("ExposedPorts = %v, want 8080/tcp", cfg.Config.ExposedPorts)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("platform = %s/%s, want linux/amd64", cfg.OS, cfg.Architecture)
	}
	id, err := back.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if id.String() != got.ID {
		t.Errorf("read-back ID = %s, want %s", id, got.ID)
	}

	layers, err := back.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers = %d, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]*tar.Header{}
	contents := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = h
		b, _ := io.ReadAll(tr)
		contents[h.Name] = string(b)
	}
	for _, want := range []struct {
		name string
		mode int64
	}{
		{"worker", 0o755},
		{"etc/passwd", 0o644},
		{"etc/group", 0o644},
		{"etc/ssl/certs/ca-certificates.crt", 0o644},
		{"tmp/", 0o1777},
		{"home/nonroot/", 0o700},
	} {
		h, ok := files[want.name]
		if !ok {
			t.Errorf("layer lacks %s", want.name)
			continue
		}
		if h.Mode != want.mode {
			t.Errorf("%s mode = %o, want %o", want.name, h.Mode, want.mode)
		}
	}
	if !strings.Contains(contents["etc/passwd"], "nonroot:x:65532:65532:") {
		t.Errorf("passwd = %q, want a nonroot entry", contents["etc/passwd"])
	}
	if contents["worker"] != "\x7fELF fake binary" {
		t.Errorf("binary content = %q", contents["worker"])
	}
}

func TestTagFollowsContent(t *testing.T) {
	t.Parallel()
	tagOf := func(s Spec) string {
		t.Helper()
		img, err := Assemble(s)
		if err != nil {
			t.Fatal(err)
		}
		tag, err := Tag(img)
		if err != nil {
			t.Fatal(err)
		}
		return tag
	}
	a1, a2 := tagOf(spec("binary A")), tagOf(spec("binary A"))
	b := tagOf(spec("binary B"))
	noCerts := spec("binary A")
	noCerts.CACerts = nil
	if a1 != a2 {
		t.Errorf("same spec gave tags %s and %s; assembly must be deterministic", a1, a2)
	}
	if a1 == b {
		t.Errorf("different binaries gave the same tag %s", a1)
	}
	if c := tagOf(noCerts); c == a1 {
		t.Errorf("without CA certificates the tag is unchanged (%s)", c)
	}
}

func TestAssembleRejectsEmpty(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"no name", Spec{Binary: []byte("x")}},
		{"no binary", Spec{Component: Component{Name: "worker"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Assemble(tc.spec); err == nil {
				t.Error("Assemble succeeded, want an error")
			}
		})
	}
}

func TestWriteTarballKeepsExisting(t *testing.T) {
	t.Parallel()
	img, err := Assemble(spec("bin"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first, err := WriteTarball(img, "burst/worker", dir)
	if err != nil {
		t.Fatal(err)
	}
	st1, _ := os.Stat(first.TarPath)
	second, err := WriteTarball(img, "burst/worker", dir)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(second.TarPath)
	if first != second || !st1.ModTime().Equal(st2.ModTime()) {
		t.Errorf("second write changed the result: %+v vs %+v", first, second)
	}
}

// TestBuild compiles a tiny main package in a throwaway module, the way Build
// compiles cmd/worker and cmd/fakeinference.
func TestBuild(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/hello\n\ngo 1.26\n")
	write("cmd/hello/main.go", "package main\n\nfunc main() { println(\"hello\") }\n")
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	imgs, err := Build(ctx, Options{
		RepoRoot:   root,
		Components: []Component{{Name: "hello", Package: "./cmd/hello", Ports: []int{9000}}},
		CACerts:    "-",
		Log:        &log,
	})
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	if len(imgs) != 1 {
		t.Fatalf("Build returned %d images, want 1", len(imgs))
	}
	img := imgs[0]
	if img.Name != "hello" || !strings.HasPrefix(img.Ref, "burst/hello:") {
		t.Errorf("image = %+v", img)
	}
	if got, ok := Find(imgs, "hello"); !ok || got != img {
		t.Errorf("Find(hello) = %+v, %v", got, ok)
	}
	if _, err := tarball.ImageFromPath(img.TarPath, nil); err != nil {
		t.Errorf("tarball %s does not read back: %v", img.TarPath, err)
	}
	again, err := Build(ctx, Options{
		RepoRoot:   root,
		Components: []Component{{Name: "hello", Package: "./cmd/hello", Ports: []int{9000}}},
		CACerts:    "-",
	})
	if err != nil {
		t.Fatal(err)
	}
	if again[0] != img {
		t.Errorf("rebuild gave %+v, want the same image %+v (reproducible build)", again[0], img)
	}
}
