package server_test

import (
	"net/url"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// TestBrowserPhone visits every page each role reaches on a 390 px wide
// phone, with data on every list, and finds none wider than the screen.
func TestBrowserPhone(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	sup := ts.MustCreateUser(t, "supervisor.with.a.rather.long.address@example.com", switchboard.RoleSupervisor)
	team := ts.MustCreateTeam(t, "Billing and collections for the northern region", sup.ID)
	human := ts.MustHumanAgent(t, switchboard.NewAgent{Name: "Ada Lovelace", Email: "ada.lovelace.of.the.analytical.engine@example.com",
		Capacity: 2, TeamIDs: []string{team.ID}, Skills: map[string]int{"billing": 7, "spanish": 5, "german": 3}})
	var machines []*switchboard.Agent
	for i := range 4 {
		a, _ := ts.MustAgentToken(t, "router-"+strconv.Itoa(i)+"-with-a-long-unbroken-host-name.example.com", team.ID)
		machines = append(machines, a)
	}
	q := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Callbacks", TeamIDs: []string{team.ID}})
	var task *switchboard.Task
	for i := range 4 {
		task = ts.MustCreateTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Call back about invoice INV-2026-000000000" + strconv.Itoa(i)})
	}
	hook, err := sqlstore.NewWebhookService(ts.db).CreateWebhook(systemCtx(), switchboard.NewWebhook{
		URL: "https://hooks.example.com/switchboard/a-very-long-path/that-goes-on-and-on/0123456789abcdef", Events: []string{"*"}, Active: true})
	if err != nil {
		t.Fatal(err)
	}

	// Tokens, keys and notifications through the forms, as people make them.
	admin := ts.browser()
	admin.signIn(t, "admin@example.com")
	admin.post(t, "/account/tokens", url.Values{"name": {"deploy script for the production cluster"}, "lifetime": {"30"}})
	admin.post(t, "/agents/"+machines[0].ID+"/tokens", url.Values{"name": {"production"}, "lifetime": {"0"}})
	admin.post(t, "/enrollment", url.Values{"name": {"datacentre-east-rack-42"}, "team_id": {team.ID}, "lifetime": {"30"}})
	admin.post(t, "/webhooks/"+hook.ID+"/test", url.Values{})
	admin.post(t, "/agents/"+machines[1].ID+"/suspend", confirmed(nil))

	b := newBrowserSession(t, ts.URL)
	b.do(t, chromedp.EmulateViewport(390, 844))
	check := func(t *testing.T, pages ...string) {
		t.Helper()
		for _, p := range pages {
			b.do(t, chromedp.Navigate(ts.URL+p), chromedp.WaitReady(chromedp.CSS("main h1")))
			if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(".error-page").length`)); err != nil || n != 0 {
				t.Errorf("%s: an error page (%v)", p, err)
			}
			w, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
			if err != nil {
				t.Fatal(err)
			}
			if w[0] > w[1] {
				t.Errorf("%s is %d px wide on a %d px screen", p, w[0], w[1])
			}
			// A list that scrolls sideways hides its columns: lists are
			// cards on a phone.
			hidden, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`Array.from(document.querySelectorAll(".table-wrap")).filter(e => e.scrollWidth > e.clientWidth + 1).length`))
			if err != nil || hidden != 0 {
				t.Errorf("%s: %d lists scroll sideways on a %d px screen (%v)", p, hidden, w[1], err)
			}
		}
	}

	t.Run("Admin", func(t *testing.T) {
		b.signIn(t, "admin@example.com")
		check(t, "/", "/agents", "/agents/"+human.ID, "/agents/"+machines[0].ID, "/agents/new", "/agents/import",
			"/teams", "/teams/"+team.ID, "/teams/new", "/queues", "/queues/"+q.ID, "/queues/new", "/tasks", "/tasks/"+task.ID, "/tasks/new",
			"/enrollment", "/audit", "/users", "/users/"+sup.ID, "/users/new", "/webhooks", "/webhooks/"+hook.ID, "/webhooks/new",
			"/notifications", "/inbox", "/account", "/account/notifications")
		b.do(t, chromedp.Submit(chromedp.CSS(`form[action="/signout"]`)), chromedp.WaitVisible(chromedp.ID("f-email")))
	})
	t.Run("Supervisor", func(t *testing.T) {
		b.signIn(t, sup.Email)
		check(t, "/", "/agents", "/agents/"+human.ID, "/agents/new", "/teams", "/teams/"+team.ID, "/queues", "/queues/"+q.ID,
			"/tasks", "/tasks/"+task.ID, "/tasks/new", "/enrollment", "/audit", "/notifications", "/inbox", "/account")
		b.do(t, chromedp.Submit(chromedp.CSS(`form[action="/signout"]`)), chromedp.WaitVisible(chromedp.ID("f-email")))
	})
	t.Run("Agent", func(t *testing.T) {
		b.signIn(t, human.Email)
		check(t, "/my-work", "/profile", "/notifications", "/inbox", "/account", "/account/notifications")
	})
}
