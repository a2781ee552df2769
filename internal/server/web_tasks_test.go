package server_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
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
			`href="/queues/`+queue.ID+`"`, "History", "<td>created</td>")

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
			`<td class="num">70</td>`, `href="/queues/`+queue.ID+`">Invoices</a>`, "Another", "Low one")
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
			"routed by longest_idle", "offer accepted", "<td>completed</td>", `<span class="muted small">agent</span>`)
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
