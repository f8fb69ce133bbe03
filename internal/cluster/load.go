package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
)

// ImageRef names an image and its ID: the digest of its config ("sha256:…"),
// which is what `docker image inspect -f {{.Id}}` and `crictl inspecti`
// report for the same image.
type ImageRef struct {
	Name string
	ID   string
}

// LoadReport says what a load did, as "IMAGE on NODE" entries.
type LoadReport struct {
	// Loaded lists the images that were imported into a node.
	Loaded []string
	// Present lists the images a node already held with the same ID.
	Present []string
}

func (r *LoadReport) add(o LoadReport) {
	r.Loaded = append(r.Loaded, o.Loaded...)
	r.Present = append(r.Present, o.Present...)
}

// ErrNotKind reports that the target is not a kind cluster on this machine:
// its nodes cannot be reached to load images (they must come from a
// registry), and burst does not delete it.
var ErrNotKind = errors.New("not a kind cluster on this machine")

// CanLoadImages reports whether images can be loaded into the target's nodes.
func (t *Target) CanLoadImages() bool { return t.provider != nil }

// Nodes returns the names of the target's kind nodes (not the external load
// balancer).
func (t *Target) Nodes(ctx context.Context) ([]string, error) {
	ns, err := t.nodes(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = n.String()
	}
	return names, nil
}

func (t *Target) nodes(ctx context.Context) ([]nodes.Node, error) {
	if t.provider == nil {
		return nil, ErrNotKind
	}
	var ns []nodes.Node
	err := do(ctx, func() (err error) { ns, err = t.provider.ListInternalNodes(t.Name); return err })
	if err != nil {
		return nil, fmt.Errorf("list nodes of kind cluster %q: %w", t.Name, err)
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("kind cluster %q has no nodes", t.Name)
	}
	return ns, nil
}

// ImageIDs returns the ID of image name on each node that holds it, keyed by
// node name.
func (t *Target) ImageIDs(ctx context.Context, name string) (map[string]string, error) {
	ns, err := t.nodes(ctx)
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, n := range ns {
		if id := nodeImageID(ctx, n, name); id != "" {
			ids[n.String()] = id
		}
	}
	return ids, nil
}

// nodeImageID returns the ID of image name on node n, or "" when n does not
// hold it (or cannot say).
func nodeImageID(ctx context.Context, n nodes.Node, name string) string {
	var id string
	_ = do(ctx, func() (err error) { id, err = nodeutils.ImageID(n, name); return err })
	return id
}

// missing returns, per node, the images that node lacks (by name and ID).
func (t *Target) missing(ctx context.Context, images []ImageRef) (map[nodes.Node][]ImageRef, LoadReport, error) {
	ns, err := t.nodes(ctx)
	if err != nil {
		return nil, LoadReport{}, err
	}
	out := map[nodes.Node][]ImageRef{}
	var rep LoadReport
	for _, n := range ns {
		for _, img := range images {
			if img.ID != "" && nodeImageID(ctx, n, img.Name) == img.ID {
				rep.Present = append(rep.Present, img.Name+" on "+n.String())
				continue
			}
			out[n] = append(out[n], img)
		}
		if err := ctx.Err(); err != nil {
			return nil, rep, err
		}
	}
	return out, rep, nil
}

// LoadArchive imports the docker-archive tarball at path (as written by
// `docker save` or go-containerregistry's tarball.Write) into every node that
// lacks one of images (compared by ID). With no images it loads into every
// node unconditionally.
func (t *Target) LoadArchive(ctx context.Context, path string, images ...ImageRef) (LoadReport, error) {
	what := fmt.Sprintf("load image archive %s into kind cluster %q", filepath.Base(path), t.Name)
	var need map[nodes.Node][]ImageRef
	var rep LoadReport
	if len(images) == 0 {
		ns, err := t.nodes(ctx)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", what, err)
		}
		need = map[nodes.Node][]ImageRef{}
		for _, n := range ns {
			need[n] = []ImageRef{{Name: filepath.Base(path)}}
		}
	} else {
		var err error
		need, rep, err = t.missing(ctx, images)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", what, err)
		}
	}
	got, err := loadInto(ctx, path, need)
	rep.add(got)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", what, err)
	}
	return rep, nil
}

// LoadDockerImages loads images from the local docker daemon into every node
// that does not already hold them with the same ID. Only the missing images
// are exported (`docker save`), once, and imported into the nodes in
// parallel. An image that is not in the local daemon is an error.
func (t *Target) LoadDockerImages(ctx context.Context, names ...string) (LoadReport, error) {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	what := fmt.Sprintf("load images %s into kind cluster %q", strings.Join(names, ", "), t.Name)
	if t.provider == nil {
		return LoadReport{}, fmt.Errorf("%s: %w", what, ErrNotKind)
	}
	refs := make([]ImageRef, 0, len(names))
	for _, name := range names {
		id, err := DockerImageID(ctx, name)
		if err != nil {
			return LoadReport{}, fmt.Errorf("%s: %w", what, err)
		}
		refs = append(refs, ImageRef{Name: name, ID: id})
	}
	need, rep, err := t.missing(ctx, refs)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", what, err)
	}
	var save []string
	for _, imgs := range need {
		for _, img := range imgs {
			if !slices.Contains(save, img.Name) {
				save = append(save, img.Name)
			}
		}
	}
	if len(save) == 0 {
		return rep, nil
	}
	dir, err := os.MkdirTemp("", "burst-images-")
	if err != nil {
		return rep, fmt.Errorf("%s: %w", what, err)
	}
	defer os.RemoveAll(dir)
	tar := filepath.Join(dir, "images.tar")
	if err := docker(ctx, append([]string{"save", "-o", tar}, save...)...); err != nil {
		return rep, fmt.Errorf("%s: %w", what, err)
	}
	got, err := loadInto(ctx, tar, need)
	rep.add(got)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", what, err)
	}
	return rep, nil
}

// loadInto imports the archive at path into each node of need, in parallel.
func loadInto(ctx context.Context, path string, need map[nodes.Node][]ImageRef) (LoadReport, error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		rep  LoadReport
		errs []error
	)
	for n, imgs := range need {
		if len(imgs) == 0 {
			continue
		}
		wg.Go(func() {
			err := do(ctx, func() error {
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				defer f.Close()
				return nodeutils.LoadImageArchive(n, f)
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("node %s: %w", n, err))
				return
			}
			for _, img := range imgs {
				rep.Loaded = append(rep.Loaded, img.Name+" on "+n.String())
			}
		})
	}
	wg.Wait()
	slices.Sort(rep.Loaded)
	return rep, errors.Join(errs...)
}

// DockerImageID returns the ID of image name in the local docker daemon, or
// an error saying it is not there.
func DockerImageID(ctx context.Context, name string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", "image", "inspect", "-f", "{{.Id}}", name)
	cmd.Stdout = &out
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("image %q is not in the local docker daemon: %s", name, firstLine(stderr.String(), err))
	}
	return strings.TrimSpace(out.String()), nil
}

// docker runs the docker CLI with args.
func docker(ctx context.Context, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("docker %s: %s", args[0], firstLine(stderr.String(), err))
	}
	return nil
}

func firstLine(s string, err error) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return err.Error()
	}
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// ExportLogs writes the kind cluster's logs (nodes, containers, journal)
// under dir, as `kind export logs` does.
func (t *Target) ExportLogs(ctx context.Context, dir string) error {
	if t.provider == nil {
		return fmt.Errorf("export logs of %s %q: %w", t.Type, t.Name, ErrNotKind)
	}
	if err := do(ctx, func() error { return t.provider.CollectLogs(t.Name, dir) }); err != nil {
		return fmt.Errorf("export logs of kind cluster %q to %s: %w", t.Name, dir, err)
	}
	return nil
}

// Delete deletes the target when it is a kind cluster; an existing cluster
// reached by kubeconfig is never deleted (ErrNotKind).
func (t *Target) Delete(ctx context.Context) error {
	if t.provider == nil {
		return fmt.Errorf("delete %s %q: burst deletes only the kind clusters it creates: %w", t.Type, t.Name, ErrNotKind)
	}
	if err := do(ctx, func() error { return t.provider.Delete(t.Name, "") }); err != nil {
		return fmt.Errorf("delete kind cluster %q: %w", t.Name, err)
	}
	return nil
}
