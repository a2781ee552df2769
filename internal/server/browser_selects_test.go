package server_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// cutSelects lists the selects of the page too narrow for their longest
// option, as "id: option".
const cutSelects = `(() => {
  const ctx = document.createElement("canvas").getContext("2d");
  const out = [];
  for (const s of document.querySelectorAll("main select")) {
    const cs = getComputedStyle(s);
    ctx.font = cs.font;
    let longest = "", width = 0;
    for (const o of s.options) {
      const w = ctx.measureText(o.text).width;
      if (w > width) { width = w; longest = o.text; }
    }
    // Room for the padding and the drop-down arrow.
    const room = s.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 16;
    if (width > room) out.push(s.id + ": " + longest + " (" + Math.round(width) + " > " + Math.round(room) + ")");
  }
  return out.join("; ");
})()`

// TestBrowserSelectsFitTheirOptions: the filters' and forms' selects are
// wide enough to show their options whole, on a desktop and on a phone.
func TestBrowserSelectsFitTheirOptions(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	bot, _ := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "build-bot", Kind: switchboard.MachineAgent})
	b := newBrowserSession(t, ts.URL)
	b.signIn(t, "admin@example.com")
	for _, width := range []int64{1280, 390} {
		for _, path := range []string{"/agents", "/audit", "/tasks", "/agents/new", "/agents/" + bot.ID + "/edit", "/agents/" + bot.ID} {
			b.do(t, chromedp.EmulateViewport(width, 900), chromedp.Navigate(ts.URL+path), chromedp.WaitReady(chromedp.CSS("main h1")))
			cut, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](cutSelects))
			if err != nil {
				t.Fatal(err)
			}
			if cut != "" {
				t.Errorf("%s at %d px: selects cut off: %s", path, width, cut)
			}
			wide, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth`))
			if err != nil || wide {
				t.Errorf("%s at %d px scrolls sideways (%v)", path, width, err)
			}
		}
	}
}
