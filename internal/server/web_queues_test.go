package server_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// MustCreateQueue creates a queue as the system.
func (ts *testServer) MustCreateQueue(tb testing.TB, nq switchboard.NewQueue) *switchboard.Queue {
	tb.Helper()
	q, err := sqlstore.NewQueueService(ts.db).CreateQueue(systemCtx(), nq)
	if err != nil {
		tb.Fatalf("create queue %s: %v", nq.Name, err)
	}
	return q
}

// MustCreateTask creates a task as the system, routing it at once.
func (ts *testServer) MustCreateTask(tb testing.TB, nt switchboard.NewTask) *switchboard.Task {
	tb.Helper()
	t, _, err := sqlstore.NewTaskService(ts.db).CreateTask(systemCtx(), nt)
	if err != nil {
		tb.Fatalf("create task %s: %v", nt.Title, err)
	}
	return t
}

// queueForm is a valid queue form for team, changed by kv pairs.
func queueForm(name, team string, kv ...string) url.Values {
	v := url.Values{"name": {name}, "strategy": {"longest_idle"}, "offer_timeout_seconds": {"30"}, "max_offers": {"3"},
		"sla_target_seconds": {"300"}, "required_skills": {"billing:3"}}
	if team != "" {
		v.Set("team_ids", team)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// TestQueuePages walks an admin through the queue pages on every engine:
// an empty list, a form with mistakes, creation, the list, a stale edit,
// an edit, and deletion, refused while the queue holds tasks.
func TestQueuePages(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		ts.setUp(t)
		team := ts.MustCreateTeam(t, "Billing")
		b := ts.browser()
		b.signIn(t, "admin@example.com")

		b.get(t, "/queues").wantStatus(t, http.StatusOK).
			wantContains(t, "<title>Queues · Switchboard</title>", "No queues yet", `href="/queues/new"`, `aria-current="page">`)
		b.get(t, "/queues/new").wantStatus(t, http.StatusOK).
			wantContains(t, "New queue · Switchboard", `value="`+team.ID+`"`, `<option value="longest_idle" selected>`,
				"Most skilled", `name="offer_timeout_seconds"`, `value="3"`, `name="requeue_on_offline"`)

		// Every mistake is reported beside its field, and nothing typed is lost.
		bad := queueForm("", team.ID, "required_skills", "billing:12; spanish", "offer_timeout_seconds", "soon",
			"max_offers", "0", "sla_target_seconds", "-5", "requeue_on_offline", "on")
		b.post(t, "/queues", bad).wantStatus(t, http.StatusUnprocessableEntity).wantContains(t,
			"There is a problem", `id="f-name-error"`, "Give the queue a name", `id="f-required_skills-error"`,
			`id="f-offer_timeout_seconds-error"`, "whole seconds", `id="f-max_offers-error"`, `id="f-sla_target_seconds-error"`,
			`href="#f-required_skills"`, `value="billing:12; spanish"`, `value="soon"`, `value="-5"`,
			`value="`+team.ID+`" checked`, `name="requeue_on_offline" value="on" checked`)

		res := b.post(t, "/queues", queueForm("Invoices", team.ID, "strategy", "most_skilled", "requeue_on_offline", "on"))
		res.wantStatus(t, http.StatusSeeOther)
		queuePath := res.location(t, "/queues/")
		b.get(t, queuePath).wantStatus(t, http.StatusOK).wantContains(t, "Queue Invoices has been created", "<h1>Invoices</h1>",
			`value="billing:3"`, `<option value="most_skilled" selected>`, `value="30"`, `value="300"`,
			`name="requeue_on_offline" value="on" checked`, "Delete queue", "The queue has no tasks")
		b.get(t, "/queues").wantStatus(t, http.StatusOK).wantContains(t,
			`href="`+queuePath+`" class="strong">Invoices</a>`, "Billing", "Most skilled", "30 s", "5 min", "billing <b>3</b>")
		b.get(t, "/queues?q=nothing").wantStatus(t, http.StatusOK).wantContains(t, "No queues match", `href="/queues">Clear</a>`)
		b.get(t, "/queues?team="+team.ID).wantStatus(t, http.StatusOK).wantContains(t, "Invoices")

		// A second queue of the same name is refused beside the name.
		b.post(t, "/queues", queueForm("invoices", "")).wantStatus(t, http.StatusConflict).
			wantContains(t, `id="f-name-error"`, "already exists", `value="invoices"`)

		// An edit made from a page that someone else's change overtook is refused.
		queue, err := sqlstore.NewQueueService(db).FindQueueByID(systemCtx(), queuePath[len("/queues/"):])
		if err != nil {
			t.Fatal(err)
		}
		stale := strconv.Itoa(queue.Version - 1)
		b.post(t, queuePath, queueForm("Lost update", team.ID, "version", stale)).
			wantStatus(t, http.StatusPreconditionFailed).wantContains(t, "Someone else changed this queue", `value="Invoices"`)
		b.post(t, queuePath, queueForm("Invoices EU", "", "version", strconv.Itoa(queue.Version), "offer_timeout_seconds", "0",
			"max_offers", "")).wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, `id="f-max_offers-error"`, `value="Invoices EU"`)
		b.post(t, queuePath, queueForm("Invoices EU", "", "version", strconv.Itoa(queue.Version), "offer_timeout_seconds", "0")).
			wantStatus(t, http.StatusSeeOther)
		b.get(t, queuePath).wantContains(t, "Changes to Invoices EU have been saved", "assigns directly").
			wantNotContains(t, `value="`+team.ID+`" checked`, `name="requeue_on_offline" value="on" checked`)
		b.get(t, "/queues").wantContains(t, "every agent", "assigns directly")

		// A queue with tasks stays: its tasks keep it for their history.
		ts.MustCreateTask(t, switchboard.NewTask{QueueID: queue.ID, Title: "Refund"})
		b.get(t, queuePath).wantContains(t, "holds tasks").wantNotContains(t, `action="`+queuePath+`/delete"`)
		b.post(t, queuePath+"/delete", confirmed(nil)).wantStatus(t, http.StatusSeeOther).location(t, queuePath)
		b.get(t, queuePath).wantStatus(t, http.StatusOK).wantContains(t, "flash-error", "still has tasks")

		empty := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Spare", OfferTimeout: time.Minute})
		b.get(t, "/queues/"+empty.ID).wantContains(t, `data-confirm="Delete the queue Spare?`)
		b.post(t, "/queues/"+empty.ID+"/delete", nil).wantStatus(t, http.StatusOK).wantContains(t, "Delete the queue Spare?", `name="confirm" value="yes"`)
		b.get(t, "/queues/"+empty.ID).wantStatus(t, http.StatusOK)
		b.post(t, "/queues/"+empty.ID+"/delete", confirmed(nil)).wantStatus(t, http.StatusSeeOther).location(t, "/queues")
		b.get(t, "/queues").wantContains(t, "The queue has been deleted").wantNotContains(t, "Spare")
		b.get(t, "/queues/"+empty.ID).wantStatus(t, http.StatusNotFound)
	})
}

// TestQueuePages_Supervisor: a supervisor sees the queues of their teams,
// changes those that route to their teams alone, and deletes none; an
// agent has no queue pages at all.
func TestQueuePages_Supervisor(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	grace := ts.MustCreateUser(t, "grace@example.com", switchboard.RoleSupervisor)
	teamA := ts.MustCreateTeam(t, "Billing", grace.ID)
	teamB := ts.MustCreateTeam(t, "Shipping")
	own := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Own", TeamIDs: []string{teamA.ID}})
	shared := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Shared", TeamIDs: []string{teamA.ID, teamB.ID}})
	other := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Other", TeamIDs: []string{teamB.ID}})
	ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Everyone"})
	b := ts.browser()
	b.signIn(t, "grace@example.com")

	b.get(t, "/queues").wantStatus(t, http.StatusOK).wantContains(t, "Own", "Shared", `href="/queues"`).
		wantNotContains(t, ">Other<", "Everyone")
	b.get(t, "/queues/"+other.ID).wantStatus(t, http.StatusNotFound)
	b.get(t, "/queues/"+own.ID).wantStatus(t, http.StatusOK).wantContains(t, "Save changes").
		wantNotContains(t, "Delete queue", `value="`+teamB.ID+`"`)
	b.get(t, "/queues/"+shared.ID).wantStatus(t, http.StatusOK).
		wantContains(t, "only an administrator can change it", "Billing, Shipping").wantNotContains(t, "Save changes")
	b.get(t, "/queues/new").wantStatus(t, http.StatusOK).
		wantContains(t, `value="`+teamA.ID+`"`, "Choose at least one").wantNotContains(t, `value="`+teamB.ID+`"`)

	// The service's refusals show on the form, with what was typed.
	b.post(t, "/queues", queueForm("Nowhere", "")).wantStatus(t, http.StatusForbidden).
		wantContains(t, `id="f-team_ids-error"`, "Choose one or more of your teams", `value="Nowhere"`)
	b.post(t, "/queues", queueForm("Theirs", teamB.ID)).wantStatus(t, http.StatusForbidden).
		wantContains(t, "Choose only teams you supervise", `value="Theirs"`)
	b.post(t, "/queues/"+shared.ID, queueForm("Mine now", teamA.ID, "version", "1")).wantStatus(t, http.StatusForbidden).
		wantContains(t, "also routes to teams you do not supervise")
	b.post(t, "/queues/"+other.ID, queueForm("Mine now", teamA.ID, "version", "1")).wantStatus(t, http.StatusNotFound)
	b.post(t, "/queues/"+own.ID+"/delete", nil).wantStatus(t, http.StatusForbidden)

	res := b.post(t, "/queues", queueForm("Returns", teamA.ID))
	res.wantStatus(t, http.StatusSeeOther)
	b.get(t, res.location(t, "/queues/")).wantStatus(t, http.StatusOK).wantContains(t, "Queue Returns has been created")
	b.post(t, "/queues/"+own.ID, queueForm("Own, renamed", teamA.ID, "version", "1")).wantStatus(t, http.StatusSeeOther)

	// Agents have no queue pages, whatever the ID.
	ts.MustCreateUser(t, "agent@example.com", switchboard.RoleAgent)
	a := ts.browser()
	a.signIn(t, "agent@example.com")
	for _, p := range []string{"/queues", "/queues/new", "/queues/" + own.ID} {
		a.get(t, p).wantStatus(t, http.StatusForbidden)
	}
	a.post(t, "/queues", queueForm("Agent's", teamA.ID)).wantStatus(t, http.StatusForbidden)
	a.post(t, "/queues/"+own.ID, queueForm("Agent's", teamA.ID, "version", "2")).wantStatus(t, http.StatusForbidden)
	a.post(t, "/queues/"+own.ID+"/delete", nil).wantStatus(t, http.StatusForbidden)
	a.get(t, "/account").wantStatus(t, http.StatusOK).wantNotContains(t, `href="/queues"`, `href="/tasks"`)
	if q, _ := sqlstore.NewQueueService(ts.db).FindQueueByID(systemCtx(), own.ID); q.Name != "Own, renamed" {
		t.Errorf("queue after an agent's attempts: %+v", q)
	}
}
