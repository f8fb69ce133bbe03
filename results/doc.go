// Package results owns the run directory: the summary.json schema (burst/v1),
// tasks.csv, timeline.csv, report.md, bench.txt and the timeline picture
// (timeline.png, timeline.svg); writing and loading them; and rendering a run
// as a terminal table, Markdown and Go benchmark lines. It also compares
// runs: Compare groups repeats of a configuration, estimates every figure
// as mean ± 95 % interval, marks the Pareto front of cost against completion
// p95, recommends a configuration and renders the comparison as a table,
// Markdown, CSV, benchmark lines and a chart. It imports neither Redis nor
// Kubernetes.
package results
