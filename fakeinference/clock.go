package fakeinference

import "time"

// A clock wakes one goroutine at a deadline. set may be called from any
// goroutine and replaces the deadline; wait blocks until the deadline passes
// and returns false once close was called.
type clock interface {
	set(deadline time.Time)
	wait() bool
	close()
}

// timerClock is the portable clock: a runtime timer. The Go runtime sleeps
// in epoll_wait with millisecond resolution when idle, so it wakes up to
// 1 ms late; newClock prefers a timerfd where there is one.
type timerClock struct {
	t      *time.Timer
	closed chan struct{}
}

func newTimerClock() *timerClock {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &timerClock{t: t, closed: make(chan struct{})}
}

func (c *timerClock) set(deadline time.Time) { c.t.Reset(time.Until(deadline)) }

func (c *timerClock) wait() bool {
	select {
	case <-c.t.C:
		return true
	case <-c.closed:
		return false
	}
}

func (c *timerClock) close() { close(c.closed) }
