package cli

import (
	"errors"
	"fmt"
)

// Exit codes of burst (DESIGN.md, "Run outputs").
const (
	ExitOK         = 0 // everything ran and every gate passed
	ExitRunFailed  = 1 // could not run: infrastructure, I/O
	ExitBadInput   = 2 // invalid flags, profile or scenario
	ExitSLOBreach  = 3 // the run finished but an SLO was breached
	ExitLedgerFail = 4 // the ledger is invalid: a task was lost or unexpected
)

// ExitError carries an exit code with the error that caused it.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// withCode wraps err so that Main exits with code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// badInput marks err as invalid input (exit 2).
func badInput(format string, args ...any) error {
	return withCode(ExitBadInput, fmt.Errorf(format, args...))
}

// exitCode returns the exit code for err: its ExitError code, or 1.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitRunFailed
}

// errSilent is an error whose message was already printed.
var errSilent = errors.New("")
