package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Charts are SVG drawn on the server: no chart library to ship, nothing
// to run in the browser, and they print. Colours come from the stylesheet
// (classes), never from inline styles, which the Content-Security-Policy
// forbids.

// Bar is one bar of a horizontal bar chart.
type Bar struct {
	Label string
	Value string // the figure printed after the bar
	Class string // CSS class of the bar
	Href  string // where the bar leads; "" for none
	W     float64
	// Positions: the label's right end, the bar's left end, the value's
	// left end, the baseline of the texts and the top of the bar.
	LX, BX, VX, TY, RY float64
}

// BarChart is a horizontal bar chart.
type BarChart struct {
	Title  string
	Width  int
	Height int
	Label  int // width of the label column
	Bars   []Bar
}

const barRow = 26

// barChart lays out bars of values; max is the value of a full bar (0:
// the largest value).
func barChart(title string, labels []string, values []float64, shown []string, classes []string, hrefs []string, max float64) BarChart {
	c := BarChart{Title: title, Width: 420, Label: 110, Height: barRow * len(values)}
	if max == 0 {
		for _, v := range values {
			max = math.Max(max, v)
		}
	}
	span := float64(c.Width - c.Label - 80)
	for i, v := range values {
		b := Bar{Label: labels[i], Value: shown[i]}
		if max > 0 {
			b.W = math.Round(span*v/max*10) / 10
		}
		y := float64(i * barRow)
		b.LX, b.BX, b.VX, b.TY, b.RY = float64(c.Label-8), float64(c.Label), float64(c.Label)+b.W+6, y+17, y+4
		if classes != nil {
			b.Class = classes[i]
		}
		if hrefs != nil {
			b.Href = hrefs[i]
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

// Area is one rating's band of the trend chart.
type Area struct {
	Name   string
	Class  string
	Points string // polygon points
	Last   int    // the count on the last day
}

// Tick is an axis tick.
type Tick struct {
	Pos   float64
	Label string
}

// TrendChart is the stacked area chart of open findings by rating.
type TrendChart struct {
	Caption                 string
	Width, Height           int
	Left, Top, PlotW, PlotH float64
	Right                   float64 // Left + PlotW
	Areas                   []Area
	XTicks, YTicks          []Tick
	Days                    int
	Rows                    []TrendRow // the figures, as a table
}

// TrendRow is one day of the trend table.
type TrendRow struct {
	Day    string
	Counts []int
	Total  int
}

// trendChart draws the trend, Critical at the bottom.
func trendChart(t Trend) TrendChart {
	c := TrendChart{Caption: "Open findings by rating, day by day", Width: 1100, Height: 300, Left: 56, Top: 10}
	c.PlotW = float64(c.Width) - c.Left - 40
	c.PlotH = float64(c.Height) - c.Top - 30
	c.Right = c.Left + c.PlotW
	n := len(t.Days)
	c.Days = n
	if n == 0 {
		return c
	}
	totals := make([]int, n)
	for _, s := range t.Open {
		for i, v := range s {
			totals[i] += max(v, 0)
		}
	}
	top := 0
	for _, v := range totals {
		top = max(top, v)
	}
	step := niceStep(float64(top) / 4)
	ymax := math.Max(step*math.Ceil(float64(top)/step), step)
	x := func(i int) float64 {
		if n == 1 {
			return c.Left + c.PlotW*float64(i)
		}
		return c.Left + c.PlotW*float64(i)/float64(n-1)
	}
	y := func(v float64) float64 { return c.Top + c.PlotH - c.PlotH*v/ymax }
	xs := make([]float64, n)
	for i := range n {
		xs[i] = x(i)
	}
	if n == 1 { // one day: a band across the whole width
		xs = []float64{c.Left, c.Left + c.PlotW}
	}
	base := make([]float64, len(xs))
	for ri, s := range t.Open {
		var sb strings.Builder
		upper := make([]float64, len(xs))
		for i := range xs {
			v := s[min(i, n-1)]
			upper[i] = base[i] + float64(max(v, 0))
			fmt.Fprintf(&sb, "%.1f,%.1f ", xs[i], y(upper[i]))
		}
		for i := len(xs) - 1; i >= 0; i-- {
			fmt.Fprintf(&sb, "%.1f,%.1f ", xs[i], y(base[i]))
		}
		c.Areas = append(c.Areas, Area{Name: t.Ratings[ri], Class: "r-" + strings.ToLower(t.Ratings[ri]),
			Points: strings.TrimSpace(sb.String()), Last: s[n-1]})
		base = upper
	}
	for v := 0.0; v <= ymax+step/2; v += step {
		c.YTicks = append(c.YTicks, Tick{Pos: y(v), Label: compact(int(v))})
	}
	every := max(1, (n+7)/8)
	for i := 0; i < n; i += every {
		c.XTicks = append(c.XTicks, Tick{Pos: xs[i], Label: t.Days[i][5:]})
	}
	if last := n - 1; last%every != 0 && last-last/every*every > every/2 {
		c.XTicks = append(c.XTicks, Tick{Pos: xs[min(last, len(xs)-1)], Label: t.Days[last][5:]})
	}
	for i := n - 1; i >= 0; i-- {
		row := TrendRow{Day: t.Days[i]}
		for _, s := range t.Open {
			row.Counts = append(row.Counts, s[i])
		}
		row.Total = totals[i]
		c.Rows = append(c.Rows, row)
	}
	return c
}

// niceStep rounds a step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// compact writes 1234567 as 1.2M, 12345 as 12k.
func compact(n int) string {
	switch {
	case n >= 1_000_000:
		return strings.TrimSuffix(strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64), ".0") + "M"
	case n >= 10_000:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}
