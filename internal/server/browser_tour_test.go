package server_test

import (
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// tour is a Switchboard with something on every page, and the pages each
// kind of user reaches in it, for tests that look at every page in turn.
type tour struct {
	ts *testServer
	// pages lists, per e-mail address to sign in with ("" for anonymous
	// visitors), the paths that person opens.
	pages map[string][]string
	// order is the order of the e-mail addresses in pages.
	order []string
}

func newTour(t *testing.T) *tour {
	t.Helper()
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	// Long names, addresses and paths, as real ones can be: they must wrap
	// on a phone rather than widen the page.
	sup := ts.MustCreateUser(t, "supervisor.with.a.rather.long.address@example.com", switchboard.RoleSupervisor)
	ts.MustCreateToken(t, sup)
	team := ts.MustCreateTeam(t, "Billing and collections for the northern region", sup.ID)
	ts.MustCreateTeam(t, "Night shift") // no supervisor
	human := ts.MustHumanAgent(t, switchboard.NewAgent{Name: "Ada Lovelace", Email: "ada.lovelace.of.the.analytical.engine@example.com",
		Phone: "+15555550101", Capacity: 2, TeamIDs: []string{team.ID},
		Skills: map[string]int{"billing": 7, "spanish": 5, "german": 3, "refunds": 2}})
	var machines []*switchboard.Agent
	for i := range 4 {
		a, _ := ts.MustAgentToken(t, "router-"+strconv.Itoa(i)+"-with-a-long-unbroken-host-name.example.com", team.ID)
		machines = append(machines, a)
	}
	for _, name := range []string{"Grace Hopper", "Edsger Dijkstra"} {
		ts.MustCreateAgent(t, switchboard.NewAgent{Name: name, Kind: switchboard.HumanAgent,
			Email: strings.ToLower(strings.Fields(name)[0]) + "@example.com", TeamIDs: []string{team.ID}})
	}
	q := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Callbacks", TeamIDs: []string{team.ID}, SLATarget: 5 * time.Minute})
	if _, err := sqlstore.NewPresenceService(ts.db).SetPresence(asAgent(human), switchboard.PresenceAvailable); err != nil {
		t.Fatal(err)
	}
	assigned := ts.MustCreateTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Call back about invoice INV-2026-0000000000", Priority: 50})
	for i := 1; i < 4; i++ {
		ts.MustCreateTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Call back about invoice INV-2026-000000000" + strconv.Itoa(i)})
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

	common := []string{"/inbox", "/notifications", "/account", "/account/notifications"}
	manage := []string{"/", "/agents", "/agents/new", "/agents/" + human.ID, "/agents/" + human.ID + "/edit", "/agents/" + machines[0].ID,
		"/teams", "/teams/" + team.ID, "/queues", "/queues/new", "/queues/" + q.ID, "/tasks", "/tasks/new",
		"/tasks/" + assigned.ID, "/enrollment", "/audit"}
	return &tour{
		ts:    ts,
		order: []string{"admin@example.com", sup.Email, human.Email, ""},
		pages: map[string][]string{
			"admin@example.com": append(append(manage, "/agents/import", "/teams/new", "/users", "/users/new", "/users/"+sup.ID,
				"/webhooks", "/webhooks/new", "/webhooks/"+hook.ID), common...),
			sup.Email:   append(manage, common...),
			human.Email: append([]string{"/my-work", "/profile", "/tasks/" + assigned.ID}, common...),
			"":          {"/signin", "/forgot"},
		},
	}
}

// visit opens a browser for each person of the tour in turn (prepared by
// prepare, if given), signs in, and calls look on every page of theirs once
// it has loaded.
func (tr *tour) visit(t *testing.T, prepare func(*browserSession), look func(t *testing.T, b *browserSession, who, path string)) {
	t.Helper()
	for _, who := range tr.order {
		b := newBrowserSessionWithin(t, tr.ts.URL, 5*time.Minute)
		if prepare != nil {
			prepare(b)
		}
		if who != "" {
			b.signIn(t, who)
		}
		for _, path := range tr.pages[who] {
			b.do(t, chromedp.Navigate(tr.ts.URL+path), chromedp.WaitReady(chromedp.CSS("body")))
			look(t, b, who, path)
		}
	}
}

// shotName names the screenshot of a page of the tour: the view, who, and
// the path, made safe for a file name.
func shotName(view, who, path string) string {
	if who == "" {
		who = "anonymous"
	}
	who, _, _ = strings.Cut(who, "@")
	return view + "-" + who + strings.Map(func(r rune) rune {
		if r == '/' || r == '?' || r == '=' || r == '&' {
			return '_'
		}
		return r
	}, path)
}

// axeSource returns axe-core's script, which .ci/run installs from the npm
// registry, or skips the test (fails it in CI) when it is not there.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv("SWITCHBOARD_TEST_AXE")
	if path == "" {
		if sqlstoretest.InCI() {
			t.Fatal("CI=true: SWITCHBOARD_TEST_AXE is not set; .ci/run sets it after installing axe-core")
		}
		t.Skip("set SWITCHBOARD_TEST_AXE to axe-core's axe.min.js (npm ci --prefix .ci/axe installs it) to check accessibility")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("SWITCHBOARD_TEST_AXE: %v", err)
	}
	return string(src)
}

// withAxe has every page b opens load axe-core first. It goes in through
// the debugging protocol, which the pages' content security policy does not
// restrict.
func withAxe(t *testing.T, axe string) func(*browserSession) {
	return func(b *browserSession) {
		if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: axe}); err != nil {
			t.Fatalf("adding axe-core to the pages: %v", err)
		}
	}
}

// axeViolations runs axe-core on the page loaded in b and returns its
// serious and critical findings, each with up to three elements it found
// them on.
func (s *browserSession) axeViolations(t *testing.T) []string {
	t.Helper()
	const run = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
		.filter(v => v.impact === "serious" || v.impact === "critical")
		.map(v => v.impact + " " + v.id + ": " + v.help + " (" + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join("; ") + ")"))`
	found, err := chromedp.Run(s.ctx, chromedp.Evaluate[[]string](run, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("running axe-core: %v", err)
	}
	return found
}

// wider reports whether the page in b is wider than its window, naming the
// outermost elements that reach past the window's right edge.
func (s *browserSession) wider(t *testing.T) string {
	t.Helper()
	const find = `(() => {
		const w = window.innerWidth;
		if (document.documentElement.scrollWidth <= w) return "";
		const out = [];
		for (const e of document.querySelectorAll("body *")) {
			if (e.getBoundingClientRect().right <= w + 1) continue;
			if (out.some(o => o.contains(e))) continue;
			// A list scrolls within its frame; only what escapes it counts.
			const frame = e.closest(".table-wrap");
			if (frame && frame !== e && getComputedStyle(e).position === "static") continue;
			out.push(e);
			if (out.length === 3) break;
		}
		const name = e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.trim().split(/\s+/).join(".") : "");
		return document.documentElement.scrollWidth + " px wide on a " + w + " px screen: " + out.map(name).join(", ");
	})()`
	got, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](find))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestBrowserAccessibility: axe-core finds no serious or critical problem
// on any page, as admin, supervisor, agent or anonymous visitor; and on a
// laptop's screen no page is wider than the window.
func TestBrowserAccessibility(t *testing.T) {
	axe := axeSource(t)
	tr := newTour(t)
	tr.visit(t, withAxe(t, axe), func(t *testing.T, b *browserSession, who, path string) {
		for _, v := range b.axeViolations(t) {
			t.Errorf("%s as %q: %s", path, who, v)
		}
		if w := b.wider(t); w != "" {
			t.Errorf("%s as %q: %s", path, who, w)
		}
		b.screenshot(t, shotName("desktop", who, path))
	})
}
