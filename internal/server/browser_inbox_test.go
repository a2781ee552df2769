package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// screenshot saves the page to SWITCHBOARD_TEST_SCREENSHOTS, when set.
func (s *browserSession) screenshot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("SWITCHBOARD_TEST_SCREENSHOTS")
	if dir == "" {
		return
	}
	shot, err := chromedp.Run(s.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserBell: the bell shows the unread count, follows reads made on
// another page without a reload, and the inbox marks read with its forms;
// no script error or CSP violation on the way.
func TestBrowserBell(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	ada := ts.MustCreateUser(t, "ada@example.com", switchboard.RoleSupervisor)
	token, _ := ts.MustCreateToken(t, ada)
	start := time.Now().Add(-3 * time.Hour)
	sqlstoretest.MustNotifyInApp(t, ts.db, ada.ID, "Task “Refund for order 1182” escalated", "It waited 15 minutes in Billing.", "/tasks", start)
	sqlstoretest.MustNotifyInApp(t, ts.db, ada.ID, "Billing missed its 5-minute target", "3 tasks waited longer.", "/queues", start.Add(time.Hour))
	offered := sqlstoretest.MustNotifyInApp(t, ts.db, ada.ID, "Call back offered to you", "Accept it within 60 seconds.", "/my-work", start.Add(2*time.Hour))

	b := newBrowserSession(t, ts.URL)
	b.signIn(t, "ada@example.com")
	if got := b.text(t, "[data-bell-count]"); got != "3" {
		t.Fatalf("bell shows %q, want 3", got)
	}
	b.screenshot(t, "bell")

	b.do(t, chromedp.Navigate(ts.URL+"/inbox"), chromedp.WaitVisible(chromedp.CSS(".inbox")))
	// Once the bell's stream is open, a read elsewhere (the API, as
	// another tab would) brings the count down.
	b.poll(t, `document.querySelector("[data-bell]").hasAttribute("data-live")`, "the bell's stream")
	ts.api(token).call(t, http.MethodPost, "/api/v1/inbox/"+offered+"/read", nil).wantStatus(t, http.StatusOK)
	b.poll(t, `document.querySelector("[data-bell-count]").textContent === "2"`, "the bell to count 2")
	b.poll(t, `document.querySelector("[data-bell]").getAttribute("aria-label") === "Notifications, 2 unread"`, "the bell's label")
	b.do(t, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(".inbox")))
	b.screenshot(t, "inbox")

	b.do(t, chromedp.Submit(chromedp.CSS(`form[action="/inbox/read-all"]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	b.poll(t, `document.querySelector("[data-bell-count]").hidden`, "the bell to show no count")
	b.screenshot(t, "inbox-read")

	b.do(t, chromedp.Navigate(ts.URL+"/notifications"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	b.screenshot(t, "delivery-log")
	if p := b.problems(); len(p) > 0 {
		t.Errorf("console problems: %v", p)
	}
}
