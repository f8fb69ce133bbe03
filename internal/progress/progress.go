// Package progress shows burst's long operations as mpb progress bars on
// stderr: counters for work with a known size (tasks enqueued, runs of a
// sweep) and named steps with a status line (cluster create, KEDA install).
// A nil *Progress is valid and shows nothing, so library code can take one
// without caring whether a terminal is attached.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Progress is a set of bars drawn on one writer. When the writer is not a
// terminal (CI logs, pipes) it prints one plain line per finished bar
// instead of redrawing.
type Progress struct {
	p     *mpb.Progress
	plain io.Writer
	mu    sync.Mutex
}

// New draws bars on w (normally stderr). A nil w gives a nil Progress.
func New(w io.Writer) *Progress {
	if w == nil || w == io.Discard {
		return nil
	}
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		return &Progress{plain: w}
	}
	return &Progress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))}
}

// Wait waits for every bar to finish and stops drawing.
func (p *Progress) Wait() {
	if p == nil || p.p == nil {
		return
	}
	p.p.Wait()
}

// Bar is one line of progress. A nil *Bar is valid and does nothing.
type Bar struct {
	b      *mpb.Bar
	status atomic.Value // string
	// plain mode
	owner   *Progress
	name    string
	start   time.Time
	current atomic.Int64
	total   int64
	done    atomic.Bool
}

func (p *Progress) plainBar(name string, total int64) *Bar {
	b := &Bar{owner: p, name: name, start: time.Now(), total: total}
	b.status.Store("")
	return b
}

// Counter adds a bar counting to total, e.g. tasks enqueued.
func (p *Progress) Counter(name string, total int64) *Bar {
	if p == nil {
		return nil
	}
	if p.p == nil {
		return p.plainBar(name, total)
	}
	bar := &Bar{}
	bar.status.Store("")
	bar.b = p.p.AddBar(total,
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d", decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO, decor.WCSyncSpace), decor.Any(bar.statusText)),
	)
	return bar
}

// Step adds a spinner for a named step whose size is unknown.
func (p *Progress) Step(name string) *Bar {
	if p == nil {
		return nil
	}
	if p.p == nil {
		return p.plainBar(name, -1)
	}
	bar := &Bar{}
	bar.status.Store("")
	bar.b = p.p.AddSpinner(1,
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO, decor.WCSyncSpace), decor.Any(bar.statusText)),
		mpb.BarFillerOnComplete("done"),
	)
	return bar
}

func (b *Bar) statusText(decor.Statistics) string {
	s, _ := b.status.Load().(string)
	if s == "" {
		return ""
	}
	return " " + s
}

// Add advances the bar by n.
func (b *Bar) Add(n int) {
	if b == nil {
		return
	}
	if b.b == nil {
		b.current.Add(int64(n))
		return
	}
	b.b.IncrBy(n)
}

// SetCurrent sets the bar's count.
func (b *Bar) SetCurrent(n int64) {
	if b == nil {
		return
	}
	if b.b == nil {
		b.current.Store(n)
		return
	}
	b.b.SetCurrent(n)
}

// Status sets the text shown after the bar.
func (b *Bar) Status(format string, args ...any) {
	if b == nil {
		return
	}
	b.status.Store(fmt.Sprintf(format, args...))
}

// Done completes the bar; a non-nil err aborts it and shows the error.
func (b *Bar) Done(err error) {
	if b == nil {
		return
	}
	if b.b == nil {
		b.plainDone(err)
		return
	}
	if err != nil {
		b.Status("failed: %v", err)
		b.b.Abort(false)
		return
	}
	b.b.SetTotal(-1, true)
}

// Writer returns a writer whose lines appear above the bars while they are
// drawn, and go to fallback otherwise (or when p is nil).
func (p *Progress) Writer(fallback io.Writer) io.Writer {
	if p == nil {
		return fallback
	}
	if p.p == nil {
		return fallback
	}
	return writerFunc(func(b []byte) (int, error) {
		if n, err := p.p.Write(b); err == nil {
			return n, nil
		}
		return fallback.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (b *Bar) plainDone(err error) {
	if b.done.Swap(true) {
		return
	}
	var line strings.Builder
	fmt.Fprintf(&line, "burst: %s", b.name)
	if b.total >= 0 {
		fmt.Fprintf(&line, " %d/%d", b.current.Load(), b.total)
	}
	fmt.Fprintf(&line, " (%s)", time.Since(b.start).Round(time.Millisecond))
	switch s, _ := b.status.Load().(string); {
	case err != nil && s != "":
		fmt.Fprintf(&line, " failed: %s", s)
	case err != nil:
		fmt.Fprintf(&line, " failed: %v", err)
	case s != "":
		fmt.Fprintf(&line, " %s", s)
	default:
		line.WriteString(" done")
	}
	line.WriteByte('\n')
	b.owner.mu.Lock()
	io.WriteString(b.owner.plain, line.String())
	b.owner.mu.Unlock()
}

// Start marks the moment the bar's work begins (plain mode reports the time
// from here).
func (b *Bar) Start() {
	if b == nil || b.b != nil {
		return
	}
	b.start = time.Now()
}
