package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// seedDashboard gives the dashboard a day of work: a team of five machine
// agents, two queues, and tasks created, assigned and completed in most
// hours of the last day, with the agents present sampled as they go. It
// moves the database's clock back and returns it to real time.
func seedDashboard(t *testing.T, ts *testServer) (support *switchboard.Queue) {
	t.Helper()
	team := ts.MustCreateTeam(t, "Billing")
	support = ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Support", TeamIDs: []string{team.ID}, SLATarget: 10 * time.Minute})
	ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Refunds", TeamIDs: []string{team.ID}, SLATarget: time.Hour})
	var agents []*switchboard.Agent
	for _, name := range []string{"Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov"} {
		agents = append(agents, ts.MustMachineAgent(t, switchboard.NewAgent{Name: name, Capacity: 2, TeamIDs: []string{team.ID}},
			switchboard.PresenceAvailable))
	}
	real := ts.db.Now
	t.Cleanup(func() { ts.db.Now = real })
	stats := sqlstore.NewStatsService(ts.db)
	tasks := sqlstore.NewTaskService(ts.db)
	start := time.Now().UTC().Truncate(time.Hour).Add(-20 * time.Hour)
	for h := 0; h < 20; h++ {
		at := start.Add(time.Duration(h) * time.Hour)
		ts.db.Now = func() time.Time { return at }
		for i := range 3 + (h*7)%9 {
			task := ts.MustCreateTask(t, switchboard.NewTask{QueueID: support.ID, Title: fmt.Sprintf("Call back %d-%d", h, i)})
			at = at.Add(3 * time.Minute)
			if task.Status == switchboard.TaskAssigned && i%4 != 3 {
				if _, err := tasks.CompleteTask(systemCtx(), task.ID, "done"); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := stats.RollUpStats(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ts.db.Now = real
	// Now: one agent away, the rest at work on what is left.
	if _, err := sqlstore.NewPresenceService(ts.db).SetPresence(asAgent(agents[4]), switchboard.PresenceAway); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ts.MustCreateTask(t, switchboard.NewTask{QueueID: support.ID, Title: fmt.Sprintf("Refund order %d", i)})
	}
	if _, err := tasks.ExpireTasks(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	if _, err := stats.RollUpStats(context.Background()); err != nil {
		t.Fatal(err)
	}
	return support
}

// TestBrowserDashboard: an admin watches the dashboard while a script
// creates a task through the API; the queue's figures change in place,
// without a reload. With SWITCHBOARD_TEST_SCREENSHOTS set to a directory,
// the dashboard is photographed there.
func TestBrowserDashboard(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	support := seedDashboard(t, ts)
	token, _ := ts.MustCreateToken(t, admin)
	b := newBrowserSession(t, ts.URL)

	b.signIn(t, "admin@example.com")
	b.do(t, chromedp.WaitVisible(chromedp.CSS(".dashboard")))
	b.poll(t, `document.querySelector("[data-live-state]").textContent === "Live"`, "the live stream")
	row := fmt.Sprintf(`[data-queue="%s"]`, support.ID)
	before := b.text(t, row+` [data-figure="created"]`)
	queued := b.text(t, row+` [data-figure="queued"]`)
	for _, sel := range []string{`svg[role="img"][aria-labelledby="chart-tasks-title chart-tasks-desc"]`, `#chart-present-desc`, "#queues-h", "#util-h", "#recent-h"} {
		if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`)); err != nil || n != 1 {
			t.Errorf("%s: %d found (%v)", sel, n, err)
		}
	}
	if desc, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("#chart-tasks-desc").textContent`)); err != nil ||
		!strings.HasPrefix(desc, "In the last 24 hours, ") {
		t.Errorf("the tasks chart is described as %q (%v)", desc, err)
	}
	if dir := os.Getenv("SWITCHBOARD_TEST_SCREENSHOTS"); dir != "" {
		shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "dashboard.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.samePage = true`)); err != nil {
		t.Fatal(err)
	}
	ts.api(token).call(t, http.MethodPost, "/api/v1/tasks", map[string]any{"queue": support.ID, "title": "Chargeback from the bank"}).
		wantStatus(t, http.StatusCreated)
	var want int
	fmt.Sscan(before, &want)
	b.poll(t, fmt.Sprintf(`document.querySelector('%s [data-figure="created"]').textContent === "%d"`, row, want+1),
		"the queue's created count to grow")
	if got := b.text(t, row+` [data-figure="queued"]`); got == queued {
		// Every agent is at capacity: the new task waits.
		t.Errorf("the queue still shows %s queued", got)
	}
	if same, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.samePage === true`)); err != nil || !same {
		t.Errorf("the page reloaded to show the task (%v)", err)
	}
	if got := b.text(t, "[data-live-status]"); !strings.HasPrefix(got, "Updated: ") {
		t.Errorf("screen readers are told %q", got)
	}

	time.Sleep(200 * time.Millisecond) // let the last console messages arrive
	for _, p := range b.problems() {
		t.Errorf("browser console: %s", p)
	}
}

// TestNavigation_AgentsAndAnonymous: people who take work are not offered
// the dashboard they cannot see, and a visitor who is not signed in is
// offered to sign in.
func TestNavigation_AgentsAndAnonymous(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	ts.MustHumanAgent(t, switchboard.NewAgent{Name: "Ada", Email: "ada@example.com"})
	a := ts.browser()
	a.signIn(t, "ada@example.com")
	a.get(t, "/my-work").wantStatus(t, http.StatusOK).
		wantContains(t, `<a class="brand" href="/my-work">`, `href="/my-work"`).
		wantNotContains(t, `href="/"`, ">Dashboard</a>")
	a.get(t, "/no-such-page").wantStatus(t, http.StatusNotFound).
		wantContains(t, `<a class="button" href="/my-work">Go to my work</a>`).wantNotContains(t, "Go to the dashboard")

	admin := ts.browser()
	admin.signIn(t, "admin@example.com")
	admin.get(t, "/no-such-page").wantStatus(t, http.StatusNotFound).wantContains(t, "Go to the dashboard", `<a class="brand" href="/">`)

	anon := ts.browser()
	anon.get(t, "/no-such-page").wantStatus(t, http.StatusNotFound).
		wantContains(t, `<a class="button" href="/signin">Sign in</a>`).wantNotContains(t, "Go to the dashboard")
}
