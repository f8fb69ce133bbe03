// Package cli wires burst's cobra commands: flags and arguments in, calls into
// the library packages, tables out, exit codes from ExitError. It holds no
// logic of its own beyond option handling.
package cli
