package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// agentWithADay makes a machine agent with a day behind it: presence
// changes (one a heartbeat timeout), completed tasks, one task in hand,
// metadata, and a heartbeat 12 seconds ago. The store's clock is moved
// back in time for it, then set to follow the real one again.
func agentWithADay(t *testing.T, ts *testServer, teamID string) *switchboard.Agent {
	t.Helper()
	real := time.Now().UTC()
	var mu sync.Mutex
	at := real
	ts.db.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return at }
	set := func(d time.Duration) { mu.Lock(); at = real.Add(d); mu.Unlock() }
	t.Cleanup(func() { ts.db.Now = time.Now })

	set(-21 * time.Hour)
	a := ts.MustMachineAgent(t, switchboard.NewAgent{Name: "router-7", Capacity: 2, TeamIDs: []string{teamID}}, switchboard.PresenceOffline)
	agentCtx := asAgent(a)
	presence := sqlstore.NewPresenceService(ts.db)
	tasks := sqlstore.NewTaskService(ts.db)
	q := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Callbacks", TeamIDs: []string{teamID}})
	setPresence := func(p switchboard.Presence) {
		t.Helper()
		if _, err := presence.SetPresence(agentCtx, p); err != nil {
			t.Fatal(err)
		}
	}
	work := func(title string, handle time.Duration, from time.Duration) {
		t.Helper()
		set(from)
		task := ts.MustCreateTask(t, switchboard.NewTask{QueueID: q.ID, Title: title})
		set(from + handle)
		if _, err := tasks.CompleteTask(agentCtx, task.ID, "done"); err != nil {
			t.Fatal(err)
		}
	}

	set(-20 * time.Hour)
	setPresence(switchboard.PresenceAvailable)
	work("Refund order 1042", 4*time.Minute, -19*time.Hour)
	work("Call Ada back", 11*time.Minute, -17*time.Hour)
	set(-15 * time.Hour)
	setPresence(switchboard.PresenceAway)
	set(-14 * time.Hour)
	setPresence(switchboard.PresenceAvailable)
	work("Reset a password", 2*time.Minute, -13*time.Hour)
	set(-9 * time.Hour)
	if n, err := presence.SweepPresence(context.Background(), time.Minute, 10); err != nil || n != 1 {
		t.Fatalf("swept %d (%v)", n, err)
	}
	set(-6 * time.Hour)
	setPresence(switchboard.PresenceAvailable)
	work("Escalated invoice", 25*time.Minute, -5*time.Hour)
	set(-time.Hour)
	ts.MustCreateTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Chargeback 88", Priority: 80})
	set(-12 * time.Second)
	setPresence(switchboard.PresenceAvailable) // a sign of life
	// As heartbeats leave it (SQLite's placeholders).
	if _, err := ts.db.SQL().ExecContext(context.Background(), "UPDATE agents SET metadata = ? WHERE id = ?",
		`{"version": "2.4.1", "hostname": "router-7.dc1.example.com", "os": "linux/amd64", "queues_polled": 3}`, a.ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	at = time.Time{}
	mu.Unlock()
	ts.db.Now = time.Now
	return a
}

// TestAgentPageActivity: the agent page shows the presence timeline as an
// accessible bar and a table, the tasks in hand and finished with the
// average handle time, what the agent reports, and when it was last seen.
func TestAgentPageActivity(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team := ts.MustCreateTeam(t, "Billing")
	a := agentWithADay(t, ts, team.ID)
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	res := b.get(t, "/agents/"+a.ID).wantStatus(t, 200)
	res.wantContains(t,
		`role="img" aria-labelledby="timeline-title timeline-desc"`,
		`class="seg seg-available"`, `class="seg seg-away"`, `class="seg seg-offline"`,
		"heartbeat timeout", "Periods (",
		"Chargeback 88", "Refund order 1042", "average handle time",
		"10 min 30 s", // (4 + 11 + 2 + 25) / 4 minutes
		"router-7.dc1.example.com", "<code>version</code>",
		"s ago</time>",
	)
}

// TestBrowserAgentPage looks at the agent page in a real browser: no CSP
// violation, the bar drawn at the page's width. With
// SWITCHBOARD_TEST_SCREENSHOTS set to a directory, it leaves a screenshot
// there.
func TestBrowserAgentPage(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team := ts.MustCreateTeam(t, "Billing")
	a := agentWithADay(t, ts, team.ID)
	b := newBrowserSession(t, ts.URL)
	b.signIn(t, "admin@example.com")
	b.do(t, chromedp.Navigate(ts.URL+"/agents/"+a.ID), chromedp.WaitVisible(chromedp.CSS(".timeline-bar")))
	width, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`document.querySelector(".timeline-bar").getBoundingClientRect().width`))
	if err != nil {
		t.Fatal(err)
	}
	if width < 500 {
		t.Errorf("timeline bar %.0f px wide, want the panel's width", width)
	}
	if dir := os.Getenv("SWITCHBOARD_TEST_SCREENSHOTS"); dir != "" {
		png, err := chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.CSS("main")))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "agent-page.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if p := b.problems(); len(p) > 0 {
		t.Errorf("console:\n%s", strings.Join(p, "\n"))
	}
}
