package cluster

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"sigs.k8s.io/kind/pkg/log"
)

// writerLogger adapts an io.Writer to kind's log.Logger: warnings, errors and
// V(0) status lines are written, one per line; debug levels are dropped.
type writerLogger struct {
	mu sync.Mutex
	w  io.Writer
}

var _ log.Logger = (*writerLogger)(nil)

func newLogger(w io.Writer) log.Logger {
	if w == nil {
		return log.NoopLogger{}
	}
	return &writerLogger{w: w}
}

func (l *writerLogger) line(prefix, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	msg = strings.TrimRight(msg, "\n")
	if msg == "" {
		return
	}
	fmt.Fprintf(l.w, "%s%s\n", prefix, msg)
}

func (l *writerLogger) Warn(m string)                { l.line("kind: WARNING: ", m) }
func (l *writerLogger) Warnf(f string, a ...any)     { l.Warn(fmt.Sprintf(f, a...)) }
func (l *writerLogger) Error(m string)               { l.line("kind: ERROR: ", m) }
func (l *writerLogger) Errorf(f string, a ...any)    { l.Error(fmt.Sprintf(f, a...)) }
func (l *writerLogger) V(v log.Level) log.InfoLogger { return infoLogger{l: l, on: v <= 0} }
func (i infoLogger) Info(m string)                   { i.infof("%s", m) }
func (i infoLogger) Infof(f string, a ...any)        { i.infof(f, a...) }
func (i infoLogger) Enabled() bool                   { return i.on }
func (i infoLogger) infof(f string, a ...any) {
	if i.on {
		i.l.line("kind: ", fmt.Sprintf(f, a...))
	}
}

type infoLogger struct {
	l  *writerLogger
	on bool
}
