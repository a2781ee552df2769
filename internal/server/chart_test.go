package server

import (
	"strings"
	"testing"
)

func TestNiceCeil(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{0, 1}, {1, 1}, {2, 2}, {3, 5}, {7, 10}, {11, 20}, {40, 50}, {51, 100}, {999, 1000}} {
		if got := niceCeil(tc.n); got != tc.want {
			t.Errorf("niceCeil(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestChart_Lines(t *testing.T) {
	c := chart{ID: "tasks", Title: "Tasks <per> hour", Summary: "4 created & 2 completed.", XLabel: "Hour (UTC)", YLabel: "Tasks",
		Labels: []string{"10:00", "11:00"}, Every: 1,
		Series: []chartSeries{{Name: "Created", Class: "series-1", Values: []int{0, 4}}, {Name: "Completed", Class: "series-3", Values: []int{2, 0}}}}
	svg := string(c.SVG())
	for _, want := range []string{
		`role="img" aria-labelledby="tasks-title tasks-desc"`,
		`<title id="tasks-title">Tasks &lt;per&gt; hour</title>`,
		`<desc id="tasks-desc">4 created &amp; 2 completed.</desc>`,
		// The axis ends at 5, the plot spans x 44..430 and y 12..158:
		// two points at the middles of their halves.
		`<path class="chart-line series-1" d="M140.5 158.0 L333.5 41.2"/>`,
		`<path class="chart-line series-3" d="M140.5 99.6 L333.5 158.0"/>`,
		`>Hour (UTC)</text>`, `>Tasks</text>`, `>10:00</text>`, `>11:00</text>`,
		`<title>Created, 11:00: 4</title>`,
		`>0</text>`, `>5</text>`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("the SVG lacks %s:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "style=") {
		t.Error("the SVG has a style attribute, which the CSP refuses")
	}
}

func TestChart_Bars(t *testing.T) {
	c := chart{ID: "present", Title: "Agents present", Labels: []string{"a", "b", "c", "d"}, Every: 2, Bars: true,
		Series: []chartSeries{{Name: "Present", Class: "series-4", Values: []int{0, 1, 2, 0}}}}
	svg := string(c.SVG())
	if n := strings.Count(svg, `<rect class="chart-bar series-4"`); n != 4 {
		t.Errorf("%d bars, want 4", n)
	}
	// The axis ends at 2, with a middle line at 1: a bar of 2 fills the
	// plot's height.
	if !strings.Contains(svg, `height="146.0"><title>c: 2</title>`) || !strings.Contains(svg, `>1</text>`) {
		t.Errorf("bar heights or ticks are wrong:\n%s", svg)
	}
	if strings.Contains(svg, `>b</text>`) || !strings.Contains(svg, `>c</text>`) {
		t.Errorf("every second label should show:\n%s", svg)
	}
}
