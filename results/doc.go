// Package results owns the run directory: the summary.json schema (burst/v1),
// tasks.csv, timeline.csv, report.md and bench.txt; writing and loading them;
// and rendering a run as a terminal table, Markdown and Go benchmark lines.
// It imports neither Redis nor Kubernetes.
package results
