package deploy

import (
	"context"
	"time"
)

// Step is one named unit of installation work ("install KEDA").
type Step struct {
	Name string
	Run  func(ctx context.Context) error
}

// StepEvent reports progress of RunSteps: once when a step starts (Done
// false) and once when it ends (Done true, with Err and Elapsed).
type StepEvent struct {
	// Index is the step's position (0-based) among Total steps.
	Index, Total int
	Name         string
	Done         bool
	Err          error
	Elapsed      time.Duration
	// Note is a one-line result a step reported with Notef ("KEDA v2.20.2 kept").
	Note string
}

// Progress receives step events; the CLI turns them into progress bars.
type Progress func(StepEvent)

type noteKey struct{}

// Notef lets a running step attach a one-line note to its completion event.
// It does nothing outside RunSteps.
func Notef(ctx context.Context, note string) {
	if p, ok := ctx.Value(noteKey{}).(*string); ok {
		*p = note
	}
}

// RunSteps runs steps in order, reporting each to progress (which may be
// nil), and stops at the first error, which it returns as the step returned
// it. A cancelled ctx stops before the next step.
func RunSteps(ctx context.Context, steps []Step, progress Progress) error {
	if progress == nil {
		progress = func(StepEvent) {}
	}
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		progress(StepEvent{Index: i, Total: len(steps), Name: s.Name})
		var note string
		start := time.Now()
		err := s.Run(context.WithValue(ctx, noteKey{}, &note))
		progress(StepEvent{Index: i, Total: len(steps), Name: s.Name, Done: true, Err: err, Elapsed: time.Since(start), Note: note})
		if err != nil {
			return err
		}
	}
	return nil
}
