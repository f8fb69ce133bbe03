package results

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ParetoFront reports, for each point (x[i], y[i]), whether it is
// Pareto-optimal when both coordinates are to be minimised: no other point
// is at least as good on both and strictly better on one. Points with ok[i]
// false take no part and are never optimal.
func ParetoFront(x, y []float64, ok []bool) []bool {
	front := make([]bool, len(x))
	for i := range x {
		if !ok[i] {
			continue
		}
		front[i] = true
		for j := range x {
			if j == i || !ok[j] {
				continue
			}
			if x[j] <= x[i] && y[j] <= y[i] && (x[j] < x[i] || y[j] < y[i]) {
				front[i] = false
				break
			}
		}
	}
	return front
}

// markPareto marks the rows on the front of cost against completion p95.
func (c *Comparison) markPareto() {
	n := len(c.Rows)
	x, y, ok := make([]float64, n), make([]float64, n), make([]bool, n)
	for i, r := range c.Rows {
		cx, cy := r.Values[c.CostKey], r.Values["completion_p95_ms"]
		x[i], y[i], ok[i] = cx.Mean, cy.Mean, cx.N > 0 && cy.N > 0
	}
	for i, p := range ParetoFront(x, y, ok) {
		c.Rows[i].Pareto = p
	}
}

// Chart sizes.
const (
	chartWidth  = 7 * vg.Inch
	chartHeight = 4.5 * vg.Inch
)

var (
	colorFront = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colorOther = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
)

// xyErr holds points with symmetric errors for gonum's error bars.
type xyErr struct {
	plotter.XYs
	plotter.XErrors
	plotter.YErrors
}

// WriteChart draws completion p95 against cost (the Pareto chart) as
// format "png" or "svg": one point per configuration with its 95 %
// intervals, numbered as in the table, and the Pareto front as a step line.
func (c *Comparison) WriteChart(w io.Writer, format string) error {
	p := plot.New()
	cost := figure(c.CostKey)
	p.Title.Text = "completion p95 vs " + cost.Name + " (mean ± 95 % interval)"
	p.X.Label.Text = cost.Name
	if cost.Unit == UnitUSD {
		p.X.Label.Text += " (USD)"
	}
	p.Y.Label.Text = "completion p95 (s)"
	p.Add(plotter.NewGrid())

	var all, front xyErr
	var labels plotter.XYLabels
	for _, r := range c.Rows {
		cx, cy := r.Values[c.CostKey], r.Values["completion_p95_ms"]
		if cx.N == 0 || cy.N == 0 {
			continue
		}
		pt := plotter.XY{X: cx.Mean, Y: cy.Mean / 1000}
		all.XYs = append(all.XYs, pt)
		all.XErrors = append(all.XErrors, struct{ Low, High float64 }{cx.CI95, cx.CI95})
		all.YErrors = append(all.YErrors, struct{ Low, High float64 }{cy.CI95 / 1000, cy.CI95 / 1000})
		labels.XYs = append(labels.XYs, pt)
		labels.Labels = append(labels.Labels, "#"+strconv.Itoa(r.Index))
		if r.Pareto {
			front.XYs = append(front.XYs, pt)
		}
	}
	if len(all.XYs) == 0 {
		p.Title.Text += ": no configuration observed both"
	} else {
		xe, err := plotter.NewXErrorBars(all)
		if err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		ye, err := plotter.NewYErrorBars(all)
		if err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		xe.Color, ye.Color = color.Gray{Y: 0x80}, color.Gray{Y: 0x80}
		sc, err := plotter.NewScatter(all.XYs)
		if err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colorOther, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
		p.Add(xe, ye, sc)
		p.Legend.Add("configuration", sc)
		if len(front.XYs) > 0 {
			sort.Slice(front.XYs, func(i, j int) bool { return front.XYs[i].X < front.XYs[j].X })
			line, err := plotter.NewLine(front.XYs)
			if err != nil {
				return fmt.Errorf("chart: %w", err)
			}
			line.StepStyle = plotter.PostStep
			line.Color = colorFront
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			fs, err := plotter.NewScatter(front.XYs)
			if err != nil {
				return fmt.Errorf("chart: %w", err)
			}
			fs.GlyphStyle = draw.GlyphStyle{Color: colorFront, Radius: vg.Points(4.5), Shape: draw.RingGlyph{}}
			p.Add(line, fs)
			p.Legend.Add("Pareto front", line, fs)
		}
		lb, err := plotter.NewLabels(labels)
		if err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
		p.Add(lb)
		padRange(&p.X)
		padRange(&p.Y)
	}
	p.Legend.Top = true
	p.Y.Tick.Marker = plainTicks{}
	p.X.Tick.Marker = plainTicks{}
	return writePlots(w, format, chartWidth, chartHeight, [][]*plot.Plot{{p}})
}

// padRange widens an axis by 10 % on each side (and around a single value),
// so that points and labels are not drawn on the frame.
func padRange(a *plot.Axis) {
	span := a.Max - a.Min
	if span <= 0 || math.IsNaN(span) || math.IsInf(span, 0) {
		span = math.Max(math.Abs(a.Max), 1)
		if a.Max == 0 {
			span = 1e-6
		}
	}
	a.Min -= span * 0.1
	a.Max += span * 0.1
	if a.Min < 0 && a.Min+span*0.1 >= 0 {
		a.Min = 0
	}
}
