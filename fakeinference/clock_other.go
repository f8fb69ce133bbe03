//go:build !linux

package fakeinference

func newClock() clock { return newTimerClock() }
