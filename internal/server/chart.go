package server

import (
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"
)

// Charts are drawn here, as SVG in the page: no script draws them, so they
// show without JavaScript, and the strict CSP needs no exception. Colours
// come from the stylesheet's classes (chart-*, series-*), which follow the
// light and dark schemes; the SVG itself holds only geometry and text.

// chartSeries is one line, or one set of bars, of a chart.
type chartSeries struct {
	Name string
	// Class colours the series: series-1 … series-4 in the stylesheet.
	Class  string
	Values []int
}

// chart is a small chart over labelled points, as lines or (for one
// series) bars.
type chart struct {
	// ID prefixes the IDs of the chart's title and description.
	ID    string
	Title string
	// Summary says what the chart shows in words, for screen readers,
	// which read the title and the summary instead of the drawing.
	Summary string
	XLabel  string
	YLabel  string
	// Labels name the points, one per value; Every says how many points
	// one axis label spans.
	Labels []string
	Every  int
	Series []chartSeries
	Bars   bool
}

// The drawing's coordinate system; the SVG scales to its box.
const (
	chartWidth  = 440
	chartHeight = 200
	chartLeft   = 44
	chartRight  = 10
	chartTop    = 12
	chartBottom = 42
)

// niceCeil rounds n up to 1, 2 or 5 times a power of ten, so that the axis
// ends on a round number; at least 1.
func niceCeil(n int) int {
	if n <= 1 {
		return 1
	}
	for scale := 1; ; scale *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*scale >= n {
				return m * scale
			}
		}
	}
}

// SVG draws the chart.
func (c chart) SVG() template.HTML {
	points := len(c.Labels)
	top := 0
	for _, s := range c.Series {
		for _, v := range s.Values {
			top = max(top, v)
		}
	}
	top = niceCeil(top)
	plotW := float64(chartWidth - chartLeft - chartRight)
	plotH := float64(chartHeight - chartTop - chartBottom)
	step := plotW / float64(max(points, 1))
	x := func(i int) float64 { return chartLeft + (float64(i)+0.5)*step }
	y := func(v int) float64 { return chartTop + plotH - float64(v)/float64(top)*plotH }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	esc := html.EscapeString

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc">`,
		chartWidth, chartHeight, esc(c.ID), esc(c.ID))
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(c.ID), esc(c.Title), esc(c.ID), esc(c.Summary))
	// Grid lines and their values: the bottom, the middle when it is a
	// whole number, and the top.
	ticks := []int{0, top}
	if top%2 == 0 {
		ticks = []int{0, top / 2, top}
	}
	for _, t := range ticks {
		fmt.Fprintf(&b, `<line class="chart-grid" x1="%d" y1="%s" x2="%d" y2="%s"/>`, chartLeft, f(y(t)), chartWidth-chartRight, f(y(t)))
		fmt.Fprintf(&b, `<text class="chart-tick" x="%d" y="%s" text-anchor="end" dominant-baseline="middle">%d</text>`, chartLeft-6, f(y(t)), t)
	}
	every := max(c.Every, 1)
	for i, l := range c.Labels {
		if i%every == 0 {
			fmt.Fprintf(&b, `<text class="chart-tick" x="%s" y="%d" text-anchor="middle">%s</text>`, f(x(i)), chartHeight-chartBottom+16, esc(l))
		}
	}
	fmt.Fprintf(&b, `<text class="chart-axis" x="%s" y="%d" text-anchor="middle">%s</text>`, f(chartLeft+plotW/2), chartHeight-6, esc(c.XLabel))
	fmt.Fprintf(&b, `<text class="chart-axis" x="12" y="%s" text-anchor="middle" transform="rotate(-90 12 %s)">%s</text>`,
		f(chartTop+plotH/2), f(chartTop+plotH/2), esc(c.YLabel))
	for _, s := range c.Series {
		if c.Bars {
			w := step * 0.7
			for i, v := range s.Values {
				fmt.Fprintf(&b, `<rect class="chart-bar %s" x="%s" y="%s" width="%s" height="%s"><title>%s: %d</title></rect>`,
					esc(s.Class), f(x(i)-w/2), f(y(v)), f(w), f(y(0)-y(v)), esc(c.Labels[i]), v)
			}
			continue
		}
		var d strings.Builder
		for i, v := range s.Values {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%s %s ", cmd, f(x(i)), f(y(v)))
		}
		fmt.Fprintf(&b, `<path class="chart-line %s" d="%s"/>`, esc(s.Class), strings.TrimSpace(d.String()))
		if n := len(s.Values); n > 0 {
			fmt.Fprintf(&b, `<circle class="chart-dot %s" cx="%s" cy="%s" r="3"><title>%s, %s: %d</title></circle>`,
				esc(s.Class), f(x(n-1)), f(y(s.Values[n-1])), esc(s.Name), esc(c.Labels[n-1]), s.Values[n-1])
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text above is escaped
}
