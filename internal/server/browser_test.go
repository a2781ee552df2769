package server_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// chromium returns the path of a Chromium to drive, or skips the test
// (fails it in CI, where .ci/run installs one).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SWITCHBOARD_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if sqlstoretest.InCI() {
		t.Fatal("CI=true: no Chromium found; install Debian's chromium package or set SWITCHBOARD_TEST_CHROMIUM")
	}
	t.Skip("no Chromium found: install it (Debian package chromium) or set SWITCHBOARD_TEST_CHROMIUM to run browser tests")
	return ""
}

// browserSession drives a headless Chromium and collects everything the
// pages write to the console, where CSP violations and script errors show.
type browserSession struct {
	ctx     context.Context
	base    string
	mu      sync.Mutex
	console []string
}

func newBrowserSession(t *testing.T, base string) *browserSession {
	t.Helper()
	return newBrowserSessionWithin(t, base, 90*time.Second)
}

// newBrowserSessionWithin is newBrowserSession for a session that may last
// up to limit, as a walk through many pages does on a busy machine.
func newBrowserSessionWithin(t *testing.T, base string, limit time.Duration) *browserSession {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, limit)
	t.Cleanup(cancel)
	s := &browserSession{ctx: ctx, base: base}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				s.mu.Lock()
				s.console = append(s.console, m.URL+": "+m.Text)
				s.mu.Unlock()
			}
		}
	}()
	// Accept every confirmation, as a user who means it does.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return s
}

func (s *browserSession) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(s.ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

func (s *browserSession) text(t *testing.T, sel string) string {
	t.Helper()
	// One evaluation finds the element and reads it: a live page may
	// replace the element between a query and a second call for its text.
	type found struct {
		Text string `json:"text"`
	}
	expr := `(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); return e && {text: e.innerText}; })()`
	got, err := chromedp.Run(s.ctx, chromedp.Poll[found](expr, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return got.Text
}

func (s *browserSession) location(t *testing.T) string {
	t.Helper()
	loc, err := chromedp.Run(s.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(loc, s.base)
}

func (s *browserSession) problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.console...)
}

// TestBrowser clicks through the UI in a real browser: set-up, agents,
// tokens with their confirmation, and every page, with no CSP violation or
// script error on the way, then the phone menu.
func TestBrowser(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	team, err := sqlstore.NewTeamService(ts.db).CreateTeam(systemCtx(), switchboard.NewTeam{Name: "Billing"})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowserSession(t, ts.URL)

	b.do(t, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.ID("f-name")))
	if loc := b.location(t); loc != "/setup" {
		t.Fatalf("first visit lands on %s, want /setup", loc)
	}
	b.do(t,
		chromedp.SendKeys(chromedp.ID("f-name"), "Ada Lovelace"),
		chromedp.SendKeys(chromedp.ID("f-email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("f-password"), testPassword),
		chromedp.SendKeys(chromedp.ID("f-password_confirm"), testPassword),
		chromedp.Submit(chromedp.CSS("main form")),
		chromedp.WaitVisible(chromedp.CSS(".flash-success")),
	)
	if got := b.text(t, ".flash-success"); !strings.Contains(got, "Welcome, Ada Lovelace") {
		t.Errorf("after set-up: %q", got)
	}

	// A machine agent through the form, in a team.
	b.do(t,
		chromedp.Navigate(ts.URL+"/agents/new"),
		chromedp.Click(chromedp.CSS(`input[name="kind"][value="machine"]`)),
		chromedp.SendKeys(chromedp.ID("f-name"), "router-7"),
		chromedp.SetValue(chromedp.ID("f-skills"), "linux:8, billing:3"),
		chromedp.Click(chromedp.CSS(`input[name="teams"][value="`+team.ID+`"]`)),
		chromedp.Submit(chromedp.CSS("main form")),
		chromedp.WaitVisible(chromedp.CSS(".skill-list")),
	)
	agentURL := b.location(t)
	if !regexp.MustCompile(`^/agents/[0-9a-f-]{36}$`).MatchString(agentURL) {
		t.Fatalf("after creating an agent: %s", agentURL)
	}

	// Issue a token, copy it, then revoke it through the confirmation.
	b.do(t,
		chromedp.SendKeys(chromedp.ID("f-name"), "production"),
		chromedp.Submit(chromedp.CSS(`form[action$="/tokens"]`)),
		chromedp.WaitVisible(chromedp.ID("new-token")),
		chromedp.Click(chromedp.CSS(`button[data-copy="#new-token"]`)),
	)
	// The clipboard answers asynchronously: wait for the button to say so.
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.querySelector('button[data-copy="#new-token"]').textContent === "Copied"`,
		chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Errorf("copy button says %q: %v", b.text(t, `button[data-copy="#new-token"]`), err)
	}
	b.do(t,
		chromedp.Navigate(ts.URL+agentURL),
		chromedp.Click(chromedp.CSS(`form[action*="/revoke"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".flash-success")),
	)
	if got := b.text(t, ".flash-success"); !strings.Contains(got, "revoked") {
		t.Errorf("after revoking: %q", got)
	}

	// Every page renders, with its title, in the browser.
	for _, p := range []struct{ path, title string }{
		{"/", "Dashboard"}, {"/agents", "Agents"}, {agentURL + "/edit", "Edit router-7"}, {"/agents/import", "Import agents"},
		{"/teams", "Teams"}, {"/teams/" + team.ID, "Billing"}, {"/enrollment", "Enrollment keys"}, {"/audit", "Audit log"},
		{"/users", "Users"}, {"/users/new", "New user"}, {"/account", "My account"},
		{"/queues", "Queues"}, {"/queues/new", "New queue"}, {"/tasks", "Tasks"}, {"/tasks/new", "New task"}, {"/my-work", "My work"},
	} {
		b.do(t, chromedp.Navigate(ts.URL+p.path), chromedp.WaitReady(chromedp.CSS("main h1")))
		got, err := chromedp.Run(b.ctx, chromedp.Title())
		if err != nil || got != p.title+" · Switchboard" {
			t.Errorf("%s has title %q, want %q", p.path, got, p.title+" · Switchboard")
		}
	}

	// On a phone the menu opens from its button, without a script.
	b.do(t, chromedp.EmulateViewport(390, 800), chromedp.Navigate(ts.URL+"/agents"), chromedp.WaitReady(chromedp.CSS("main h1")))
	hidden, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("sidenav")).display`))
	if err != nil || hidden != "none" {
		t.Errorf("phone menu before opening: display %q, %v", hidden, err)
	}
	b.do(t, chromedp.Click(chromedp.CSS("label.nav-toggle-label")))
	shown, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("sidenav")).display`))
	if err != nil || shown == "none" {
		t.Errorf("phone menu after opening: display %q, %v", shown, err)
	}

	time.Sleep(200 * time.Millisecond) // let the last console messages arrive
	for _, p := range b.problems() {
		t.Errorf("browser console: %s", p)
	}
}

// signIn signs in through the sign-in page and waits for the page after
// it, the first with the top bar of the signed-in.
func (s *browserSession) signIn(t *testing.T, email string) {
	t.Helper()
	s.do(t,
		chromedp.Navigate(s.base+"/signin"),
		chromedp.WaitVisible(chromedp.ID("f-email")),
		chromedp.SendKeys(chromedp.ID("f-email"), email),
		chromedp.SendKeys(chromedp.ID("f-password"), testPassword),
		chromedp.Submit(chromedp.CSS("main form")),
		chromedp.WaitVisible(chromedp.CSS("header.topbar")),
	)
}

// countStreams has every page b opens count the event streams it opens,
// in window.streamsOpened.
func (s *browserSession) countStreams(t *testing.T) {
	t.Helper()
	const count = `window.streamsOpened = 0;
		const Native = window.EventSource;
		window.EventSource = function (url, opts) { window.streamsOpened++; return new Native(url, opts); };
		window.EventSource.prototype = Native.prototype;
		window.EventSource.CONNECTING = 0; window.EventSource.OPEN = 1; window.EventSource.CLOSED = 2;`
	if _, err := chromedp.Call(s.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: count}); err != nil {
		t.Fatal(err)
	}
}

// click clicks the element sel finds, once it is there, in the same
// evaluation that finds it: a live page may replace an element between a
// query for its node and a click on that node. A click that sends a form
// is made once: a page that went away under it was left by it.
func (s *browserSession) click(t *testing.T, sel string) {
	t.Helper()
	q := strconv.Quote(sel)
	for range 50 {
		s.poll(t, `!!document.querySelector(`+q+`)`, sel)
		clicked, err := chromedp.Run(s.ctx, chromedp.Evaluate[bool](
			`(() => { const e = document.querySelector(`+q+`); if (!e) return false; e.click(); return true; })()`))
		if err != nil && !leftThePage(err) {
			t.Fatalf("click %s: %v", sel, err)
		}
		if err != nil || clicked {
			return
		}
	}
	t.Fatalf("%s went away each time before it could be clicked", sel)
}

// poll waits until a JavaScript expression is true in the page, across a
// navigation: a form sent by a click leaves the page the expression was
// first evaluated in, and the wait goes on in the next one.
func (s *browserSession) poll(t *testing.T, expr, what string) {
	t.Helper()
	// A bound on waiting, not a measure of speed: on a machine busy with
	// the other packages' tests, a live update can take several seconds.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := chromedp.Run(s.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		if !leftThePage(err) || time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leftThePage reports whether an evaluation failed because its page went
// away under it, as it does when a form is sent.
func leftThePage(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Inspected target navigated or closed") ||
		strings.Contains(msg, "Cannot find context with specified id") ||
		strings.Contains(msg, "Execution context was destroyed")
}

// TestBrowserMyWork: an admin makes a queue and a task in the pages; an
// agent goes available, accepts the offer, sees the next one arrive without
// a reload (the event stream), and completes a task.
func TestBrowserMyWork(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team := ts.MustCreateTeam(t, "Billing")
	ts.MustHumanAgent(t, switchboard.NewAgent{Name: "Hu Man", Email: "hu@example.com", Capacity: 2, TeamIDs: []string{team.ID}})
	b := newBrowserSession(t, ts.URL)

	b.signIn(t, "admin@example.com")
	b.do(t,
		chromedp.Navigate(ts.URL+"/queues/new"),
		chromedp.SendKeys(chromedp.ID("f-name"), "Callbacks"),
		chromedp.Click(chromedp.CSS(`input[name="team_ids"][value="`+team.ID+`"]`)),
		chromedp.SetValue(chromedp.ID("f-offer_timeout_seconds"), "60"),
		chromedp.Submit(chromedp.CSS("main form")),
		chromedp.WaitVisible(chromedp.CSS(".flash-success")),
	)
	queueID := strings.TrimPrefix(b.location(t), "/queues/")
	b.do(t,
		chromedp.Navigate(ts.URL+"/tasks/new?queue="+queueID),
		chromedp.SendKeys(chromedp.ID("f-title"), "Call Ada back"),
		chromedp.SetValue(chromedp.ID("f-priority"), "20"),
		chromedp.Submit(chromedp.CSS("main form")),
		chromedp.WaitVisible(chromedp.CSS(".flash-success")),
	)
	if got := b.text(t, ".flash-success"); !strings.Contains(got, "waits in Callbacks") {
		t.Errorf("after creating a task with nobody available: %q", got)
	}
	b.do(t, chromedp.Submit(chromedp.CSS(`form[action="/signout"]`)), chromedp.WaitVisible(chromedp.ID("f-email")))

	// The agent lands on My work, goes available, and is offered the task.
	b.countStreams(t)
	b.signIn(t, "hu@example.com")
	if loc := b.location(t); loc != "/my-work" {
		t.Fatalf("an agent lands on %s, want /my-work", loc)
	}
	// The page swaps its live part when its stream opens and whenever the
	// agent's work changes: clicks and waits go through single
	// evaluations, never a node looked up first and used after.
	b.click(t, "#presence-available")
	b.poll(t, `!!document.querySelector("[data-offer] [role=timer]")`, "the offer")
	first := b.text(t, `[data-offer] [role="timer"]`)
	time.Sleep(1100 * time.Millisecond)
	if later := b.text(t, `[data-offer] [role="timer"]`); !strings.HasSuffix(later, " s left") || later == first {
		t.Errorf("the countdown went from %q to %q", first, later)
	}
	b.click(t, "button[data-accept]")
	b.poll(t, `!!document.querySelector("#tasks [data-task]") && !!document.querySelector(".flash-success")`, "the accepted task")
	if got := b.text(t, ".flash-success"); !strings.Contains(got, "“Call Ada back” is yours now") {
		t.Errorf("after accepting: %q", got)
	}

	// A new task reaches the open page through the event stream.
	b.poll(t, `document.querySelector("[data-live-state]").textContent === "Live"`, "the live stream")
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.samePage = true`)); err != nil {
		t.Fatal(err)
	}
	ts.MustCreateTask(t, switchboard.NewTask{QueueID: queueID, Title: "Refund Grace"})
	b.poll(t, `!!document.querySelector("[data-offer]") && document.querySelector("[data-offer]").textContent.includes("Refund Grace")`,
		"the new offer to appear")
	if same, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.samePage === true`)); err != nil || !same {
		t.Errorf("the page reloaded to show the offer (%v)", err)
	}
	if got := b.text(t, "[data-live-status]"); got != "Updated: 1 offer waiting, 1 task assigned to you." {
		t.Errorf("screen readers are told %q", got)
	}
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`window.streamsOpened`)); err != nil || n != 1 {
		t.Errorf("the page opened %d event streams (%v), want one for the bell and the page together", n, err)
	}

	// Complete the first task with an outcome.
	b.do(t,
		chromedp.SendKeys(chromedp.CSS(`#tasks input[name="outcome"]`), "Called back"),
		chromedp.Submit(chromedp.CSS(`#tasks form`)),
		chromedp.WaitVisible(chromedp.CSS(".recent-list")),
	)
	if got := b.text(t, ".flash-success"); !strings.Contains(got, "is complete") {
		t.Errorf("after completing: %q", got)
	}
	b.do(t, chromedp.Navigate(ts.URL+"/my-work"), chromedp.WaitReady(chromedp.CSS("main h1")))
	if got, err := chromedp.Run(b.ctx, chromedp.Title()); err != nil || got != "My work · Switchboard" {
		t.Errorf("My work has title %q", got)
	}

	time.Sleep(200 * time.Millisecond) // let the last console messages arrive
	for _, p := range b.problems() {
		t.Errorf("browser console: %s", p)
	}
}

// TestBrowserTaskControl: an admin opens a task of a queue routed by hand,
// reads why each agent may or may not take it, is refused an ineligible
// agent with the reason beside the field, assigns an eligible one, and
// cancels the task through its confirmation.
func TestBrowserTaskControl(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team := ts.MustCreateTeam(t, "Billing")
	queue := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Escalations", TeamIDs: []string{team.ID},
		RequiredSkills: map[string]int{"billing": 3}, Strategy: switchboard.Manual})
	grace := ts.MustMachineAgent(t, switchboard.NewAgent{Name: "Grace Hopper", TeamIDs: []string{team.ID},
		Skills: map[string]int{"billing": 7}}, switchboard.PresenceAvailable)
	alan := ts.MustMachineAgent(t, switchboard.NewAgent{Name: "Alan Turing", TeamIDs: []string{team.ID},
		Skills: map[string]int{"billing": 2}}, switchboard.PresenceAvailable)
	task := ts.MustCreateTask(t, switchboard.NewTask{QueueID: queue.ID, Title: "Angry customer callback"})
	b := newBrowserSession(t, ts.URL)

	b.signIn(t, "admin@example.com")
	b.do(t, chromedp.Navigate(ts.URL+"/tasks/"+task.ID), chromedp.WaitVisible(chromedp.ID("routing-h")))
	if got := b.text(t, ".table-routing tbody tr:first-child"); !strings.Contains(got, "Grace Hopper") || !strings.Contains(got, "eligible · #1") {
		t.Errorf("first routing row: %q", got)
	}
	if got := b.text(t, ".table-routing tbody tr:last-child"); !strings.Contains(got, "Missing skill billing at level 3 (has 2).") {
		t.Errorf("last routing row: %q", got)
	}

	b.do(t,
		chromedp.SetValue(chromedp.ID("f-agent"), alan.ID),
		chromedp.Click(chromedp.ID("assign-button")),
		chromedp.WaitVisible(chromedp.ID("f-agent-error")),
	)
	if got := b.text(t, "#f-agent-error"); !strings.Contains(got, "Alan Turing may not take the task: Missing skill billing at level 3") {
		t.Errorf("refusal beside the field: %q", got)
	}
	b.poll(t, `document.activeElement === document.querySelector(".error-summary")`, "focus on the error summary")

	b.do(t,
		chromedp.SetValue(chromedp.ID("f-agent"), grace.ID),
		chromedp.Click(chromedp.ID("assign-button")),
		chromedp.WaitVisible(chromedp.CSS(".flash-success")),
	)
	if got := b.text(t, ".flash-success"); got != "The task is assigned to Grace Hopper." {
		t.Errorf("after assigning: %q", got)
	}
	if got := b.text(t, "#assign-h"); got != "Reassign" {
		t.Errorf("the assign form is headed %q, want Reassign", got)
	}

	// The page still shows the assignment's message, so the wait is for
	// the page the cancellation leads to: the confirmation is answered in
	// its own time, and the form is sent after it.
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.beforeCancel = true`)); err != nil {
		t.Fatal(err)
	}
	b.do(t,
		chromedp.SendKeys(chromedp.ID("f-cancel_reason"), "customer called again"),
		chromedp.Click(chromedp.ID("cancel-button")),
	)
	b.poll(t, `window.beforeCancel === undefined && !!document.querySelector(".flash-success")`, "the page after cancelling")
	if got := b.text(t, ".flash-success"); got != "The task is cancelled." {
		t.Errorf("after cancelling: %q", got)
	}
	if got := b.text(t, ".page-header .badge"); got != "cancelled" {
		t.Errorf("status after cancelling: %q", got)
	}
	ts.mustTaskStatus(t, task.ID, switchboard.TaskCancelled, "")

	time.Sleep(200 * time.Millisecond) // let the last console messages arrive
	for _, p := range b.problems() {
		// The refusal is a page answered with 409, which the console notes.
		if strings.HasSuffix(p, "/assign: Failed to load resource: the server responded with a status of 409 (Conflict)") {
			continue
		}
		t.Errorf("browser console: %s", p)
	}
}
