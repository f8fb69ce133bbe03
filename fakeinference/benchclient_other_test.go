//go:build !linux

package fakeinference_test

import (
	"time"
)

// runStreams needs epoll; see benchclient_linux_test.go.
func runStreams(string, int, time.Duration, time.Time, time.Time) ([]streamResult, error) {
	return nil, errNoFidelityClient
}
