package fakeinference_test

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The fidelity client is one epoll loop over every connection, written with
// raw syscalls: the instrument must cost much less than the server it
// measures, and on a 2-core machine a goroutine per stream (two reads and a
// goroutine switch per token) took as much CPU as the server did. A token's
// arrival is when epoll_wait returned with its bytes ready.

// benchConn is one keep-alive connection streaming requests one at a time.
type benchConn struct {
	fd     int
	res    *streamResult
	in     []byte // bytes read and not parsed yet
	header bool   // the response header has been read
	sent   time.Time
	first  time.Time
	last   time.Time
	count  int
	done   bool // [DONE] seen
	gaps   []time.Duration
	closed bool
}

// runStreams runs `concurrency` closed-loop streaming connections to addr:
// each starts at a random moment of the first reqTime, then sends its next
// request as soon as the previous response ends, until t1. Requests sent
// before t0 are ramp-up and not measured.
func runStreams(addr string, concurrency int, reqTime time.Duration, t0, t1 time.Time) ([]streamResult, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("server address %q: %w", addr, err)
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	defer syscall.Close(epfd)
	results := make([]streamResult, concurrency)
	conns := make([]atomic.Pointer[benchConn], concurrency)
	var dialErr atomic.Pointer[error]
	dialed := make(chan struct{})
	var stop atomic.Bool // the loop gave up: stop dialing
	defer stop.Store(true)

	// The dialer: connect each stream at its start time, send its first
	// request, then hand it to the loop.
	go func() {
		defer close(dialed)
		begin := time.Now()
		starts := make([]time.Duration, concurrency)
		for i := range starts {
			starts[i] = time.Duration(rand.Int64N(int64(reqTime)))
		}
		order := make([]int, concurrency)
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(starts[a], starts[b]) })
		for _, i := range order {
			if stop.Load() {
				return
			}
			time.Sleep(time.Until(begin.Add(starts[i])))
			c, err := dial(ap)
			if err != nil {
				dialErr.Store(&err)
				return
			}
			c.res = &results[i]
			c.gaps = make([]time.Duration, 0, benchTokens)
			if err := c.send(); err != nil {
				syscall.Close(c.fd)
				dialErr.Store(&err)
				return
			}
			conns[i].Store(c)
			ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(c.fd), Pad: int32(i)}
			if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
				err = fmt.Errorf("epoll_ctl: %w", err)
				dialErr.Store(&err)
				return
			}
		}
	}()

	events := make([]syscall.EpollEvent, 256)
	scratch := make([]byte, 64<<10)
	open := 0 // connections not finished
	allDialed := false
	for {
		if !allDialed {
			select {
			case <-dialed:
				allDialed = true
				if e := dialErr.Load(); e != nil {
					closeAll(conns)
					return nil, *e
				}
				open = 0
				for i := range conns {
					if c := conns[i].Load(); c != nil && !c.closed {
						open++
					}
				}
			default:
			}
		}
		if allDialed && open == 0 {
			return results, nil
		}
		n, err := syscall.EpollWait(epfd, events, 10)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			closeAll(conns)
			return nil, fmt.Errorf("epoll_wait: %w", err)
		}
		now := time.Now()
		for _, ev := range events[:n] {
			c := conns[ev.Pad].Load()
			if c == nil || c.closed {
				continue
			}
			finished, err := c.readable(scratch, now, t0, t1)
			if err != nil {
				c.res.errs++
				if c.res.err == nil {
					c.res.err = err
				}
			}
			if finished || err != nil {
				syscall.EpollCtl(epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
				syscall.Close(c.fd)
				c.closed = true
				if allDialed {
					open--
				}
			}
		}
	}
}

func closeAll(conns []atomic.Pointer[benchConn]) {
	for i := range conns {
		if c := conns[i].Load(); c != nil && !c.closed {
			syscall.Close(c.fd)
			c.closed = true
		}
	}
}

// dial opens a blocking loopback connection, then makes it non-blocking.
func dial(ap netip.AddrPort) (*benchConn, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("TCP_NODELAY: %w", err)
	}
	if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("connect %v: %w", ap, err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("set non-blocking: %w", err)
	}
	return &benchConn{fd: fd}, nil
}

// send writes the next request; it fits the empty socket buffer at once.
func (c *benchConn) send() error {
	c.sent = time.Now()
	c.header, c.first, c.last, c.count, c.done = false, time.Time{}, time.Time{}, 0, false
	c.gaps = c.gaps[:0]
	n, err := syscall.Write(c.fd, benchRequest)
	if err != nil || n != len(benchRequest) {
		return fmt.Errorf("write request: %d of %d bytes: %v", n, len(benchRequest), err)
	}
	return nil
}

// readable reads what is ready and parses it with now as the arrival time.
// It reports whether the connection is finished (its last response ended at
// or after t1).
func (c *benchConn) readable(scratch []byte, now, t0, t1 time.Time) (bool, error) {
	for {
		// Non-blocking: a raw syscall skips the runtime's syscall bookkeeping.
		r, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(c.fd), uintptr(unsafe.Pointer(unsafe.SliceData(scratch))), uintptr(len(scratch)))
		n := int(r)
		if errno == syscall.EAGAIN {
			return false, nil
		}
		if errno != 0 {
			return true, fmt.Errorf("read: %w", errno)
		}
		if n == 0 {
			return true, errors.New("server closed the connection")
		}
		c.in = append(c.in, scratch[:n]...)
		ended, err := c.parse(now, t0, t1)
		if err != nil {
			return true, err
		}
		if ended {
			if !time.Now().Before(t1) {
				return true, nil
			}
			if err := c.send(); err != nil {
				return true, err
			}
		}
		if n < len(scratch) {
			return false, nil
		}
	}
}

var (
	crlf        = []byte("\r\n")
	headerEnd   = []byte("\r\n\r\n")
	doneMarker  = []byte("data: [DONE]")
	status200   = []byte("HTTP/1.1 200")
	errTruncate = errors.New("response ended without [DONE]")
)

// parse consumes complete parts of c.in: the header, then chunks. It reports
// whether the response ended (the zero-size chunk).
func (c *benchConn) parse(now, t0, t1 time.Time) (ended bool, err error) {
	in := c.in
	defer func() { c.in = c.in[:copy(c.in, in)] }() // keep the unparsed rest
	for {
		if !c.header {
			i := bytes.Index(in, headerEnd)
			if i < 0 {
				return false, nil
			}
			if !bytes.HasPrefix(in, status200) {
				return false, fmt.Errorf("status %q", bytes.SplitN(in, crlf, 2)[0])
			}
			c.header = true
			in = in[i+len(headerEnd):]
			continue
		}
		i := bytes.Index(in, crlf)
		if i < 0 {
			return false, nil
		}
		size, ok := parseHex(in[:i])
		if !ok {
			return false, fmt.Errorf("chunk size %q", in[:i])
		}
		end := i + 2 + size + 2
		if len(in) < end {
			return false, nil
		}
		data := in[i+2 : end-2]
		in = in[end:]
		if size == 0 {
			return true, c.finish(t0)
		}
		for k := bytes.Count(data, tokenMarker); k > 0; k-- {
			c.token(now, t0, t1)
		}
		c.done = c.done || bytes.Contains(data, doneMarker)
	}
}

func parseHex(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 7 {
		return 0, false
	}
	n := 0
	for _, ch := range b {
		switch {
		case '0' <= ch && ch <= '9':
			n = n<<4 | int(ch-'0')
		case 'a' <= ch && ch <= 'f':
			n = n<<4 | int(ch-'a'+10)
		case 'A' <= ch && ch <= 'F':
			n = n<<4 | int(ch-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

func (c *benchConn) token(at, t0, t1 time.Time) {
	if !at.Before(t0) && !at.After(t1) {
		c.res.tokens++
	}
	if c.first.IsZero() {
		c.first = at
	} else {
		c.gaps = append(c.gaps, at.Sub(c.last))
	}
	c.last = at
	c.count++
}

// finish records one response.
func (c *benchConn) finish(t0 time.Time) error {
	if !c.done {
		return errTruncate
	}
	if c.count != benchTokens {
		return fmt.Errorf("%d tokens, want %d", c.count, benchTokens)
	}
	if c.sent.Before(t0) {
		return nil // ramp-up
	}
	r := c.res
	r.requests++
	r.ttftDev = append(r.ttftDev, abs(c.first.Sub(c.sent)-benchTTFT))
	for _, g := range c.gaps {
		r.itlDev = append(r.itlDev, abs(g-benchITL))
	}
	return nil
}
