//go:build !linux

package fakeinference_test

import (
	"time"
)

// runStreams needs epoll; see benchclient_linux_test.go.
func runStreams(string, int, time.Duration, time.Time, time.Time) ([]streamResult, error) {
	return nil, errNoFidelityClient
}

// streamResult is what one connection measured within [t0, t1].
type streamResult struct {
	ttftDev, itlDev []time.Duration
	tokens          int
	requests, errs  int
	err             error
}
