package loadprofiles

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxReplayBytes bounds the size of a replay CSV file.
const maxReplayBytes = 512 << 20

// maxCSVProblems bounds how many problems one CSV file reports.
const maxCSVProblems = 20

// replayRow is one arrival of a replay file. An attribute of -1 is drawn
// from the stage's distribution instead.
type replayRow struct {
	offset time.Duration
	attr   [numAttrs]int32
}

// replay reads the stage's CSV file into st.rows. line and field locate the
// file: field in the profile; problems name the CSV line in the message.
func (d *decoder) replay(st *stage, line int, field string) {
	data, display, err := d.read(st.file)
	if err != nil {
		d.ps.add(line, field, fmt.Sprintf("cannot read replay file: %v", err),
			"check the path; it is relative to the directory of the profile file")
		return
	}
	rows, probs := parseReplay(display, data)
	for _, p := range probs {
		d.ps.add(line, field, p, "correct the CSV file (columns: offset, and optionally "+
			strings.Join(attrKeys(), ", ")+")")
	}
	if len(probs) == 0 && len(rows) == 0 {
		d.ps.add(line, field, display+": no arrivals", "add rows below the header line, one per task")
	}
	st.rows = rows
}

// attrKeys lists the task attribute names.
func attrKeys() []string {
	keys := make([]string, len(attrs))
	for i, a := range attrs {
		keys[i] = a.key
	}
	return keys
}

// parseReplay parses a replay CSV. The first record is a header naming the
// columns: offset (required) and any of steps, prompt_tokens, output_tokens,
// priority. Offsets are durations ("1.5s") or plain seconds ("1.5"), relative
// to the stage start, in any order. Empty attribute cells are drawn from the
// stage's distributions. Lines starting with # are comments. It returns the
// rows sorted by offset (stable) and at most maxCSVProblems+1 problems, each
// starting with "name:line:".
func parseReplay(name string, data []byte) ([]replayRow, []string) {
	var probs []string
	extra := 0
	bad := func(line int, format string, args ...any) {
		if len(probs) < maxCSVProblems {
			probs = append(probs, fmt.Sprintf("%s:%d: ", name, line)+fmt.Sprintf(format, args...))
		} else {
			extra++
		}
	}
	done := func(rows []replayRow) ([]replayRow, []string) {
		if extra > 0 {
			probs = append(probs, fmt.Sprintf("%s: and %d more problems", name, extra))
		}
		if len(probs) > 0 {
			return nil, probs
		}
		slices.SortStableFunc(rows, func(a, b replayRow) int { return int(sign(a.offset - b.offset)) })
		return rows, nil
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a spreadsheet's byte-order mark
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	r.FieldsPerRecord = -1

	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		bad(1, "the file is empty")
		return done(nil)
	}
	if err != nil {
		bad(csvLine(err, 1), "%s", csvMessage(err))
		return done(nil)
	}
	hline, _ := r.FieldPos(0)
	cols := make([]int, len(header)) // column → attribute index, or -1 for offset
	offsetCol := -1
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		switch {
		case seen[h]:
			bad(hline, "column %q appears twice in the header", h)
		case h == "offset":
			offsetCol, cols[i] = i, -1
		case slices.Contains(attrKeys(), h):
			cols[i] = slices.Index(attrKeys(), h)
		default:
			if _, err := parseOffset(h); err == nil && i == 0 {
				bad(hline, "the first line must be a header, e.g. \"offset,steps,prompt_tokens,output_tokens,priority\"")
				return done(nil)
			}
			msg := fmt.Sprintf("unknown column %q in the header", h)
			if s := suggest(h, append([]string{"offset"}, attrKeys()...)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			bad(hline, "%s", msg)
		}
		seen[h] = true
	}
	if offsetCol < 0 {
		bad(hline, "the header has no offset column")
	}
	if len(probs) > 0 {
		return done(nil)
	}
	var rows []replayRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			bad(csvLine(err, hline), "%s", csvMessage(err))
			if extra > 0 {
				break
			}
			continue
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			bad(line, "%d fields, but the header has %d", len(rec), len(header))
			continue
		}
		if len(rows) >= MaxTasks {
			bad(line, "more than %d rows, the limit of tasks in a profile", MaxTasks)
			break
		}
		row := replayRow{attr: [numAttrs]int32{-1, -1, -1, -1}}
		for i, cell := range rec {
			cell = strings.TrimSpace(cell)
			if i == offsetCol {
				off, err := parseOffset(cell)
				if err != nil {
					bad(line, "column offset: %v", err)
				}
				row.offset = off
				continue
			}
			if cell == "" {
				continue
			}
			a := attrs[cols[i]]
			v, err := strconv.ParseInt(cell, 10, 64)
			if err != nil || v < int64(a.min) || v > int64(a.max) {
				bad(line, "column %s: %q is not a whole number from %d to %d", a.key, cell, a.min, a.max)
				continue
			}
			row.attr[cols[i]] = int32(v)
		}
		rows = append(rows, row)
	}
	return done(rows)
}

// parseOffset parses a replay offset: a Go duration or plain seconds.
func parseOffset(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty; write the offset from the stage start, e.g. 1.5s or 1.5")
	}
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > seconds(MaxOffset) {
			return 0, fmt.Errorf("%q is out of range (0 to %s)", s, MaxOffset)
		}
		d = fromSeconds(f)
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (1.5s) or a number of seconds (1.5)", s)
		}
		if d < 0 || d > MaxOffset {
			return 0, fmt.Errorf("%q is out of range (0 to %s)", s, MaxOffset)
		}
	}
	return d, nil
}

// csvLine returns the line of a CSV parse error, or def.
func csvLine(err error, def int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) && pe.Line > 0 {
		return pe.Line
	}
	return def
}

// csvMessage returns a CSV parse error without its position prefix.
func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return "wrong number of fields"
		}
		return fmt.Sprintf("column %d: %v", pe.Column, pe.Err)
	}
	return err.Error()
}

func sign(d time.Duration) int {
	switch {
	case d < 0:
		return -1
	case d > 0:
		return 1
	}
	return 0
}
