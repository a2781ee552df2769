package server_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserPhone visits every page each role reaches on a 390 px wide
// phone, with data on every list, and finds none wider than the screen.
func TestBrowserPhone(t *testing.T) {
	tr := newTour(t)
	phone := func(b *browserSession) { b.do(t, chromedp.EmulateViewport(390, 844)) }
	tr.visit(t, phone, func(t *testing.T, b *browserSession, who, path string) {
		if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(".error-page").length`)); err != nil || n != 0 {
			t.Errorf("%s as %q: an error page (%v)", path, who, err)
		}
		if w := b.wider(t); w != "" {
			t.Errorf("%s as %q: %s", path, who, w)
		}
		// A list that scrolls sideways hides its columns: lists are cards
		// on a phone.
		hidden, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`Array.from(document.querySelectorAll(".table-wrap")).filter(e => e.scrollWidth > e.clientWidth + 1).length`))
		if err != nil || hidden != 0 {
			t.Errorf("%s as %q: %d lists scroll sideways on a phone (%v)", path, who, hidden, err)
		}
		b.screenshot(t, shotName("phone", who, path))
	})
}
