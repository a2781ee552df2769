package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// TestBrowserBulkSuspend: an admin ticks every agent of the list's page with
// the header box, leaves one out, suspends the rest through the
// confirmation page, and sees the result beside the list.
func TestBrowserBulkSuspend(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	var ids []string
	for i := range 5 {
		a, _ := ts.MustCreateAgent(t, switchboard.NewAgent{Name: fmt.Sprintf("bot-%d", i), Kind: switchboard.MachineAgent})
		ids = append(ids, a.ID)
	}
	b := newBrowserSession(t, ts.URL)
	b.signIn(t, "admin@example.com")

	b.do(t,
		chromedp.Navigate(ts.URL+"/agents"),
		chromedp.WaitVisible(chromedp.ID("select-page")),
		chromedp.Click(chromedp.ID("select-page")),
	)
	b.poll(t, `document.querySelectorAll('input[name="ids"]:checked').length === 5`, "every box ticked by the header box")
	b.do(t,
		chromedp.Click(chromedp.CSS(`input[name="ids"][value="`+ids[4]+`"]`)),
		chromedp.SetValue(chromedp.ID("bulk-action"), "suspend"),
		chromedp.Click(chromedp.ID("bulk-apply")),
		chromedp.WaitVisible(chromedp.ID("bulk-confirm")),
	)
	if got := b.text(t, "main h1"); got != "Suspend 4 agents?" {
		t.Errorf("confirmation asks %q", got)
	}
	if got := b.text(t, "#bulk-agents"); !strings.Contains(got, "bot-0") || strings.Contains(got, "bot-4") {
		t.Errorf("confirmation lists %q", got)
	}
	b.do(t,
		chromedp.Click(chromedp.ID("bulk-confirm")),
		chromedp.WaitVisible(chromedp.CSS(".flash-success")),
	)
	if got := b.text(t, ".flash-success"); got != "Suspended 4 agents." {
		t.Errorf("after suspending: %q", got)
	}
	if loc := b.location(t); loc != "/agents" {
		t.Errorf("after suspending: at %s, want /agents", loc)
	}
	agents := sqlstore.NewAgentService(ts.db)
	for i, id := range ids {
		a, err := agents.FindAgentByID(systemCtx(), id)
		if err != nil {
			t.Fatal(err)
		}
		if want := switchboard.AgentSuspended; i == 4 && a.Status == want || i < 4 && a.Status != want {
			t.Errorf("bot-%d is %s", i, a.Status)
		}
	}

	time.Sleep(200 * time.Millisecond) // let the last console messages arrive
	for _, p := range b.problems() {
		t.Errorf("browser console: %s", p)
	}
}
