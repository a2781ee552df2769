package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

var offerIDRE = regexp.MustCompile(`/my-work/offers/([0-9a-f-]{36})/accept`)

// offerIDs returns the offers a My work page shows, in order.
func (r *response) offerIDs() []string {
	var ids []string
	for _, m := range offerIDRE.FindAllSubmatch(r.body, -1) {
		ids = append(ids, string(m[1]))
	}
	return ids
}

func TestMyWork(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team := ts.MustCreateTeam(t, "Billing")
	offered := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Callbacks", TeamIDs: []string{team.ID}, OfferTimeout: time.Minute})
	hu := ts.MustHumanAgent(t, switchboard.NewAgent{Name: "Hu Man", Email: "hu@example.com", Capacity: 2, TeamIDs: []string{team.ID}})
	first := ts.MustCreateTask(t, switchboard.NewTask{QueueID: offered.ID, Title: "Call Ada back", Priority: 10})
	h := ts.browser()
	h.signIn(t, "hu@example.com")

	// People in the agent role start on their work.
	h.get(t, "/").wantStatus(t, http.StatusSeeOther).location(t, "/my-work")
	page := h.get(t, "/my-work").wantStatus(t, http.StatusOK)
	page.wantContains(t, "<title>My work · Switchboard</title>", `href="/my-work" aria-current="page"`, "/static/work.js?v=",
		`data-live="/my-work/live"`, `data-heartbeat-every="20000"`, `data-agent="`+hu.ID+`"`, `value="offline" id="presence-offline" class="button presence-offline" aria-pressed="true"`,
		"No offers waiting", "Set yourself <strong>available</strong>", "Nothing assigned to you", "takes up to 2 tasks at once").
		wantNotContains(t, "Call Ada back", `href="/queues"`, `href="/tasks"`)
	page.wantNoInlineCode(t)

	// Available, Hu is offered the waiting task at once.
	h.post(t, "/my-work/presence", url.Values{"presence": {"available"}}).wantStatus(t, http.StatusSeeOther).location(t, "/my-work")
	page = h.get(t, "/my-work").wantStatus(t, http.StatusOK)
	page.wantContains(t, "You are available now", `aria-pressed="true">Available`, "Call Ada back", "Callbacks · priority 10",
		`role="timer"`, "left</span>", `data-task="`+first.ID+`"`, `<span class="count">1</span>`)
	offers := page.offerIDs()
	if len(offers) != 1 {
		t.Fatalf("offers shown: %v, want 1", offers)
	}
	if !regexp.MustCompile(`data-countdown="(59|60)\d{3}"`).Match(page.body) {
		t.Errorf("the countdown does not start near a minute: %s", regexp.MustCompile(`data-countdown="\d+"`).Find(page.body))
	}

	// The live part alone: no layout, and the flash stays for a whole page.
	ts.MustCreateTask(t, switchboard.NewTask{QueueID: offered.ID, Title: "Refund Grace"})
	h.post(t, "/my-work/presence", url.Values{"presence": {"available"}}).wantStatus(t, http.StatusSeeOther)
	live := h.get(t, "/my-work/live").wantStatus(t, http.StatusOK)
	live.wantContains(t, "data-live-part", "Call Ada back", "Refund Grace", `data-summary="2 offers waiting, 0 tasks assigned to you."`).
		wantNotContains(t, "<html", "<title>", "You are available now")
	if cc := live.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("live part Cache-Control = %q", cc)
	}
	h.get(t, "/my-work").wantContains(t, "You are available now")

	t.Run("AcceptRejectComplete", func(t *testing.T) {
		offers := h.get(t, "/my-work").offerIDs()
		if len(offers) != 2 {
			t.Fatalf("offers: %v, want 2", offers)
		}
		h.post(t, "/my-work/offers/"+offers[0]+"/accept", nil).wantStatus(t, http.StatusSeeOther).location(t, "/my-work")
		page := h.get(t, "/my-work")
		page.wantContains(t, "“Call Ada back” is yours now", `action="/my-work/tasks/`+first.ID+`/complete"`, `id="f-outcome-`+first.ID+`"`)
		h.post(t, "/my-work/offers/"+offers[1]+"/reject", nil).wantStatus(t, http.StatusSeeOther)
		h.get(t, "/my-work").wantContains(t, "You passed on “Refund Grace”", "No offers waiting").wantNotContains(t, "/accept")
		h.post(t, "/my-work/offers/"+offers[1]+"/accept", nil).wantStatus(t, http.StatusSeeOther)
		h.get(t, "/my-work").wantContains(t, "flash-error", "You have answered this offer already")
		h.post(t, "/my-work/offers/no-such-offer/accept", nil).wantStatus(t, http.StatusNotFound)

		// An outcome too long is said beside its field, keeping the text.
		long := strings.Repeat("x", 1001)
		res := h.post(t, "/my-work/tasks/"+first.ID+"/complete", url.Values{"outcome": {long}})
		res.wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, "There is a problem", `href="#f-outcome-`+first.ID+`"`,
			`id="f-outcome-`+first.ID+`-error"`, "at most 1000 characters", `value="`+long+`"`)
		res.wantNoInlineCode(t)
		h.post(t, "/my-work/tasks/"+first.ID+"/complete", url.Values{"outcome": {"Called back"}}).wantStatus(t, http.StatusSeeOther)
		h.get(t, "/my-work").wantContains(t, "“Call Ada back” is complete", "Recently completed", "Called back", "Nothing assigned to you")
		h.post(t, "/my-work/tasks/"+first.ID+"/complete", nil).wantStatus(t, http.StatusSeeOther)
		h.get(t, "/my-work").wantContains(t, "flash-error", "Only an assigned task can be completed")
	})

	t.Run("OwnTasksOnly", func(t *testing.T) {
		// An agent reads the tasks offered or assigned to them, no others
		// and no list.
		h.get(t, "/tasks/"+first.ID).wantStatus(t, http.StatusOK).
			wantContains(t, `<a href="/my-work">My work</a>`, "Call Ada back", "Called back", "offer accepted", "History").
			wantNotContains(t, `href="/queues/`, `href="/agents/`)
		shipping := ts.MustCreateTeam(t, "Shipping")
		elsewhere := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Elsewhere", TeamIDs: []string{shipping.ID}})
		other := ts.MustCreateTask(t, switchboard.NewTask{QueueID: elsewhere.ID, Title: "Not Hu's"})
		h.get(t, "/tasks/"+other.ID).wantStatus(t, http.StatusNotFound)
		for _, p := range []string{"/tasks", "/tasks/new"} {
			h.get(t, p).wantStatus(t, http.StatusForbidden)
		}
	})

	t.Run("AwayAndOffline", func(t *testing.T) {
		h.post(t, "/my-work/presence", url.Values{"presence": {"away"}}).wantStatus(t, http.StatusSeeOther)
		h.get(t, "/my-work").wantContains(t, "You are away now", `aria-pressed="true">Away`, `title="My work"`)
		h.post(t, "/my-work/presence", url.Values{"presence": {"busy"}}).wantStatus(t, http.StatusSeeOther)
		h.get(t, "/my-work").wantContains(t, "flash-error", "Presence must be available, away or offline")
	})

	t.Run("OthersOffersAreNotFound", func(t *testing.T) {
		ts.MustHumanAgent(t, switchboard.NewAgent{Name: "Other", Email: "other@example.com", TeamIDs: []string{team.ID}})
		o := ts.browser()
		o.signIn(t, "other@example.com")
		// Available, Other is offered what Hu declined.
		o.post(t, "/my-work/presence", url.Values{"presence": {"available"}}).wantStatus(t, http.StatusSeeOther)
		theirs := o.get(t, "/my-work").wantContains(t, "Refund Grace").offerIDs()
		if len(theirs) != 1 {
			t.Fatalf("other's offers: %v", theirs)
		}
		h.post(t, "/my-work/offers/"+theirs[0]+"/accept", nil).wantStatus(t, http.StatusNotFound)
		h.post(t, "/my-work/offers/"+theirs[0]+"/reject", nil).wantStatus(t, http.StatusNotFound)
		o.get(t, "/my-work").wantContains(t, "Refund Grace")
	})

	t.Run("PendingAgent", func(t *testing.T) {
		ts.MustCreateUser(t, "pat@example.com", switchboard.RoleAgent)
		if _, _, err := sqlstore.NewAgentService(ts.db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Pat", Kind: switchboard.HumanAgent,
			Email: "pat@example.com", Status: switchboard.AgentPending}); err != nil {
			t.Fatal(err)
		}
		p := ts.browser()
		p.signIn(t, "pat@example.com")
		p.get(t, "/my-work").wantStatus(t, http.StatusOK).wantContains(t, "Your agent is <strong>pending</strong>", "approves you")
		p.post(t, "/my-work/presence", url.Values{"presence": {"available"}}).wantStatus(t, http.StatusSeeOther)
		p.get(t, "/my-work").wantContains(t, "flash-error", "Only active agents take work")
	})
}

// TestMyWork_NoAgent: users who are not agents have no work, and are told
// how that changes; the navigation offers My work only to agents.
func TestMyWork_NoAgent(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	b.get(t, "/").wantStatus(t, http.StatusOK).wantContains(t, `href="/queues"`, `href="/tasks"`).
		wantNotContains(t, `href="/my-work"`, "topbar-presence")
	b.get(t, "/my-work").wantStatus(t, http.StatusOK).wantContains(t, "My work · Switchboard", "You are not set up as an agent",
		`href="/agents/new"`, "admin@example.com")
	b.post(t, "/my-work/presence", url.Values{"presence": {"available"}}).wantStatus(t, http.StatusSeeOther)
	b.get(t, "/my-work").wantContains(t, "flash-error", "You are not an agent")
	b.get(t, "/my-work/live").wantStatus(t, http.StatusOK).wantContains(t, "You are not set up as an agent")

	// An admin who also takes work has both.
	if _, err := sqlstore.NewUserService(ts.db).CreateUser(systemCtx(), switchboard.NewUser{Email: "boss@example.com", Name: "Boss",
		Role: switchboard.RoleAdmin, Password: testPassword}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sqlstore.NewAgentService(ts.db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Boss", Kind: switchboard.HumanAgent,
		Email: "boss@example.com"}); err != nil {
		t.Fatal(err)
	}
	boss := ts.browser()
	boss.signIn(t, "boss@example.com")
	boss.get(t, "/").wantStatus(t, http.StatusOK).wantContains(t, `href="/my-work"`, `href="/queues"`, "topbar-presence", "Dashboard")
	boss.get(t, "/my-work").wantStatus(t, http.StatusOK).wantContains(t, "No offers waiting")

	// Someone in the agent role without an agent yet keeps their profile.
	ts.MustCreateUser(t, "nobody@example.com", switchboard.RoleAgent)
	n := ts.browser()
	n.signIn(t, "nobody@example.com")
	n.get(t, "/").wantStatus(t, http.StatusSeeOther).location(t, "/profile")
	n.get(t, "/profile").wantStatus(t, http.StatusOK).wantNotContains(t, `href="/my-work"`, "Dashboard")
}
