package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/burstbench/burst/internal/sweep"
	"github.com/burstbench/burst/results"
)

func init() { register(newCompareCmd) }

// Files a sweep writes next to its manifest (and compare --format picks from).
const (
	comparisonTable    = "comparison.txt"
	comparisonMarkdown = "comparison.md"
	comparisonCSV      = "comparison.csv"
	paretoPNG          = "pareto.png"
	paretoSVG          = "pareto.svg"
)

// Formats of burst compare.
var compareFormats = []string{"table", "markdown", "csv", "bench"}

type compareFlags struct {
	format string
	out    string
	chart  string
}

func newCompareCmd(s Streams) *cobra.Command {
	f := &compareFlags{}
	cmd := &cobra.Command{
		Use:   "compare DIR...",
		Short: "Compare runs and sweeps: one row per configuration, mean ± 95 % interval, Pareto front, recommendation",
		Long: `compare reads run directories and sweep directories and prints one row per
configuration with activation, first Ready, peak Ready, drain, completion
p50/p95/p99, leftover, lost, replica-hours and cost.

Repeats of a configuration (runs of one sweep with the same settings, or run
directories with the same effective scenario) are one row: mean ± the
half-width of the 95 % Student-t interval, with n. Runs from different sweep
directories are never merged, so two sweeps of the same settings compare side
by side. A row is Pareto-optimal when no other row is at least as good on both
cost (replica-hours when nothing has a price) and completion p95 and better on
one. The recommendation names the row that wins each figure, among the rows
that passed every SLO with a valid ledger.

Formats: table (terminal), markdown, csv (one line per configuration with
mean, ci95 and n of every figure), bench (Go benchmark format, one line per
run: benchstat old.txt new.txt compares two sweeps). When $GITHUB_STEP_SUMMARY
is set, the Markdown is appended to it as well.`,
		Example: `  burst compare results/sweep-local-spike-50-1a2b3c4d
  burst compare results/20260102T030405Z-spike-50 results/20260102T031000Z-spike-50
  burst compare --format markdown --out table.md --chart pareto.svg results/sweep-a
  burst compare --format bench old-sweep > old.txt && burst compare --format bench new-sweep > new.txt && benchstat old.txt new.txt`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCompare(s, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "table", "output format: "+strings.Join(compareFormats, ", "))
	fl.StringVar(&f.out, "out", "", "write the output to FILE instead of stdout")
	fl.StringVar(&f.chart, "chart", "", "also draw completion p95 against cost to FILE (.png or .svg)")
	return cmd
}

func runCompare(s Streams, f *compareFlags, dirs []string) error {
	if !slices.Contains(compareFormats, f.format) {
		return badInput("--format %q: use one of %s", f.format, strings.Join(compareFormats, ", "))
	}
	chartFormat := ""
	if f.chart != "" {
		chartFormat = strings.TrimPrefix(strings.ToLower(filepath.Ext(f.chart)), ".")
		if chartFormat != "png" && chartFormat != "svg" {
			return badInput("--chart %s: name a .png or .svg file", f.chart)
		}
	}
	sets, err := loadRunSets(dirs)
	if err != nil {
		return err
	}
	c, err := results.Compare(sets)
	if err != nil {
		return withCode(ExitBadInput, err)
	}
	var b bytes.Buffer
	switch f.format {
	case "table":
		err = c.WriteTable(&b)
	case "markdown":
		err = c.WriteMarkdown(&b)
	case "csv":
		err = c.WriteCSV(&b)
	case "bench":
		err = c.WriteBench(&b)
	}
	if err != nil {
		return fmt.Errorf("render the comparison: %w", err)
	}
	if f.out != "" {
		if err := os.WriteFile(f.out, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write the comparison: %w", err)
		}
		fmt.Fprintf(s.Err, "burst: wrote %s\n", f.out)
	} else if _, err := s.Out.Write(b.Bytes()); err != nil {
		return err
	}
	if f.chart != "" {
		if err := writeFileWith(f.chart, func(w io.Writer) error { return c.WriteChart(w, chartFormat) }); err != nil {
			return err
		}
		fmt.Fprintf(s.Err, "burst: wrote %s\n", f.chart)
	}
	return appendStepSummary(c)
}

// loadRunSets loads the runs of each directory: a sweep directory's complete
// runs as listed in its manifest, a run directory as one run (run
// directories given one by one form one set), any other directory as a set
// of the runs below it.
func loadRunSets(dirs []string) ([]results.RunSet, error) {
	var loose []string
	var sets []results.RunSet
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			return nil, badInput("compare %s: %v", d, err)
		}
		if _, err := os.Stat(filepath.Join(d, results.SummaryFile)); err == nil {
			loose = append(loose, d)
			continue
		}
		m, err := sweep.ReadManifest(d)
		switch {
		case err == nil:
			set := results.RunSet{Name: filepath.Base(filepath.Clean(d))}
			for _, e := range m.Runs {
				if e.Status != sweep.StatusComplete && e.Status != sweep.StatusReused {
					continue
				}
				r, err := results.Load(filepath.Join(d, filepath.FromSlash(e.Dir)))
				if err != nil {
					return nil, err
				}
				set.Runs = append(set.Runs, r)
			}
			if len(set.Runs) == 0 {
				return nil, badInput("compare %s: the sweep has no complete run yet", d)
			}
			sets = append(sets, set)
		case errors.Is(err, os.ErrNotExist):
			found, err := results.LoadSets([]string{d})
			if err != nil {
				return nil, withCode(ExitBadInput, err)
			}
			sets = append(sets, found...)
		default:
			return nil, err
		}
	}
	if len(loose) > 0 {
		found, err := results.LoadSets(loose)
		if err != nil {
			return nil, withCode(ExitBadInput, err)
		}
		sets = append(found, sets...)
	}
	return sets, nil
}

// writeComparison writes the comparison files of a sweep into dir.
func writeComparison(dir string, c *results.Comparison) error {
	files := []struct {
		name string
		fn   func(io.Writer) error
	}{
		{comparisonTable, c.WriteTable},
		{comparisonMarkdown, c.WriteMarkdown},
		{comparisonCSV, c.WriteCSV},
		{results.BenchFile, c.WriteBench},
		{paretoPNG, func(w io.Writer) error { return c.WriteChart(w, "png") }},
		{paretoSVG, func(w io.Writer) error { return c.WriteChart(w, "svg") }},
	}
	for _, f := range files {
		if err := writeFileWith(filepath.Join(dir, f.name), f.fn); err != nil {
			return err
		}
	}
	return nil
}

// writeFileWith writes path with fn, via a temporary file.
func writeFileWith(path string, fn func(io.Writer) error) error {
	var b bytes.Buffer
	if err := fn(&b); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// appendStepSummary appends the comparison as Markdown to the file named by
// $GITHUB_STEP_SUMMARY (the job summary of a GitHub Actions step).
func appendStepSummary(c *results.Comparison) error {
	path := os.Getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	var b bytes.Buffer
	if err := c.WriteMarkdown(&b); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("append to $GITHUB_STEP_SUMMARY: %w", err)
	}
	if _, err := f.Write(append(b.Bytes(), '\n')); err != nil {
		f.Close()
		return fmt.Errorf("append to $GITHUB_STEP_SUMMARY: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("append to $GITHUB_STEP_SUMMARY: %w", err)
	}
	return nil
}
