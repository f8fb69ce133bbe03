package loadprofiles

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDocsExamples parses every YAML example in docs/profiles.md, so the
// user documentation cannot drift from the parser. Whole profiles are
// parsed as they are; a stage snippet ("- shape: ...") is wrapped in a
// stages list and a task block is given a stage.
func TestDocsExamples(t *testing.T) {
	data, err := os.ReadFile("../docs/profiles.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(blocks) < 10 {
		t.Fatalf("found %d yaml examples, want at least 10", len(blocks))
	}
	for i, b := range blocks {
		src := b[1]
		switch {
		case strings.HasPrefix(src, "- shape:"):
			src = "stages:\n" + indent(src)
		case strings.HasPrefix(src, "task:"):
			src += "stages: [{shape: burst, count: 1}]\n"
		}
		if strings.Contains(src, "file: traces/") {
			continue // names a file that is not shipped
		}
		p, err := Parse("docs-example.yaml", []byte(src))
		if err != nil {
			t.Errorf("example %d:\n%s\n%v", i+1, b[1], err)
			continue
		}
		s, err := p.Schedule()
		if err != nil {
			t.Errorf("example %d: Schedule: %v", i+1, err)
			continue
		}
		// The first example states its size and length in the text.
		if i == 0 && (s.Duration != 150*time.Second || s.Len() < 1000 || s.Len() > 1150) {
			t.Errorf("the complete example has %d tasks over %s; the text says about 1070 over 2m30s", s.Len(), s.Duration)
		}
	}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}
