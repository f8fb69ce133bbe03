package results

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Image files of a run directory.
const (
	TimelinePNG = "timeline.png"
	TimelineSVG = "timeline.svg"
)

// Timeline image size.
const (
	timelineWidth  = 9 * vg.Inch
	timelineHeight = 8 * vg.Inch
)

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
}

var colorEvent = color.NRGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xc0}

// series is one line of a timeline panel.
type series struct {
	name string
	xys  plotter.XYs
	step bool // a level held until the next change (replica counts)
}

// mark is a scale event on the time axis.
type mark struct {
	x     float64
	label string
}

// WriteTimelineImage draws the run's timeline as format "png" or "svg":
// queue lag and pending; desired and ready replicas (the fixed worker
// processes seen as Redis consumers on the local target); completed tasks
// over time; scale events (KEDA activation, HPA rescales, ScaledObject
// active changes) as vertical lines. Time is seconds from t0.
func WriteTimelineImage(w io.Writer, r *Run, format string) error {
	var queue, reps, done []series
	add := func(dst *[]series, name string, x, y float64, step bool) {
		for i := range *dst {
			if (*dst)[i].name == name {
				(*dst)[i].xys = append((*dst)[i].xys, plotter.XY{X: x, Y: y})
				return
			}
		}
		*dst = append(*dst, series{name: name, xys: plotter.XYs{{X: x, Y: y}}, step: step})
	}
	var marks []mark
	var consumers []plotter.XY
	hasKube := false
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, row := range r.Timeline {
		x := row.Ms / 1000
		xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
		v := row.Values
		switch row.Source {
		case "redis":
			if row.Kind != "sample" && row.Kind != "final" {
				continue
			}
			if lag, ok := v["lag"]; ok {
				add(&queue, "lag (undelivered)", x, lag, false)
			}
			if p, ok := v["pending"]; ok {
				add(&queue, "pending (delivered, not acked)", x, p, false)
			}
			if n, ok := v["results"]; ok {
				add(&done, "finished tasks (result records)", x, n, false)
			}
			if n, ok := v["consumers"]; ok {
				consumers = append(consumers, plotter.XY{X: x, Y: n})
			}
		case "deployment":
			hasKube = true
			if n, ok := v["spec_replicas"]; ok {
				add(&reps, "desired (Deployment spec)", x, n, true)
			}
			if n, ok := v["ready_replicas"]; ok {
				add(&reps, "ready", x, n, true)
			}
		case "hpa":
			hasKube = true
			if n, ok := v["desired_replicas"]; ok {
				add(&reps, "desired (HPA)", x, n, true)
			}
		case "scaledobject":
			if row.Kind == "active" || row.Kind == "inactive" {
				marks = append(marks, mark{x, "ScaledObject " + row.Kind})
			}
		case "event":
			if scaleEvent(row.Kind) {
				marks = append(marks, mark{x, row.Kind})
			}
		}
	}
	if !hasKube && len(consumers) > 0 {
		reps = append(reps, series{name: "worker processes (Redis consumers)", xys: consumers, step: true})
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax = 0, 1
	}
	// Levels hold until the end of the observation.
	for i := range reps {
		last := reps[i].xys[len(reps[i].xys)-1]
		if last.X < xmax {
			reps[i].xys = append(reps[i].xys, plotter.XY{X: xmax, Y: last.Y})
		}
	}
	sort.SliceStable(marks, func(i, j int) bool { return marks[i].x < marks[j].x })

	title := "burst run " + r.Summary.RunID
	if r.Summary.ScenarioName != "" {
		title += " · " + r.Summary.ScenarioName
	}
	panels := []struct {
		title  string
		ylabel string
		lines  []series
	}{
		{title + "\nqueue", "entries", queue},
		{"replicas", "replicas", reps},
		{"completed", "tasks", done},
	}
	plots := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.Y.Label.Text = pn.ylabel
		p.Y.Min = 0
		p.X.Min, p.X.Max = xmin, xmax
		if i == len(panels)-1 {
			p.X.Label.Text = "seconds from the first enqueue (t0)"
		}
		p.Add(plotter.NewGrid())
		for j, s := range pn.lines {
			l, err := plotter.NewLine(s.xys)
			if err != nil {
				return fmt.Errorf("timeline %s: %w", s.name, err)
			}
			l.Color = palette[j%len(palette)]
			l.Width = vg.Points(1.5)
			if s.step {
				l.StepStyle = plotter.PostStep
			}
			p.Add(l)
			p.Legend.Add(s.name, l)
		}
		if len(pn.lines) == 0 {
			p.Title.Text += " (not observed)"
		}
		if p.Y.Max <= p.Y.Min {
			p.Y.Max = p.Y.Min + 1
		}
		p.Y.Max *= 1.1
		if len(marks) > 0 {
			m := &eventMarks{marks: marks, labels: i == 0}
			p.Add(m)
			if i == 0 {
				p.Legend.Add("scale event", m)
			}
		}
		p.Legend.Top = true
		p.Legend.TextStyle.Font.Size = vg.Points(9)
		p.Y.Tick.Marker = plainTicks{}
		p.X.Tick.Marker = plainTicks{}
		plots[i] = []*plot.Plot{p}
	}
	return writePlots(w, format, timelineWidth, timelineHeight, plots)
}

// plainTicks are gonum's default ticks with labels in the shortest form
// ("50", not "50.00").
type plainTicks struct{}

// Ticks implements plot.Ticker.
func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}

// eventMarks draws vertical lines across a panel at event times and, when
// labels is set, the event names rotated along them.
type eventMarks struct {
	marks  []mark
	labels bool
}

// Plot implements plot.Plotter.
func (m *eventMarks) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	ls := draw.LineStyle{Color: colorEvent, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}
	st := text.Style{Color: colorEvent, Font: p.Title.TextStyle.Font, Rotation: math.Pi / 2, XAlign: draw.XRight, YAlign: draw.YTop,
		Handler: p.TextHandler}
	st.Font.Size = vg.Points(8)
	lastLabel := vg.Length(math.Inf(-1))
	for _, mk := range m.marks {
		if mk.x < p.X.Min || mk.x > p.X.Max {
			continue
		}
		x := trX(mk.x)
		c.StrokeLine2(ls, x, c.Min.Y, x, c.Max.Y)
		if m.labels && x-lastLabel > vg.Points(9) {
			c.FillText(st, vg.Point{X: x - vg.Points(1), Y: c.Max.Y - vg.Points(2)}, shortReason(mk.label))
			lastLabel = x
		}
	}
}

// Thumbnail implements plot.Thumbnailer for the legend.
func (m *eventMarks) Thumbnail(c *draw.Canvas) {
	ls := draw.LineStyle{Color: colorEvent, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}
	x := (c.Min.X + c.Max.X) / 2
	c.StrokeLine2(ls, x, c.Min.Y, x, c.Max.Y)
}

// scaleEvent reports whether a Kubernetes event reason is a scale event:
// KEDA's activation and deactivation (and their failures) and the HPA's
// rescales. Pod-level events (Killing, FailedScheduling) are not marked.
func scaleEvent(reason string) bool {
	return strings.HasPrefix(reason, "KEDAScaleTarget") || reason == "SuccessfulRescale"
}

// shortReason shortens KEDA's event reasons for labels.
func shortReason(s string) string {
	s = strings.TrimPrefix(s, "KEDAScaleTarget")
	s = strings.TrimPrefix(s, "KEDA")
	if len(s) > 24 {
		s = s[:24]
	}
	return s
}

// writePlots draws a grid of plots on one canvas of format png or svg.
func writePlots(w io.Writer, format string, width, height vg.Length, plots [][]*plot.Plot) error {
	var (
		c  vg.CanvasWriterTo
		dc draw.Canvas
	)
	switch format {
	case "png":
		img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))
		c = vgimg.PngCanvas{Canvas: img}
		dc = draw.New(img)
	case "svg":
		svg := vgsvg.New(width, height)
		c = svg
		dc = draw.New(svg)
	default:
		return fmt.Errorf("image format %q: want png or svg", format)
	}
	rows := len(plots)
	tiles := draw.Tiles{Rows: rows, Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("write %s image: %w", format, err)
	}
	return nil
}
