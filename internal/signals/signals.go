// Package signals gives burst's three programs (burst, worker, fakeinference)
// the same process edge: the first SIGINT or SIGTERM cancels a context so the
// program stops gracefully, a second one exits at once with code 130.
package signals

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// ExitForced is the exit code after a second signal.
const ExitForced = 130

// Context returns a context that the first SIGINT/SIGTERM cancels, after
// writing first to w; a second signal writes second (when not empty) and
// exits the process with ExitForced.
func Context(w io.Writer, first, second string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(w, first+"\n", s)
		cancel()
		<-sig
		if second != "" {
			fmt.Fprintln(w, second)
		}
		os.Exit(ExitForced)
	}()
	return ctx, cancel
}
