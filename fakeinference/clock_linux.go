package fakeinference

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// timerfdClock is a Linux timerfd read through the runtime's network poller:
// the kernel's high-resolution timer makes the fd readable at the deadline
// and epoll returns at once, so the goroutine wakes within about 0.1 ms
// instead of the up to 1 ms of a runtime timer (see timerClock).
type timerfdClock struct {
	f    *os.File
	raw  syscall.RawConn
	buf  [8]byte
	spec itimerspec
	arm  func(fd uintptr) // c.settime, bound once: no allocation per set
}

// newClock returns a timerfd clock, or a runtime-timer clock where timerfd
// is unavailable (a seccomp profile may forbid it).
func newClock() clock {
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, 1 /* CLOCK_MONOTONIC */, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return newTimerClock()
	}
	f := os.NewFile(fd, "timerfd") // non-blocking: reads park in the poller
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return newTimerClock()
	}
	c := &timerfdClock{f: f, raw: raw}
	c.arm = c.settime
	return c
}

type itimerspec struct{ interval, value syscall.Timespec }

// set arms the timer. Callers serialise set (the shard's lock).
func (c *timerfdClock) set(deadline time.Time) {
	// A relative time: time.Time's monotonic reading is not CLOCK_MONOTONIC's
	// origin. Zero would disarm the timer, so a past deadline fires in 1 ns.
	c.spec.value = syscall.NsecToTimespec(max(int64(time.Until(deadline)), 1))
	// Control keeps the fd from being closed (and its number reused) meanwhile.
	c.raw.Control(c.arm)
}

func (c *timerfdClock) settime(fd uintptr) {
	syscall.Syscall6(syscall.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&c.spec)), 0, 0, 0)
}

func (c *timerfdClock) wait() bool {
	_, err := c.f.Read(c.buf[:])
	return err == nil
}

func (c *timerfdClock) close() { c.f.Close() }
