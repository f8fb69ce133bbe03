package progress

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestPlainLinesWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf)
	c := p.Counter("enqueue", 50)
	c.Add(20)
	c.SetCurrent(50)
	c.Done(nil)
	s := p.Step("KEDA")
	s.Start()
	s.Status("kept KEDA %s", "v2.20.2")
	s.Done(nil)
	f := p.Step("Redis")
	f.Done(errors.New("boom"))
	f.Done(nil) // a second Done prints nothing
	p.Wait()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{"burst: enqueue 50/50 (", "burst: KEDA (", "burst: Redis ("} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], want)
		}
	}
	if !strings.HasSuffix(lines[1], "kept KEDA v2.20.2") || !strings.HasSuffix(lines[2], "failed: boom") {
		t.Errorf("status lines wrong:\n%s", buf.String())
	}
}

func TestNilIsSilent(t *testing.T) {
	var p *Progress
	b := p.Counter("x", 1)
	b.Add(1)
	b.Status("y")
	b.Done(nil)
	p.Wait()
	if w := p.Writer(nil); w != nil {
		t.Errorf("nil Progress Writer = %v, want the fallback (nil)", w)
	}
}
