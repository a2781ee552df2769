package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// TestBrowserWithoutJavaScript: with scripts off, a destructive button
// asks on a page of its own before it acts, and a page that shows a new
// secret does not make another when reloaded.
func TestBrowserWithoutJavaScript(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team := ts.MustCreateTeam(t, "Billing")
	bot := ts.MustMachineAgent(t, switchboard.NewAgent{Name: "router-7", Capacity: 1, TeamIDs: []string{team.ID}}, switchboard.PresenceOffline)
	b := newBrowserSession(t, ts.URL)
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("disable scripts: %v", err)
	}
	b.signIn(t, "admin@example.com")
	agents := sqlstore.NewAgentService(ts.db)

	t.Run("SuspendAsksFirst", func(t *testing.T) {
		b.do(t,
			chromedp.Navigate(ts.URL+"/agents/"+bot.ID),
			chromedp.Click(chromedp.CSS(`form[action$="/suspend"] button`)),
			chromedp.WaitVisible(chromedp.CSS(".confirm-panel")),
		)
		if got := b.text(t, ".confirm-panel"); !strings.Contains(got, "stop receiving work") {
			t.Errorf("confirmation page says %q", got)
		}
		if a, err := agents.FindAgentByID(systemCtx(), bot.ID); err != nil || a.Status != switchboard.AgentActive {
			t.Fatalf("after the first click: status %v, %v; want active", a.Status, err)
		}
		b.do(t,
			chromedp.Click(chromedp.CSS(`.confirm-panel button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(".flash-success")),
		)
		if a, err := agents.FindAgentByID(systemCtx(), bot.ID); err != nil || a.Status != switchboard.AgentSuspended {
			t.Fatalf("after confirming: status %v, %v; want suspended", a.Status, err)
		}
	})

	t.Run("ReloadMakesNoSecondToken", func(t *testing.T) {
		b.do(t,
			chromedp.Navigate(ts.URL+"/account"),
			chromedp.SendKeys(chromedp.ID("f-name"), "deploy script"),
			chromedp.Submit(chromedp.CSS(`form[action="/account/tokens"]`)),
			chromedp.WaitVisible(chromedp.ID("new-token")),
		)
		b.do(t, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("tokens-h")))
		if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#new-token").length`)); err == nil && n != 0 {
			t.Errorf("the secret shows again after a reload")
		}
		tokens, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#tokens table")))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(tokens, "deploy script"); n != 1 {
			t.Errorf("after a reload the account lists %d tokens named deploy script, want 1", n)
		}
	})
}
