package results

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// clusterTimeline is a scale-from-zero run as the cluster target records it.
func clusterTimeline() []TimelineRow {
	var rows []TimelineRow
	for i := range 40 {
		ms := float64(i * 500)
		lag := max(0, 50-float64(i)*3)
		rows = append(rows, TimelineRow{Ms: ms, Source: "redis", Kind: "sample",
			Values: map[string]float64{"lag": lag, "pending": min(8, 50-lag), "results": min(50, float64(i)*2), "consumers": 3}})
	}
	rows = append(rows,
		TimelineRow{Ms: 1200, Source: "scaledobject", Kind: "active", Values: map[string]float64{"active": 1}},
		TimelineRow{Ms: 1250, Source: "event", Kind: "KEDAScaleTargetActivated", Object: "Deployment/worker"},
		TimelineRow{Ms: 1300, Source: "deployment", Kind: "replicas", Values: map[string]float64{"spec_replicas": 1, "replicas": 1, "ready_replicas": 0}},
		TimelineRow{Ms: 4000, Source: "deployment", Kind: "replicas", Values: map[string]float64{"spec_replicas": 1, "replicas": 1, "ready_replicas": 1}},
		TimelineRow{Ms: 16000, Source: "hpa", Kind: "status", Values: map[string]float64{"desired_replicas": 4, "current_replicas": 1}},
		TimelineRow{Ms: 16100, Source: "event", Kind: "SuccessfulRescale", Object: "HorizontalPodAutoscaler/keda-hpa-worker"},
		TimelineRow{Ms: 9000, Source: "event", Kind: "FailedScheduling", Object: "Pod/worker-x"},
		TimelineRow{Ms: 16200, Source: "deployment", Kind: "replicas", Values: map[string]float64{"spec_replicas": 4, "replicas": 4, "ready_replicas": 1}},
		TimelineRow{Ms: 19000, Source: "deployment", Kind: "replicas", Values: map[string]float64{"spec_replicas": 4, "replicas": 4, "ready_replicas": 4}},
	)
	return rows
}

// checkPNG decodes a PNG and checks its size.
func checkPNG(t *testing.T, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 400 || r.Dy() < 300 {
		t.Errorf("PNG is %dx%d, want at least 400x300", r.Dx(), r.Dy())
	}
}

// checkSVG parses an SVG document as XML and returns its text content.
func checkSVG(t *testing.T, b []byte) string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var text strings.Builder
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = x.Name.Local
			}
		case xml.CharData:
			text.Write(x)
			text.WriteByte('\n')
		}
	}
	if root != "svg" {
		t.Fatalf("SVG root element is %q, want svg", root)
	}
	return text.String()
}

func TestWriteProducesTimelineImages(t *testing.T) {
	tests := []struct {
		name     string
		timeline []TimelineRow
		want     []string // legend and labels in the SVG
		notWant  []string
	}{
		{"cluster", clusterTimeline(), []string{"lag (undelivered)", "pending (delivered, not acked)", "desired (Deployment spec)", "desired (HPA)",
			"ready", "finished tasks (result records)", "scale event", "ScaledObject active", "SuccessfulRescale"}, []string{"Redis consumers", "FailedScheduling"}},
		{"local", clusterTimeline()[:40], []string{"lag (undelivered)", "worker processes (Redis consumers)"}, []string{"desired (HPA)", "scale event"}},
		{"empty", nil, []string{"(not observed)"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "run")
			if err := Write(dir, &Run{Summary: Summary{RunID: "r1", ScenarioName: "spike"}, Timeline: tc.timeline}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, TimelinePNG))
			if err != nil {
				t.Fatal(err)
			}
			checkPNG(t, b)
			b, err = os.ReadFile(filepath.Join(dir, TimelineSVG))
			if err != nil {
				t.Fatal(err)
			}
			text := checkSVG(t, b)
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("SVG lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(text, w) {
					t.Errorf("SVG has %q", w)
				}
			}
		})
	}
}

func TestWriteChart(t *testing.T) {
	c, err := Compare(sweepFixture())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := c.WriteChart(&b, "png"); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, b.Bytes())
	b.Reset()
	if err := c.WriteChart(&b, "svg"); err != nil {
		t.Fatal(err)
	}
	text := checkSVG(t, b.Bytes())
	for _, w := range []string{"#1", "#2", "#3", "#4", "Pareto front", "completion p95 (s)", "cost (USD)"} {
		if !strings.Contains(text, w) {
			t.Errorf("chart lacks %q", w)
		}
	}
	if err := c.WriteChart(&b, "gif"); err == nil {
		t.Error("WriteChart(gif) succeeded, want an error")
	}
}
