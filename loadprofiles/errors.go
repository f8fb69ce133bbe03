package loadprofiles

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ValidationError reports every problem found in a profile at once. Load,
// Parse, Builtin, Resolve and Profile.Schedule return it (as error) when the
// input is invalid; I/O failures such as a missing profile file are returned
// as ordinary wrapped errors instead, so a caller can tell "fix your file"
// from "could not read it".
type ValidationError struct {
	// File is the profile file as it was named to Load or Parse.
	File string
	// Problems lists every problem, in the order they appear in the file.
	Problems []Problem
}

// Problem is one thing wrong with a profile.
type Problem struct {
	// Line is the 1-based line in the profile file, or 0 when unknown.
	Line int
	// Field is the path of the offending field, such as "stages[2].rate",
	// or "" when the problem concerns the whole file.
	Field string
	// Message says what is wrong.
	Message string
	// Fix says how to correct it; it may be empty.
	Fix string
}

// Error lists all problems, one per line, each formatted as
// "file:line: field: problem (fix: ...)". The line is left out when it is
// unknown, the field when the problem concerns the whole file, and the fix
// when there is none.
func (e *ValidationError) Error() string {
	if e == nil {
		return "<nil>"
	}
	file := e.File
	if file == "" {
		file = "<input>"
	}
	if len(e.Problems) == 0 {
		return file + ": invalid profile"
	}
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.format(file))
	}
	return b.String()
}

// format renders one problem as a line of Error's output.
func (p Problem) format(file string) string {
	var b strings.Builder
	b.WriteString(file)
	if p.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Fix != "" {
		b.WriteString(" (fix: ")
		b.WriteString(p.Fix)
		b.WriteByte(')')
	}
	return b.String()
}

// problems collects problems while a profile is decoded and validated.
type problems struct {
	list []Problem
	more int // problems beyond maxProblems, counted but not kept
}

// maxProblems bounds the problems kept for one file: past it, a broken or
// hostile file would only bury the first, most useful, messages.
const maxProblems = 100

func (ps *problems) add(line int, field, msg, fix string) {
	if len(ps.list) >= maxProblems {
		ps.more++
		return
	}
	ps.list = append(ps.list, Problem{Line: line, Field: field, Message: msg, Fix: fix})
}

// full reports whether further problems would only be counted.
func (ps *problems) full() bool { return len(ps.list) >= maxProblems }

// err returns nil when nothing was collected, else a *ValidationError.
func (ps *problems) err(file string) error {
	if len(ps.list) == 0 {
		return nil
	}
	// Report top to bottom; problems on the same line keep their order.
	slices.SortStableFunc(ps.list, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	if ps.more > 0 {
		ps.list = append(ps.list, Problem{
			Message: fmt.Sprintf("and %d more problems", ps.more),
			Fix:     "fix the problems above first",
		})
	}
	return &ValidationError{File: file, Problems: ps.list}
}
