package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

var (
	taskIDRE  = regexp.MustCompile(`/tasks/([0-9a-f-]{36})`)
	formKeyRE = regexp.MustCompile(`name="idempotency_key" value="(form-[0-9a-f]+)"`)
)

// formKey returns the idempotency key a task form was rendered with.
func (r *response) formKey(tb testing.TB) string {
	tb.Helper()
	m := formKeyRE.FindSubmatch(r.body)
	if m == nil {
		tb.Fatalf("no idempotency key in %s", truncate(r.body))
	}
	return string(m[1])
}

// MustHumanAgent creates a person's agent, active, whose user signs in
// with the agent's e-mail address and testPassword.
func (ts *testServer) MustHumanAgent(tb testing.TB, na switchboard.NewAgent) *switchboard.Agent {
	tb.Helper()
	na.Kind = switchboard.HumanAgent
	a, inv := ts.MustCreateAgent(tb, na)
	if _, err := sqlstore.NewUserService(ts.db).AcceptInvitation(tb.Context(), inv.Secret, testPassword); err != nil {
		tb.Fatal(err)
	}
	return a
}

// asAgent acts as an agent, the way its token does.
func asAgent(a *switchboard.Agent) context.Context {
	return switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{Agent: a})
}

func TestTaskPages(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	// Without a queue, both pages say to make one first.
	b.get(t, "/tasks").wantStatus(t, http.StatusOK).
		wantContains(t, "<title>Tasks · Switchboard</title>", "no queue for them", `href="/queues/new"`).wantNotContains(t, `href="/tasks/new"`)
	b.get(t, "/tasks/new").wantStatus(t, http.StatusOK).wantContains(t, "There is no queue", `href="/queues/new"`)

	team := ts.MustCreateTeam(t, "Billing")
	queue := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Invoices", TeamIDs: []string{team.ID}, OfferTimeout: 30 * time.Second})
	b.get(t, "/tasks").wantStatus(t, http.StatusOK).wantContains(t, "No tasks yet", `href="/tasks/new"`, "POST /api/v1/tasks")
	form := b.get(t, "/tasks/new?queue="+queue.ID).wantStatus(t, http.StatusOK)
	form.wantContains(t, "New task · Switchboard", `<option value="`+queue.ID+`" selected>Invoices</option>`, `type="datetime-local"`)
	key := form.formKey(t)

	t.Run("FormErrorsKeepValues", func(t *testing.T) {
		res := b.post(t, "/tasks", url.Values{"queue": {queue.ID}, "title": {""}, "priority": {"high"}, "required_skills": {"billing:99"},
			"external_ref": {"T-1"}, "expires_at": {"tomorrow"}, "idempotency_key": {key}})
		res.wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, "There is a problem",
			`id="f-title-error"`, "Give the task a title", `id="f-priority-error"`, `id="f-required_skills-error"`, "levels go from 1 to 10",
			`id="f-expires_at-error"`, `value="high"`, `value="billing:99"`, `value="T-1"`, `value="tomorrow"`, `value="`+key+`"`)
		b.post(t, "/tasks", url.Values{"queue": {queue.ID}, "title": {"Late"}, "priority": {"5"}, "expires_at": {"2001-01-01T10:00"},
			"idempotency_key": {key}}).wantStatus(t, http.StatusUnprocessableEntity).
			wantContains(t, `id="f-expires_at-error"`, "must be in the future", `value="2001-01-01T10:00"`)
		b.post(t, "/tasks", url.Values{"queue": {"01a23217-1892-7356-a539-8ee53356ec51"}, "title": {"Lost"}, "idempotency_key": {key}}).
			wantStatus(t, http.StatusNotFound).wantContains(t, `id="f-queue-error"`, "No such queue", `value="Lost"`)
	})

	var taskPath string
	t.Run("CreateOnceThenShow", func(t *testing.T) {
		expires := time.Now().UTC().Add(48 * time.Hour).Format("2006-01-02T15:04")
		send := url.Values{"queue": {queue.ID}, "title": {"Refund invoice 1042"}, "priority": {"70"}, "required_skills": {"billing:5"},
			"external_ref": {"T-1042"}, "expires_at": {expires}, "idempotency_key": {key}}
		res := b.post(t, "/tasks", send).wantStatus(t, http.StatusSeeOther)
		taskPath = res.location(t, "/tasks/")
		b.get(t, taskPath).wantStatus(t, http.StatusOK).wantContains(t, "Refund invoice 1042 · Switchboard",
			"It waits in Invoices until an agent can take it", `badge-status-queued`, "priority 70", "billing <b>5</b>", "T-1042",
			`href="/queues/`+queue.ID+`"`, "History", `<td data-label="Why">created</td>`)

		// The same form sent twice makes one task; sent with other values, none.
		b.post(t, "/tasks", send).wantStatus(t, http.StatusSeeOther).location(t, taskPath)
		b.get(t, taskPath).wantContains(t, "had been created already")
		send.Set("title", "Another")
		res = b.post(t, "/tasks", send).wantStatus(t, http.StatusConflict)
		res.wantContains(t, "This form already created a task", `value="Another"`).wantNotContains(t, `value="`+key+`"`)
		b.post(t, "/tasks", url.Values{"queue": {queue.ID}, "title": {"Another"}, "idempotency_key": {res.formKey(t)}}).
			wantStatus(t, http.StatusSeeOther)
	})

	t.Run("ListFiltersAndPages", func(t *testing.T) {
		ts.MustCreateTask(t, switchboard.NewTask{QueueID: queue.ID, Title: "Low one", Priority: 1})
		list := b.get(t, "/tasks").wantStatus(t, http.StatusOK)
		list.wantContains(t, `href="`+taskPath+`" class="strong">Refund invoice 1042</a>`, "T-1042", "badge-status-queued",
			`<td class="num" data-label="Priority">70</td>`, `href="/queues/`+queue.ID+`">Invoices</a>`, "Another", "Low one")
		b.get(t, "/tasks?min_priority=50").wantContains(t, "Refund invoice").wantNotContains(t, "Low one", "Another")
		b.get(t, "/tasks?queue="+queue.ID+"&status=queued&max_priority=1").wantContains(t, "Low one", `href="/tasks">Clear</a>`).
			wantNotContains(t, "Refund invoice")
		b.get(t, "/tasks?status=completed").wantContains(t, "No tasks match these filters")
		today := time.Now().UTC().Format(time.DateOnly)
		b.get(t, "/tasks?created_after="+today+"&created_before="+today).wantContains(t, "Refund invoice", "Low one")
		b.get(t, "/tasks?created_before=2001-01-01").wantContains(t, "No tasks match")
		b.get(t, "/tasks?min_priority=50&max_priority=10").wantStatus(t, http.StatusBadRequest).
			wantContains(t, `id="f-max_priority-error"`, "must not be below", `value="50"`)
		b.get(t, "/tasks?created_after=soon&min_priority=200").wantStatus(t, http.StatusBadRequest).
			wantContains(t, "Enter a date like", "Priority goes from 0 to 100", "Correct the filters")

		// Pages follow one another with the filter kept.
		seen := map[string]bool{}
		path := "/tasks?queue=" + queue.ID + "&limit=2"
		for range 3 {
			body := string(b.get(t, path).wantStatus(t, http.StatusOK).body)
			for _, m := range taskIDRE.FindAllStringSubmatch(body, -1) {
				seen[m[1]] = true
			}
			i := strings.Index(body, "Next page")
			if i < 0 {
				break
			}
			start := strings.LastIndex(body[:i], `href="`) + len(`href="`)
			path = strings.ReplaceAll(body[start:start+strings.IndexByte(body[start:], '"')], "&amp;", "&")
			if u, _ := url.Parse(path); u.Query().Get("queue") != queue.ID || u.Query().Get("cursor") == "" {
				t.Fatalf("next page link %q lacks the filter or the cursor", path)
			}
		}
		if len(seen) != 3 {
			t.Errorf("paging showed %d tasks, want 3", len(seen))
		}
		b.get(t, "/tasks?cursor=stale").wantStatus(t, http.StatusOK).wantContains(t, "Refund invoice")
	})

	t.Run("HistoryOfARoutedTask", func(t *testing.T) {
		hu := ts.MustHumanAgent(t, switchboard.NewAgent{Name: "Hu Man", Email: "hu@example.com", TeamIDs: []string{team.ID},
			Skills: map[string]int{"billing": 7}})
		// Available, Hu is offered the oldest task of the highest priority,
		// accepts it and completes it.
		ctx := asAgent(hu)
		if _, err := sqlstore.NewPresenceService(ts.db).SetPresence(ctx, switchboard.PresenceAvailable); err != nil {
			t.Fatal(err)
		}
		offers, err := sqlstore.NewOfferService(ts.db).FindMyOffers(ctx)
		if err != nil || len(offers) != 1 || "/tasks/"+offers[0].TaskID != taskPath {
			t.Fatalf("offers to Hu: %v, %v", offers, err)
		}
		if _, err := sqlstore.NewOfferService(ts.db).AcceptOffer(ctx, offers[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := sqlstore.NewTaskService(ts.db).CompleteTask(ctx, offers[0].TaskID, "Refunded"); err != nil {
			t.Fatal(err)
		}

		res := b.get(t, taskPath).wantStatus(t, http.StatusOK)
		res.wantContains(t, "badge-status-completed", "Refunded", `href="/agents/`+hu.ID+`">Hu Man</a>`,
			"routed by longest_idle", "offer accepted", `<td data-label="Why">completed</td>`, `<span class="muted small">agent</span>`)
		if n := strings.Count(string(res.body), `<span aria-hidden="true">→</span>`); n != 3 {
			t.Errorf("history shows %d transitions after creation, want 3 (offered, assigned, completed)", n)
		}
		// Done, Hu is offered the next task: of the highest priority.
		b.get(t, "/tasks?agent="+hu.ID).wantContains(t, "Refund invoice", "Low one", `<option value="`+hu.ID+`" selected>Hu Man</option>`).
			wantNotContains(t, "Another")
	})
}

// TestTaskPages_Supervisor: a supervisor sees and creates the tasks of
// their teams' queues only; agents read their own tasks and nothing more.
func TestTaskPages_Supervisor(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	grace := ts.MustCreateUser(t, "grace@example.com", switchboard.RoleSupervisor)
	teamA := ts.MustCreateTeam(t, "Billing", grace.ID)
	teamB := ts.MustCreateTeam(t, "Shipping")
	qA := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Invoices", TeamIDs: []string{teamA.ID}})
	qB := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Parcels", TeamIDs: []string{teamB.ID}})
	own := ts.MustCreateTask(t, switchboard.NewTask{QueueID: qA.ID, Title: "Own task"})
	other := ts.MustCreateTask(t, switchboard.NewTask{QueueID: qB.ID, Title: "Their task"})
	ts.MustCreateAgent(t, switchboard.NewAgent{Name: "runner-a", Kind: switchboard.MachineAgent, TeamIDs: []string{teamA.ID}})
	ts.MustCreateAgent(t, switchboard.NewAgent{Name: "runner-b", Kind: switchboard.MachineAgent, TeamIDs: []string{teamB.ID}})
	b := ts.browser()
	b.signIn(t, "grace@example.com")

	b.get(t, "/tasks").wantStatus(t, http.StatusOK).wantContains(t, "Own task", "runner-a", ">Invoices</option>").
		wantNotContains(t, "Their task", "runner-b", "Parcels")
	b.get(t, "/tasks/"+own.ID).wantStatus(t, http.StatusOK).wantContains(t, "Own task")
	b.get(t, "/tasks/"+other.ID).wantStatus(t, http.StatusNotFound)
	b.get(t, "/tasks/new").wantStatus(t, http.StatusOK).wantContains(t, "Invoices").wantNotContains(t, "Parcels")
	b.post(t, "/tasks", url.Values{"queue": {qB.ID}, "title": {"Sneaky"}, "idempotency_key": {"form-1"}}).
		wantStatus(t, http.StatusNotFound).wantContains(t, "No such queue", `value="Sneaky"`)
	b.post(t, "/tasks", url.Values{"queue": {qA.ID}, "title": {"Mine"}, "idempotency_key": {"form-2"}}).wantStatus(t, http.StatusSeeOther)

	// Agents have no task list and make no tasks.
	ts.MustCreateUser(t, "agent@example.com", switchboard.RoleAgent)
	h := ts.browser()
	h.signIn(t, "agent@example.com")
	for _, p := range []string{"/tasks", "/tasks/new"} {
		h.get(t, p).wantStatus(t, http.StatusForbidden)
	}
	h.post(t, "/tasks", url.Values{"queue": {qA.ID}, "title": {"Agent's"}}).wantStatus(t, http.StatusForbidden)
}

// MustMachineAgent creates an active machine agent and sets its presence.
func (ts *testServer) MustMachineAgent(tb testing.TB, na switchboard.NewAgent, presence switchboard.Presence) *switchboard.Agent {
	tb.Helper()
	na.Kind = switchboard.MachineAgent
	a, _ := ts.MustCreateAgent(tb, na)
	if presence != switchboard.PresenceOffline {
		if _, err := sqlstore.NewPresenceService(ts.db).SetPresence(asAgent(a), presence); err != nil {
			tb.Fatalf("presence of %s: %v", a.Name, err)
		}
	}
	return a
}

// mustTaskStatus fails unless the task is in status, with agentID if given.
func (ts *testServer) mustTaskStatus(tb testing.TB, id string, status switchboard.TaskStatus, agentID string) {
	tb.Helper()
	got, err := sqlstore.NewTaskService(ts.db).FindTaskByID(systemCtx(), id)
	if err != nil {
		tb.Fatal(err)
	}
	if got.Status != status || (agentID != "" && got.AgentID != agentID) {
		tb.Fatalf("task is %s with agent %q, want %s with %q", got.Status, got.AgentID, status, agentID)
	}
}

// TestTaskControlPages walks an admin through steering a task from its
// page on every engine: the routing panel, an assignment refused with the
// reason, forced, requeued, completed, and a task cancelled; each action
// offered only while the task's status allows it.
func TestTaskControlPages(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		ts.setUp(t)
		team := ts.MustCreateTeam(t, "Billing")
		// A queue routed by hand keeps its tasks until someone assigns them.
		queue := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Invoices", TeamIDs: []string{team.ID},
			RequiredSkills: map[string]int{"billing": 3}, Strategy: switchboard.Manual})
		grace := ts.MustMachineAgent(t, switchboard.NewAgent{Name: "Grace Hopper", TeamIDs: []string{team.ID},
			Skills: map[string]int{"billing": 7}}, switchboard.PresenceAvailable)
		alan := ts.MustMachineAgent(t, switchboard.NewAgent{Name: "Alan Turing", TeamIDs: []string{team.ID},
			Skills: map[string]int{"billing": 2}}, switchboard.PresenceAvailable)
		ken := ts.MustMachineAgent(t, switchboard.NewAgent{Name: "Ken Thompson", TeamIDs: []string{team.ID},
			Skills: map[string]int{"billing": 5}}, switchboard.PresenceOffline)
		task := ts.MustCreateTask(t, switchboard.NewTask{QueueID: queue.ID, Title: "Refund invoice 1042"})
		path := "/tasks/" + task.ID
		b := ts.browser()
		b.signIn(t, "admin@example.com")

		page := b.get(t, path).wantStatus(t, http.StatusOK)
		page.wantContains(t, `<h2 id="actions-h">Actions</h2>`, `<h3 id="assign-h">Assign</h3>`, `action="`+path+`/assign"`,
			`<optgroup label="Eligible, in routing's order"><option value="`+grace.ID+`">Grace Hopper — eligible, ranked 1</option>`,
			`<option value="`+alan.ID+`">Alan Turing — Missing skill billing at level 3 (has 2).</option>`,
			`<option value="`+ken.ID+`">Ken Thompson — Not available (offline).</option>`,
			`name="force"`, `action="`+path+`/cancel"`, `data-confirm="Cancel “Refund invoice 1042” for good?`,
			// The routing panel: the strategy, each agent with its verdict and why.
			`<h2 id="routing-h">Routing</h2>`, "Manual", "nobody: the queue is routed by hand", "3, 1 eligible",
			`<a href="/agents/`+grace.ID+`">Grace Hopper</a>`, "eligible · #1", "The queue is routed by hand.",
			`<a href="/agents/`+alan.ID+`">Alan Turing</a>`, "not eligible", "Not available (offline).").
			wantNotContains(t, `action="`+path+`/requeue"`, `action="`+path+`/complete"`)
		page.wantNoInlineCode(t)

		t.Run("AssignRefusedWithReason", func(t *testing.T) {
			res := b.post(t, path+"/assign", url.Values{"agent": {alan.ID}}).wantStatus(t, http.StatusConflict)
			res.wantContains(t, "There is a problem", `href="#f-agent"`, `id="f-agent-error"`,
				"Alan Turing may not take the task: Missing skill billing at level 3 (has 2).",
				"Tick “Force the assignment” to assign them all the same.", `<option value="`+alan.ID+`" selected>`)
			res.wantNoInlineCode(t)
			b.post(t, path+"/assign", url.Values{"agent": {""}}).wantStatus(t, http.StatusUnprocessableEntity).
				wantContains(t, `id="f-agent-error"`, "Choose the agent to give the task to.")
			b.post(t, path+"/assign", url.Values{"agent": {"01a23217-1892-7356-a539-8ee53356ec51"}}).
				wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, `id="f-agent-error"`, "No such agent.")
			ts.mustTaskStatus(t, task.ID, switchboard.TaskQueued, "")
		})

		t.Run("RequeueRefusedWhileQueued", func(t *testing.T) {
			b.post(t, path+"/requeue", url.Values{"requeue_reason": {"again"}}).wantStatus(t, http.StatusConflict).
				wantContains(t, "There is a problem", "Only an offered or assigned task can be requeued; this one is queued.")
			b.post(t, path+"/complete", url.Values{"outcome": {"done"}}).wantStatus(t, http.StatusConflict).
				wantContains(t, "Only an assigned task can be completed; this one is queued.")
		})

		t.Run("AssignThenReassignByForce", func(t *testing.T) {
			b.post(t, path+"/assign", url.Values{"agent": {grace.ID}}).wantStatus(t, http.StatusSeeOther).location(t, path)
			page := b.get(t, path).wantStatus(t, http.StatusOK)
			page.wantContains(t, "The task is assigned to Grace Hopper.", "badge-status-assigned", `<h3 id="assign-h">Reassign</h3>`,
				"Take the task back from Grace Hopper", `action="`+path+`/requeue"`, `action="`+path+`/complete"`,
				"has the task now", "assigned by hand", "and Grace Hopper no longer has it").
				wantNotContains(t, `<option value="`+grace.ID+`"`)
			ts.mustTaskStatus(t, task.ID, switchboard.TaskAssigned, grace.ID)

			b.post(t, path+"/assign", url.Values{"agent": {alan.ID}, "force": {"on"}}).wantStatus(t, http.StatusSeeOther)
			b.get(t, path).wantContains(t, "The task is assigned to Alan Turing.",
				"assigned by hand, forced: Missing skill billing at level 3 (has 2).")
			ts.mustTaskStatus(t, task.ID, switchboard.TaskAssigned, alan.ID)
		})

		t.Run("Requeue", func(t *testing.T) {
			long := strings.Repeat("x", switchboard.MaxReasonLength+1)
			b.post(t, path+"/requeue", url.Values{"requeue_reason": {long}}).wantStatus(t, http.StatusUnprocessableEntity).
				wantContains(t, `id="f-requeue_reason-error"`, "A reason has at most 500 characters.", `value="`+long+`"`)
			b.post(t, path+"/requeue", url.Values{"requeue_reason": {"wrong skills"}}).wantStatus(t, http.StatusSeeOther).location(t, path)
			b.get(t, path).wantContains(t, "The task is back in Invoices. It waits until an agent can take it.",
				"badge-status-queued", `<td data-label="Why">wrong skills</td>`, `<h3 id="assign-h">Assign</h3>`)
			ts.mustTaskStatus(t, task.ID, switchboard.TaskQueued, "")
		})

		t.Run("Complete", func(t *testing.T) {
			b.post(t, path+"/assign", url.Values{"agent": {grace.ID}}).wantStatus(t, http.StatusSeeOther)
			b.post(t, path+"/complete", url.Values{"outcome": {strings.Repeat("y", switchboard.MaxOutcomeLength+1)}}).
				wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, `id="f-outcome-error"`, "at most 1000 characters")
			b.post(t, path+"/complete", url.Values{"outcome": {"Refunded"}}).wantStatus(t, http.StatusSeeOther).location(t, path)
			// A finished task offers no action and needs no routing.
			b.get(t, path).wantContains(t, "The task is complete.", "badge-status-completed", "Refunded").
				wantNotContains(t, `id="actions-h"`, `id="routing-h"`, `id="cancel-h"`)
			b.post(t, path+"/cancel", confirmed(nil)).wantStatus(t, http.StatusConflict).
				wantContains(t, "The task is completed; a finished task stays as it is.")
			b.post(t, path+"/assign", url.Values{"agent": {grace.ID}}).wantStatus(t, http.StatusConflict).
				wantContains(t, "The task is completed; a finished task stays as it is.")
		})

		t.Run("Cancel", func(t *testing.T) {
			other := ts.MustCreateTask(t, switchboard.NewTask{QueueID: queue.ID, Title: "Duplicate charge"})
			// Without a confirmation the first click only asks, and keeps the reason.
			b.post(t, "/tasks/"+other.ID+"/cancel", url.Values{"cancel_reason": {"raised twice"}}).
				wantStatus(t, http.StatusOK).wantContains(t, "for good?", `name="cancel_reason" value="raised twice"`)
			b.get(t, "/tasks/"+other.ID).wantContains(t, `id="cancel-h"`)
			b.post(t, "/tasks/"+other.ID+"/cancel", confirmed(url.Values{"cancel_reason": {"raised twice"}})).
				wantStatus(t, http.StatusSeeOther).location(t, "/tasks/"+other.ID)
			b.get(t, "/tasks/"+other.ID).wantContains(t, "The task is cancelled.", "badge-status-cancelled", `<td data-label="Why">raised twice</td>`).
				wantNotContains(t, `id="actions-h"`, `id="cancel-h"`)
			ts.mustTaskStatus(t, other.ID, switchboard.TaskCancelled, "")
		})

		t.Run("CrossOriginRefused", func(t *testing.T) {
			other := ts.MustCreateTask(t, switchboard.NewTask{QueueID: queue.ID, Title: "Keep me"})
			evil := ts.browser()
			evil.signIn(t, "admin@example.com")
			evil.origin = "https://evil.example"
			for _, action := range []string{"cancel", "assign", "requeue", "complete"} {
				evil.post(t, "/tasks/"+other.ID+"/"+action, url.Values{"agent": {grace.ID}}).
					wantStatus(t, http.StatusForbidden).wantContains(t, "Cross-origin request refused")
			}
			ts.mustTaskStatus(t, other.ID, switchboard.TaskQueued, "")
		})
	})
}

// TestTaskControlPages_Authorisation: supervisors steer the tasks of their
// teams' queues, without force and among their own teams' agents; other
// supervisors and agents cannot steer them, and an agent completes only
// their own task.
func TestTaskControlPages_Authorisation(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	grace := ts.MustCreateUser(t, "grace@example.com", switchboard.RoleSupervisor)
	ts.MustCreateUser(t, "bob@example.com", switchboard.RoleSupervisor)
	teamA := ts.MustCreateTeam(t, "Billing", grace.ID)
	teamB := ts.MustCreateTeam(t, "Shipping")
	// The queue routes to Grace's team and to another.
	queue := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Invoices", TeamIDs: []string{teamA.ID, teamB.ID}, Strategy: switchboard.Manual})
	hu := ts.MustHumanAgent(t, switchboard.NewAgent{Name: "Hu Man", Email: "hu@example.com", TeamIDs: []string{teamA.ID}})
	if _, err := sqlstore.NewPresenceService(ts.db).SetPresence(asAgent(hu), switchboard.PresenceAvailable); err != nil {
		t.Fatal(err)
	}
	runner := ts.MustMachineAgent(t, switchboard.NewAgent{Name: "runner-b", TeamIDs: []string{teamB.ID}}, switchboard.PresenceAvailable)
	away := ts.MustMachineAgent(t, switchboard.NewAgent{Name: "runner-away", TeamIDs: []string{teamA.ID}}, switchboard.PresenceAway)
	task := ts.MustCreateTask(t, switchboard.NewTask{QueueID: queue.ID, Title: "Refund"})
	path := "/tasks/" + task.ID

	t.Run("SupervisorOfTheQueue", func(t *testing.T) {
		b := ts.browser()
		b.signIn(t, "grace@example.com")
		page := b.get(t, path).wantStatus(t, http.StatusOK)
		// runner-b is judged, but is not Grace's to see, open or assign.
		page.wantContains(t, `<h3 id="assign-h">Assign</h3>`, `<option value="`+hu.ID+`">Hu Man — eligible, ranked 1</option>`,
			"1 agent of teams you do not supervise was judged too", `<a href="/agents/`+hu.ID+`">Hu Man</a>`).
			wantNotContains(t, `name="force"`, "runner-b", `<option value="`+runner.ID+`"`, `href="/agents/`+runner.ID+`"`)
		// Refused without a word about force, which is not hers to use.
		b.post(t, path+"/assign", url.Values{"agent": {away.ID}}).wantStatus(t, http.StatusConflict).
			wantContains(t, "runner-away may not take the task: Not available (away).").wantNotContains(t, "Tick")
		b.post(t, path+"/assign", url.Values{"agent": {away.ID}, "force": {"on"}}).wantStatus(t, http.StatusForbidden).
			wantContains(t, "Only admins may force an assignment.")
		b.post(t, path+"/assign", url.Values{"agent": {runner.ID}}).wantStatus(t, http.StatusUnprocessableEntity).
			wantContains(t, "No such agent.")
		ts.mustTaskStatus(t, task.ID, switchboard.TaskQueued, "")
		b.post(t, path+"/assign", url.Values{"agent": {hu.ID}}).wantStatus(t, http.StatusSeeOther)
		ts.mustTaskStatus(t, task.ID, switchboard.TaskAssigned, hu.ID)
	})

	t.Run("SupervisorOfAnotherTeam", func(t *testing.T) {
		b := ts.browser()
		b.signIn(t, "bob@example.com")
		b.get(t, path).wantStatus(t, http.StatusNotFound)
		for _, action := range []string{"assign", "requeue", "cancel", "complete"} {
			b.post(t, path+"/"+action, url.Values{"agent": {hu.ID}}).wantStatus(t, http.StatusNotFound)
		}
		ts.mustTaskStatus(t, task.ID, switchboard.TaskAssigned, hu.ID)
	})

	t.Run("Agent", func(t *testing.T) {
		other := ts.MustCreateTask(t, switchboard.NewTask{QueueID: queue.ID, Title: "Not Hu's"})
		h := ts.browser()
		h.signIn(t, "hu@example.com")
		// Hu completes their own task from its page, and steers nothing.
		h.get(t, path).wantStatus(t, http.StatusOK).
			wantContains(t, `<h2 id="actions-h">Your task</h2>`, `action="`+path+`/complete"`, "Mark the task done when you have finished it.").
			wantNotContains(t, `/assign"`, `/requeue"`, `/cancel"`, `id="routing-h"`)
		for _, action := range []string{"assign", "requeue", "cancel"} {
			h.post(t, path+"/"+action, url.Values{"agent": {hu.ID}}).wantStatus(t, http.StatusForbidden)
			h.post(t, "/tasks/"+other.ID+"/"+action, url.Values{"agent": {hu.ID}}).wantStatus(t, http.StatusForbidden)
		}
		h.post(t, "/tasks/"+other.ID+"/complete", nil).wantStatus(t, http.StatusNotFound)
		ts.mustTaskStatus(t, other.ID, switchboard.TaskQueued, "")
		h.post(t, path+"/complete", url.Values{"outcome": {"Refunded"}}).wantStatus(t, http.StatusSeeOther).location(t, path)
		h.get(t, path).wantContains(t, "The task is complete.", "Refunded").wantNotContains(t, `id="actions-h"`)
	})
}

// TestTaskRoutingPanel: the panel's empty state, and its bound: a queue
// reaching more agents than the panel lists says so, and the assign form
// then takes an agent's ID.
func TestTaskRoutingPanel(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team := ts.MustCreateTeam(t, "Billing")
	empty := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Nobody", TeamIDs: []string{team.ID}})
	lonely := ts.MustCreateTask(t, switchboard.NewTask{QueueID: empty.ID, Title: "Lonely"})
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	b.get(t, "/tasks/"+lonely.ID).wantStatus(t, http.StatusOK).
		wantContains(t, "No agent is in reach of this queue.", `href="/queues/`+empty.ID+`"`, "There is no agent you can give it to").
		wantNotContains(t, `action="/tasks/`+lonely.ID+`/assign"`, `class="table table-routing"`)

	big := ts.MustCreateTeam(t, "Crowd")
	var last *switchboard.Agent
	for i := range 55 {
		last = ts.MustMachineAgent(t, switchboard.NewAgent{Name: fmt.Sprintf("runner-%02d", i), TeamIDs: []string{big.ID}},
			switchboard.PresenceOffline)
	}
	queue := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Crowded", TeamIDs: []string{big.ID}})
	task := ts.MustCreateTask(t, switchboard.NewTask{QueueID: queue.ID, Title: "Crowded task"})
	page := b.get(t, "/tasks/"+task.ID).wantStatus(t, http.StatusOK)
	page.wantContains(t, "55, 0 eligible", "nobody is eligible", "5 more agents were judged and not listed here",
		`id="f-agent_id"`, "runner-49").wantNotContains(t, "runner-50")
	if n := strings.Count(string(page.body), "<option value=") - 1; n != 50 { // less "Choose an agent"
		t.Errorf("the assign form offers %d agents, want 50", n)
	}
	// An agent beyond the list, by its ID: refused with the reason.
	b.post(t, "/tasks/"+task.ID+"/assign", url.Values{"agent_id": {last.ID}}).wantStatus(t, http.StatusConflict).
		wantContains(t, `id="f-agent_id-error"`, "runner-54 may not take the task: Not available (offline).", `value="`+last.ID+`"`)
}
