// Package progress shows burst's long operations as mpb progress bars on
// stderr: counters for work with a known size (tasks enqueued, runs of a
// sweep) and named steps with a status line (cluster create, KEDA install).
// A nil *Progress is valid and shows nothing, so library code can take one
// without caring whether a terminal is attached.
package progress

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Progress is a set of bars drawn on one writer.
type Progress struct {
	p *mpb.Progress
}

// New draws bars on w (normally stderr). A nil w gives a nil Progress.
func New(w io.Writer) *Progress {
	if w == nil || w == io.Discard {
		return nil
	}
	return &Progress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))}
}

// Wait waits for every bar to finish and stops drawing.
func (p *Progress) Wait() {
	if p == nil {
		return
	}
	p.p.Wait()
}

// Bar is one line of progress. A nil *Bar is valid and does nothing.
type Bar struct {
	b      *mpb.Bar
	status atomic.Value // string
}

// Counter adds a bar counting to total, e.g. tasks enqueued.
func (p *Progress) Counter(name string, total int64) *Bar {
	if p == nil {
		return nil
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
	b.b.IncrBy(n)
}

// SetCurrent sets the bar's count.
func (b *Bar) SetCurrent(n int64) {
	if b == nil {
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
	return writerFunc(func(b []byte) (int, error) {
		if n, err := p.p.Write(b); err == nil {
			return n, nil
		}
		return fallback.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
