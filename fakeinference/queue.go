package fakeinference

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// errQueueFull is returned by acquire when the waiting queue is full.
var errQueueFull = errors.New("waiting queue is full")

// errClosed is returned by blocking calls once the server is closed.
var errClosed = errors.New("server closed")

// slots admits at most maxSeqs requests at once and queues up to maxQueue
// more in FIFO order.
type slots struct {
	mu       sync.Mutex
	maxSeqs  int
	maxQueue int
	head     *waiter // oldest waiter
	tail     *waiter
	queued   int

	running atomic.Int64 // mirrors the running count for lock-free readers
	waiting atomic.Int64 // mirrors queued
}

type waiter struct {
	ready      chan struct{}
	granted    bool
	prev, next *waiter
}

func newSlots(maxSeqs, maxQueue int) *slots {
	return &slots{maxSeqs: maxSeqs, maxQueue: maxQueue}
}

// acquire takes a slot, waiting in the queue if all are busy, and reports
// whether it waited. It returns errQueueFull at once when the queue is full,
// ctx.Err() when the client gives up and errClosed when done closes.
func (s *slots) acquire(ctx context.Context, done <-chan struct{}) (waited bool, err error) {
	s.mu.Lock()
	if s.queued == 0 && int(s.running.Load()) < s.maxSeqs {
		s.running.Add(1)
		s.mu.Unlock()
		return false, nil
	}
	if s.queued >= s.maxQueue {
		s.mu.Unlock()
		return false, errQueueFull
	}
	w := &waiter{ready: make(chan struct{})}
	s.push(w)
	s.mu.Unlock()

	select {
	case <-w.ready:
		return true, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-done:
		err = errClosed
	}
	s.mu.Lock()
	if w.granted {
		// The slot was handed over while we gave up: pass it on.
		s.releaseLocked()
	} else {
		s.remove(w)
	}
	s.mu.Unlock()
	return true, err
}

// release frees a slot taken by acquire, handing it to the oldest waiter.
func (s *slots) release() {
	s.mu.Lock()
	s.releaseLocked()
	s.mu.Unlock()
}

func (s *slots) releaseLocked() {
	if s.head != nil && int(s.running.Load()) <= s.maxSeqs {
		w := s.head
		s.remove(w)
		w.granted = true
		close(w.ready) // the slot passes to w; running is unchanged
		return
	}
	s.running.Add(-1)
}

// setLimits changes max-num-seqs and the queue bound; waiters are admitted at
// once when slots were added. A smaller queue bound does not evict waiters.
func (s *slots) setLimits(maxSeqs, maxQueue int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxSeqs, s.maxQueue = maxSeqs, maxQueue
	for s.head != nil && int(s.running.Load()) < s.maxSeqs {
		w := s.head
		s.remove(w)
		w.granted = true
		s.running.Add(1)
		close(w.ready)
	}
}

func (s *slots) push(w *waiter) {
	w.prev = s.tail
	if s.tail != nil {
		s.tail.next = w
	} else {
		s.head = w
	}
	s.tail = w
	s.queued++
	s.waiting.Store(int64(s.queued))
}

func (s *slots) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		s.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		s.tail = w.prev
	}
	w.prev, w.next = nil, nil
	s.queued--
	s.waiting.Store(int64(s.queued))
}
