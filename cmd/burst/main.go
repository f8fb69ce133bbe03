// Command burst measures how KEDA-scaled agent workers absorb bursts of tasks.
package main

import (
	"os"

	"github.com/burstbench/burst/internal/cli"
)

func main() { os.Exit(cli.Main()) }
