package results

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// File names inside a run directory.
const (
	SummaryFile  = "summary.json"
	TasksFile    = "tasks.csv"
	TimelineFile = "timeline.csv"
	ReportFile   = "report.md"
	BenchFile    = "bench.txt"
)

// TaskRow is one line of tasks.csv: the fate of one task id. Times are
// milliseconds from t0 (empty when not reached).
type TaskRow struct {
	TaskID    string
	Seq       int64
	EntryID   string
	Status    string // completed, failed, dead_lettered, pending, undelivered, lost, dropped
	Consumer  string
	Results   int // result records seen (> 1: duplicated)
	Deliver   int64
	Attempts  int
	Steps     int
	Intended  *float64
	Enqueued  *float64
	Started   *float64
	Finished  *float64
	QueueWait *float64
	Service   *float64
	Complete  *float64
	TTFTMs    []float64
	Error     string
}

var taskHeader = []string{"task_id", "seq", "entry_id", "status", "consumer", "results", "deliveries", "attempts", "steps",
	"intended_ms", "enqueued_ms", "started_ms", "finished_ms", "queue_wait_ms", "service_ms", "completion_ms", "ttft_ms", "error"}

// TimelineRow is one line of timeline.csv: a Redis sample or a Kubernetes
// event, in time order.
type TimelineRow struct {
	// Ms is milliseconds from t0 (negative before the first enqueue).
	Ms      float64
	At      time.Time
	Source  string // redis, deployment, replicaset, pod, hpa, scaledobject, event, loadgen, worker
	Kind    string // sample, created, scheduled, started, ready, deleted, replicas, active, ...
	Object  string
	Values  map[string]float64
	Message string
}

// TimelineColumns are the value columns of timeline.csv, in order.
var TimelineColumns = []string{"length", "pending", "lag", "entries_read", "consumers", "results", "dead",
	"spec_replicas", "replicas", "ready_replicas", "desired_replicas", "current_replicas", "active"}

// Run is everything a run directory holds.
type Run struct {
	Dir      string
	Summary  Summary
	Tasks    []TaskRow
	Timeline []TimelineRow
}

// Write creates dir and writes summary.json, tasks.csv, timeline.csv,
// report.md, bench.txt and the timeline picture (timeline.png, timeline.svg).
func Write(dir string, r *Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create run directory: %w", err)
	}
	r.Dir = dir
	if r.Summary.Schema == "" {
		r.Summary.Schema = Schema
	}
	steps := []struct {
		name string
		fn   func(io.Writer) error
	}{
		{SummaryFile, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(r.Summary)
		}},
		{TasksFile, func(w io.Writer) error { return writeTasks(w, r.Tasks) }},
		{TimelineFile, func(w io.Writer) error { return writeTimeline(w, r.Timeline) }},
		{ReportFile, func(w io.Writer) error { return WriteReport(w, &r.Summary) }},
		{BenchFile, func(w io.Writer) error { return WriteBench(w, []*Summary{&r.Summary}) }},
		{TimelinePNG, func(w io.Writer) error { return WriteTimelineImage(w, r, "png") }},
		{TimelineSVG, func(w io.Writer) error { return WriteTimelineImage(w, r, "svg") }},
	}
	for _, s := range steps {
		if err := writeFile(filepath.Join(dir, s.name), s.fn); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	w := bufio.NewWriter(f)
	if err := fn(w); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func fmtF(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', 3, 64)
}

func writeTasks(w io.Writer, rows []TaskRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(taskHeader); err != nil {
		return err
	}
	for _, t := range rows {
		ttft := ""
		for i, v := range t.TTFTMs {
			if i > 0 {
				ttft += ";"
			}
			ttft += strconv.FormatFloat(v, 'f', 3, 64)
		}
		rec := []string{t.TaskID, strconv.FormatInt(t.Seq, 10), t.EntryID, t.Status, t.Consumer, strconv.Itoa(t.Results),
			strconv.FormatInt(t.Deliver, 10), strconv.Itoa(t.Attempts), strconv.Itoa(t.Steps),
			fmtF(t.Intended), fmtF(t.Enqueued), fmtF(t.Started), fmtF(t.Finished), fmtF(t.QueueWait), fmtF(t.Service), fmtF(t.Complete),
			ttft, t.Error}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func writeTimeline(w io.Writer, rows []TimelineRow) error {
	cw := csv.NewWriter(w)
	head := append([]string{"t_ms", "at", "source", "kind", "object"}, TimelineColumns...)
	head = append(head, "message")
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{strconv.FormatFloat(r.Ms, 'f', 3, 64), r.At.UTC().Format(time.RFC3339Nano), r.Source, r.Kind, r.Object}
		for _, c := range TimelineColumns {
			if v, ok := r.Values[c]; ok {
				rec = append(rec, strconv.FormatFloat(v, 'f', -1, 64))
			} else {
				rec = append(rec, "")
			}
		}
		rec = append(rec, r.Message)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Load reads a run directory's summary.json and timeline.csv.
func Load(dir string) (*Run, error) {
	b, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		return nil, fmt.Errorf("load run %s: %w", dir, err)
	}
	r := &Run{Dir: dir}
	if err := json.Unmarshal(b, &r.Summary); err != nil {
		return nil, fmt.Errorf("load run %s: %s: %w", dir, SummaryFile, err)
	}
	if r.Summary.Schema != Schema {
		return nil, fmt.Errorf("load run %s: schema %q, want %q", dir, r.Summary.Schema, Schema)
	}
	tl, err := readTimeline(filepath.Join(dir, TimelineFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load run %s: %w", dir, err)
	}
	r.Timeline = tl
	return r, nil
}

func readTimeline(path string) ([]TimelineRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(bufio.NewReader(f)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, nil
	}
	head := recs[0]
	var out []TimelineRow
	for i, rec := range recs[1:] {
		if len(rec) != len(head) {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d", path, i+2, len(rec), len(head))
		}
		ms, err := strconv.ParseFloat(rec[0], 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: t_ms: %w", path, i+2, err)
		}
		at, _ := time.Parse(time.RFC3339Nano, rec[1])
		row := TimelineRow{Ms: ms, At: at, Source: rec[2], Kind: rec[3], Object: rec[4], Message: rec[len(rec)-1], Values: map[string]float64{}}
		for j, c := range head[5 : len(head)-1] {
			if s := rec[5+j]; s != "" {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %s: %w", path, i+2, c, err)
				}
				row.Values[c] = v
			}
		}
		out = append(out, row)
	}
	return out, nil
}
