package deploy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Decode splits a multi-document YAML (or JSON) manifest into objects. Empty
// documents are skipped and v1 List objects are flattened into their items.
// An object without apiVersion or kind is an error naming the document.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("manifest document %d: %w", doc, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("manifest document %d: %w", doc, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("manifest document %d: apiVersion and kind are required", doc)
		}
		if u.IsList() {
			err := u.EachListItem(func(o runtime.Object) error {
				item, ok := o.(*unstructured.Unstructured)
				if !ok {
					return fmt.Errorf("list item is %T", o)
				}
				out = append(out, item)
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("manifest document %d: %w", doc, err)
			}
			continue
		}
		out = append(out, u)
	}
}

// Encode renders objs as one multi-document YAML manifest, keys sorted, in
// the given order. It is the inverse of Decode.
func Encode(objs []*unstructured.Unstructured) ([]byte, error) {
	var buf bytes.Buffer
	for i, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", describe(o), err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// ReadManifest returns the manifest at src: an http(s) URL or a file path.
func ReadManifest(ctx context.Context, src string) ([]byte, error) {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		return b, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, fmt.Errorf("download manifest %s: %w", src, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download manifest %s: %w (offline? pass a local file instead)", src, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download manifest %s: %s", src, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("download manifest %s: %w", src, err)
	}
	return b, nil
}

// podSpecPaths lists where the pod template's spec lives per workload kind.
var podSpecPaths = map[string][]string{
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"Pod":         {"spec"},
}

// eachContainer calls f with every container map (init containers too) of
// the workloads in objs.
func eachContainer(objs []*unstructured.Unstructured, f func(o *unstructured.Unstructured, c map[string]any)) {
	for _, o := range objs {
		path, ok := podSpecPaths[o.GetKind()]
		if !ok {
			continue
		}
		for _, field := range []string{"initContainers", "containers"} {
			cs, found, err := unstructured.NestedSlice(o.Object, append(slices.Clone(path), field)...)
			if !found || err != nil {
				continue
			}
			for _, c := range cs {
				if m, ok := c.(map[string]any); ok {
					f(o, m)
				}
			}
			_ = unstructured.SetNestedSlice(o.Object, cs, append(slices.Clone(path), field)...)
		}
	}
}

// Images returns the container images the workloads in objs run, sorted,
// without duplicates.
func Images(objs []*unstructured.Unstructured) []string {
	var out []string
	eachContainer(objs, func(_ *unstructured.Unstructured, c map[string]any) {
		if img, ok := c["image"].(string); ok && img != "" {
			out = append(out, img)
		}
	})
	slices.Sort(out)
	return slices.Compact(out)
}

// OverrideImages replaces container images in objs: each reference in refs
// replaces the images whose repository has the same last path element
// ("mirror.local/kedacore/keda:v2.20.2" replaces "ghcr.io/kedacore/keda:v2.20.2").
// It returns the replacements made as "old → new".
func OverrideImages(objs []*unstructured.Unstructured, refs []string) []string {
	byBase := map[string]string{}
	for _, r := range refs {
		if r = strings.TrimSpace(r); r != "" {
			byBase[imageBase(r)] = r
		}
	}
	var done []string
	eachContainer(objs, func(_ *unstructured.Unstructured, c map[string]any) {
		old, _ := c["image"].(string)
		if repl, ok := byBase[imageBase(old)]; ok && old != repl {
			c["image"] = repl
			done = append(done, old+" → "+repl)
		}
	})
	slices.Sort(done)
	return slices.Compact(done)
}

// SetPullPolicy sets imagePullPolicy of every container in objs whose policy
// is from (any policy when from is empty) to policy.
func SetPullPolicy(objs []*unstructured.Unstructured, from, policy string) {
	eachContainer(objs, func(_ *unstructured.Unstructured, c map[string]any) {
		if cur, _ := c["imagePullPolicy"].(string); from == "" || cur == from {
			c["imagePullPolicy"] = policy
		}
	})
}

// imageBase returns the last path element of an image's repository:
// "ghcr.io/kedacore/keda:v2.20.2@sha256:…" → "keda".
func imageBase(ref string) string {
	repo, _ := splitImage(ref)
	return repo[strings.LastIndex(repo, "/")+1:]
}

// splitImage splits an image reference into repository and tag ("" when the
// reference has no tag); a digest is dropped.
func splitImage(ref string) (repo, tag string) {
	ref, _, _ = strings.Cut(ref, "@")
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[:colon], ref[colon+1:]
	}
	return ref, ""
}

// ImageVersion returns the version in an image reference's tag, with a "v"
// prefix ("ghcr.io/kedacore/keda:2.20.2" → "v2.20.2"), or "" when the tag is
// missing or not a version (latest, main, a digest only).
func ImageVersion(ref string) string {
	_, tag := splitImage(ref)
	return normalizeVersion(tag)
}

// normalizeVersion returns v as "vMAJOR.MINOR[.PATCH…]", or "" when v does
// not start with a number.
func normalizeVersion(v string) string {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	if v == "" || v[0] < '0' || v[0] > '9' || !strings.Contains(v, ".") {
		return ""
	}
	return "v" + v
}

// describe names an object for messages: "Deployment keda/keda-operator".
func describe(o *unstructured.Unstructured) string {
	if ns := o.GetNamespace(); ns != "" {
		return o.GetKind() + " " + ns + "/" + o.GetName()
	}
	return o.GetKind() + " " + o.GetName()
}

// ofKind returns the objects of kind in objs.
func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}
