package fakeinference

import (
	"container/heap"
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The pacer writes streamed tokens at their deadlines. A few shard goroutines
// (one per two CPUs) each keep a heap of streams ordered by their next token's
// deadline and sleep on a precise clock (a timerfd on Linux) until the
// earliest one; then they write every token that is due. Compared with one
// sleeping goroutine per stream this wakes the process once per deadline
// cluster instead of once per token, and it is not bound to the runtime
// timer's millisecond resolution.
//
// Where the request's connection is known (Serve sets ConnContext; plain
// HTTP/1.1 over TCP or a Unix socket), a shard writes the chunked-encoding
// frames straight to the socket without blocking. The handler only writes
// when the socket is full (a slow client) and otherwise waits for the end.
// Without the connection (Handler() served by another http.Server, TLS), the
// shard hands the bytes to the request's goroutine, which writes them through
// the ResponseWriter.

// Each wake-up of a shard costs far more CPU than writing one token (a timer
// syscall, an epoll return, a thread switch), so a shard coalesces: it arms
// its clock wakeLead before the earliest deadline (about what the wake-up
// takes) and then writes every token due within coalesce. Tokens go out at
// most coalesce early and rarely late, and a shard wakes at most about every
// coalesce − wakeLead + its wake-up latency: on a 2-core VM streaming 48,000
// tokens/s this cut the server's CPU time by a third against waking per deadline.
const (
	wakeLead = 100 * time.Microsecond
	coalesce = 300 * time.Microsecond
)

// maxBatch bounds the bytes a shard emits for one stream per wake-up (zero
// latency models make every token due at once), so others are not held up.
const maxBatch = 32 << 10

// maxPending bounds the bytes queued for a request's goroutine: a stream
// whose client stopped reading is parked (left out of the shard's heap) until
// its goroutine has written the queue down, so a stalled client holds up its
// own tokens, as a blocked write would, instead of filling memory.
const maxPending = 4 * maxBatch

type connKey struct{}

// ConnContext records the connection in the request context so that streamed
// tokens can be written straight to it, which keeps their timing precise
// under load. Serve sets it; set it as http.Server.ConnContext when serving
// Handler() with your own http.Server.
func (s *Server) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// directConn returns the request's connection when a streamed response may
// be framed by hand: HTTP/1.1 (net/http then uses chunked encoding for a
// response without Content-Length), no TLS, a socket with a file descriptor.
func directConn(r *http.Request) (net.Conn, syscall.RawConn) {
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 || r.TLS != nil {
		return nil, nil
	}
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, nil
	}
	return c, raw
}

// pacer is the set of shards of one server, started on first use.
type pacer struct {
	shards []*shard
	next   atomic.Uint32
}

// newPacer starts one shard per two CPUs: a shard's writes take most of a
// core at about 80,000 tokens/s, and the other half of the CPUs is left to
// the kernel's network path, the handlers and whatever else shares the
// machine (on 2 cores one shard had the lower tail latency of the two
// choices, and used less CPU).
func newPacer() *pacer {
	p := &pacer{}
	for range max(1, runtime.GOMAXPROCS(0)/2) {
		sh := &shard{clock: newClock()}
		p.shards = append(p.shards, sh)
		go sh.run()
	}
	return p
}

// add schedules st; its first token is due at st.next.
func (p *pacer) add(st *pacedStream) bool {
	return p.shards[p.next.Add(1)%uint32(len(p.shards))].add(st)
}

func (p *pacer) stop() {
	for _, sh := range p.shards {
		sh.stop()
	}
}

// pacer returns the server's pacer, starting it on first use; nil once the
// server is closed.
func (s *Server) pacer() *pacer {
	s.pacing.Lock()
	defer s.pacing.Unlock()
	if s.isClosed.Load() {
		return nil
	}
	if s.pacing.p == nil {
		s.pacing.p = newPacer()
	}
	return s.pacing.p
}

// stopPacer ends the shard goroutines; Close calls it.
func (s *Server) stopPacer() {
	s.pacing.Lock()
	defer s.pacing.Unlock()
	if s.pacing.p != nil {
		s.pacing.p.stop()
	}
}

// shard is one goroutine's heap of streams.
type shard struct {
	clock   clock
	mu      sync.Mutex
	streams streamHeap
	armed   time.Time // the clock's deadline; zero when not armed
	stopped bool
}

func (sh *shard) add(st *pacedStream) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.stopped {
		return false
	}
	st.shard = sh
	heap.Push(&sh.streams, st)
	if sh.armed.IsZero() || st.next.Before(sh.armed) {
		sh.armed = st.next
		sh.clock.set(st.next.Add(-wakeLead))
	}
	return true
}

func (sh *shard) stop() {
	sh.mu.Lock()
	if !sh.stopped {
		sh.stopped = true
		sh.clock.close()
	}
	sh.mu.Unlock()
}

func (sh *shard) run() {
	var due []*pacedStream
	for sh.clock.wait() {
		sh.mu.Lock()
		horizon := time.Now().Add(coalesce)
		due = due[:0]
		for len(sh.streams) > 0 && !sh.streams[0].next.After(horizon) {
			due = append(due, heap.Pop(&sh.streams).(*pacedStream))
		}
		sh.armed = time.Time{}
		sh.mu.Unlock()

		n := 0
		for _, st := range due {
			if st.emit(horizon) {
				due[n] = st
				n++
			}
		}

		sh.mu.Lock()
		for _, st := range due[:n] {
			heap.Push(&sh.streams, st)
		}
		if len(sh.streams) > 0 && !sh.stopped {
			if top := sh.streams[0].next; sh.armed.IsZero() || top.Before(sh.armed) {
				sh.armed = top
				sh.clock.set(top.Add(-wakeLead))
			}
		}
		sh.mu.Unlock()
		clear(due) // no references to finished streams
	}
}

// streamHeap orders streams by their next deadline.
type streamHeap []*pacedStream

func (h streamHeap) Len() int           { return len(h) }
func (h streamHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h streamHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *streamHeap) Push(x any)        { *h = append(*h, x.(*pacedStream)) }
func (h *streamHeap) Pop() any {
	old := *h
	st := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return st
}

// streamState is where a paced stream stands.
type streamState uint8

const (
	streamRunning  streamState = iota
	streamFinished             // every byte is written or pending, [DONE] included
	streamCut                  // a stream-cut fault: drop the connection after the pending bytes
	streamFailed               // a write to the client failed
)

// pacedStream is one streaming response. The handler fills it in and adds it
// to a shard; from then on the shard owns gen (and returns its genState to
// the pool when the stream ends), and the handler only serves its wake-ups.
type pacedStream struct {
	gen          generation
	metrics      *metrics
	arrival      time.Time
	next         time.Time // deadline of token i
	i            int       // the next token to emit
	ep           endpoint
	id           []byte
	created      []byte
	modelJSON    []byte
	finish       string
	includeUsage bool
	promptTokens int
	cancelled    atomic.Bool // the handler has given up; the shard drops the stream
	shard        *shard      // set by shard.add

	// Direct mode (conn != nil): frames go straight to the socket.
	conn   net.Conn
	raw    syscall.RawConn
	wbuf   []byte
	wn     int
	werr   error
	writer func(fd uintptr) bool // st.rawWrite, bound once

	mu         sync.Mutex
	state      streamState
	backlogged bool // direct mode: the handler writes until pending is empty
	parked     bool // pending reached maxPending: out of the heap until the handler re-adds it
	pending    []byte
	pendingDue []time.Time // deadlines of the tokens in pending
	wake       chan struct{}

	// Written by whoever writes the bytes: the shard, or the handler while
	// backlogged (the hand-over under mu orders them).
	last time.Time // when the previous token went out
}

// appendHead appends a chunk's "data: {…,"choices":[" prefix.
func (st *pacedStream) appendHead(b []byte) []byte {
	b = append(b, `data: {"id":"`...)
	b = append(b, st.id...)
	if st.ep == chatEndpoint {
		b = append(b, `","object":"chat.completion.chunk","created":`...)
	} else {
		b = append(b, `","object":"text_completion","created":`...)
	}
	b = append(b, st.created...)
	b = append(b, `,"model":`...)
	b = append(b, st.modelJSON...)
	return append(b, `,"choices":[`...)
}

// prepareChunks builds the parts of a token chunk before and after the
// token's JSON string.
func (st *pacedStream) prepareChunks() {
	g := st.gen.g
	g.prefix = st.appendHead(g.prefix[:0])
	if st.ep == chatEndpoint {
		g.prefix = append(g.prefix, `{"index":0,"delta":{"content":`...)
		g.suffix = append(g.suffix[:0], `},"logprobs":null,"finish_reason":null}]}`+"\n\n"...)
	} else {
		g.prefix = append(g.prefix, `{"index":0,"text":`...)
		g.suffix = append(g.suffix[:0], `,"logprobs":null,"finish_reason":null}]}`+"\n\n"...)
	}
}

// frameHeadroom is room left before a direct write's data for its chunk-size
// line ("%x\r\n"; maxBatch plus a final chunk needs at most 5 hex digits).
const frameHeadroom = 8

// emit writes (or hands over) every token of st that is due by horizon, after
// the role chunk when it is the first, and the closing chunks after the last.
// It reports whether st has tokens left.
func (st *pacedStream) emit(horizon time.Time) bool {
	g := st.gen.g
	if st.cancelled.Load() {
		st.release()
		return false
	}
	buf := g.buf[:0]
	if st.conn != nil {
		buf = append(buf, make([]byte, frameHeadroom)...)
	}
	start := len(buf)
	due := g.due[:0]
	state := streamRunning
	for {
		if st.i == st.gen.cut {
			state = streamCut
			break
		}
		if st.i == 0 && st.ep == chatEndpoint {
			buf = st.appendHead(buf)
			buf = append(buf, `{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`+"\n\n"...)
		}
		buf = append(buf, g.prefix...)
		buf = append(buf, st.gen.token(st.i).json...)
		buf = append(buf, g.suffix...)
		due = append(due, st.next)
		st.i++
		if st.i == st.gen.outLen {
			buf = st.appendEnd(buf)
			state = streamFinished
			break
		}
		st.next = st.next.Add(st.gen.nextGap())
		// A token already due when its predecessor goes out joins it.
		if st.next.After(horizon) || len(buf)-start >= maxBatch {
			break
		}
	}
	g.buf, g.due = buf[:0], due[:0]
	parked := false
	if len(buf) > start {
		var ok bool
		if ok, parked = st.deliver(buf, start, due, state); !ok {
			state = streamFailed
		}
	}
	if state == streamRunning && parked {
		return false // the handler adds it back once it has written its queue down
	}
	if state != streamRunning {
		st.mu.Lock()
		st.state = state
		st.mu.Unlock()
		st.signal()
		st.release()
		return false
	}
	return true
}

// appendEnd appends the finish chunk, the usage chunk when asked for, and
// [DONE].
func (st *pacedStream) appendEnd(b []byte) []byte {
	b = st.appendHead(b)
	if st.ep == chatEndpoint {
		b = append(b, `{"index":0,"delta":{},"logprobs":null,"finish_reason":"`...)
	} else {
		b = append(b, `{"index":0,"text":"","logprobs":null,"finish_reason":"`...)
	}
	b = append(b, st.finish...)
	b = append(b, `"}]}`+"\n\n"...)
	if st.includeUsage {
		b = st.appendHead(b)
		b = append(b, `],"usage":{"prompt_tokens":`...)
		b = strconv.AppendInt(b, int64(st.promptTokens), 10)
		b = append(b, `,"completion_tokens":`...)
		b = strconv.AppendInt(b, int64(st.gen.outLen), 10)
		b = append(b, `,"total_tokens":`...)
		b = strconv.AppendInt(b, int64(st.promptTokens+st.gen.outLen), 10)
		b = append(b, "}}\n\n"...)
	}
	return append(b, "data: [DONE]\n\n"...)
}

// deliver writes buf[start:] (direct mode: framed in the headroom before
// start) or hands it to the handler; state is the stream's state after these
// bytes. It returns false when the client is gone, and parked when the
// handler's queue is full (see maxPending).
func (st *pacedStream) deliver(buf []byte, start int, due []time.Time, state streamState) (ok, parked bool) {
	if st.conn == nil {
		return true, st.handOver(buf[start:], due, state)
	}
	frame := appendChunkFrame(buf, start)
	// Checked and queued at once: the handler clears backlogged only after it
	// wrote everything queued. Only the shard sets it, so when it is clear
	// here it stays clear through the write below.
	st.mu.Lock()
	if st.backlogged {
		parked = st.queue(frame, due, state)
		st.mu.Unlock()
		st.signal()
		return true, parked
	}
	st.mu.Unlock()
	st.wbuf = frame
	if err := st.raw.Write(st.writer); err != nil {
		return false, false
	}
	n, err := st.wn, st.werr
	st.wbuf = nil
	switch {
	case err == nil && n == len(frame):
		st.account(due, time.Now())
		return true, false
	case err == nil || err == syscall.EAGAIN || err == syscall.EINTR:
		// The socket is full: the handler writes the rest, blocking.
		st.mu.Lock()
		st.backlogged = true
		parked = st.queue(frame[max(n, 0):], due, state)
		st.mu.Unlock()
		st.signal()
		return true, parked
	default:
		return false, false
	}
}

// rawWrite makes one write attempt (RawConn.Write's callback). The socket is
// non-blocking, so the write cannot block and needs no entersyscall, which
// would also wake the runtime's sysmon thread after every idle spell.
func (st *pacedStream) rawWrite(fd uintptr) bool {
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(st.wbuf))), uintptr(len(st.wbuf)))
	st.wn, st.werr = int(n), nil
	if errno != 0 {
		st.wn, st.werr = -1, errno
	}
	return true
}

// appendChunkFrame writes the chunk-size line into the headroom before
// buf[start:] and the closing CRLF after it, and returns the frame.
func appendChunkFrame(buf []byte, start int) []byte {
	size := len(buf) - start
	var line [frameHeadroom]byte
	i := len(line)
	line[i-1], line[i-2] = '\n', '\r'
	i -= 2
	for {
		i--
		line[i] = "0123456789abcdef"[size&0xf]
		size >>= 4
		if size == 0 {
			break
		}
	}
	head := start - (len(line) - i)
	copy(buf[head:start], line[i:])
	return append(buf, '\r', '\n')[head:]
}

// handOver queues bytes for the handler to write and wakes it; it reports
// whether the stream is now parked.
func (st *pacedStream) handOver(b []byte, due []time.Time, state streamState) (parked bool) {
	st.mu.Lock()
	parked = st.queue(b, due, state)
	st.mu.Unlock()
	st.signal()
	return parked
}

// queue appends to pending with the stream's state after these bytes, and
// parks a running stream when pending is full; st.mu is held. Parking is
// decided here, under the same lock as the handler's un-parking, so exactly
// one of the shard and the handler puts the stream back, and never an ended one.
func (st *pacedStream) queue(b []byte, due []time.Time, state streamState) (parked bool) {
	st.pending = append(st.pending, b...)
	st.pendingDue = append(st.pendingDue, due...)
	st.state = state
	if state == streamRunning && len(st.pending) >= maxPending {
		st.parked = true
	}
	return st.parked
}

func (st *pacedStream) signal() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// release returns the generation scratch space once the shard is done.
func (st *pacedStream) release() {
	if st.gen.g != nil {
		genPool.Put(st.gen.g)
		st.gen.g = nil
	}
}

// account observes the TTFT, inter-token latency and lateness of tokens
// written at now.
func (st *pacedStream) account(due []time.Time, now time.Time) {
	m := st.metrics
	for j, d := range due {
		switch {
		case st.last.IsZero():
			m.ttft.Observe(now.Sub(st.arrival).Seconds())
		case j == 0:
			m.itl.Observe(now.Sub(st.last).Seconds())
		default:
			m.itl.Observe(0) // sent in the same write as the previous token
		}
		m.lateness.Observe(now.Sub(d).Seconds())
		st.last = now
	}
	m.generationTokens.Add(float64(len(due)))
}

var errStreamCut = errors.New("stream cut (injected fault)")

// serve runs in the request's goroutine while a shard paces st: it writes
// what the shard hands over and returns nil when the stream has finished, or
// an error when it must be dropped (client gone, server closed, cut fault).
func (st *pacedStream) serve(ctx context.Context, done <-chan struct{}, w http.ResponseWriter, rc *http.ResponseController) error {
	var buf []byte
	var due []time.Time
	for {
		select {
		case <-st.wake:
		case <-ctx.Done():
			st.cancelled.Store(true)
			return ctx.Err()
		case <-done:
			st.cancelled.Store(true)
			return errClosed
		}
		st.mu.Lock()
		buf, st.pending = st.pending, buf[:0]
		due, st.pendingDue = st.pendingDue, due[:0]
		state := st.state
		st.mu.Unlock()
		if len(buf) > 0 {
			var err error
			if st.conn != nil {
				_, err = st.conn.Write(buf)
			} else if _, err = w.Write(buf); err == nil {
				err = rc.Flush()
			}
			if err != nil {
				st.cancelled.Store(true)
				return err
			}
			st.account(due, time.Now())
			st.mu.Lock()
			if len(st.pending) == 0 {
				st.backlogged = false
			}
			resume := st.parked && len(st.pending) < maxPending
			if resume {
				st.parked = false
			}
			st.mu.Unlock()
			if resume && !st.shard.add(st) {
				st.cancelled.Store(true)
				return errClosed
			}
		}
		switch state {
		case streamFinished:
			return nil
		case streamCut:
			return errStreamCut
		case streamFailed:
			return errors.New("write to the client failed")
		}
	}
}
