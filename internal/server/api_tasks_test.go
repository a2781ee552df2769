package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// MustAgentToken creates an active machine agent in team and returns its
// token.
func (ts *testServer) MustAgentToken(tb testing.TB, name string, teamID string) (*switchboard.Agent, string) {
	tb.Helper()
	a, _ := ts.MustCreateAgent(tb, switchboard.NewAgent{Name: name, Kind: "machine", TeamIDs: []string{teamID}})
	_, secret, err := sqlstore.NewAgentService(ts.db).CreateAgentToken(systemCtx(), a.ID, switchboard.NewToken{Name: "test"})
	if err != nil {
		tb.Fatal(err)
	}
	return a, secret
}

func TestTasksAPI(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	token, _ := ts.MustCreateToken(t, admin)
	team := ts.MustCreateTeam(t, "Support")
	api := ts.api(token)
	var q server.QueueJSON
	api.call(t, "POST", "/api/v1/queues", map[string]any{"name": "Support", "team_ids": []string{team.ID}}).
		wantStatus(t, http.StatusCreated).decode(t, &q)

	ann, annToken := ts.MustAgentToken(t, "Ann", team.ID)
	annAPI := ts.api(annToken)
	annAPI.call(t, "PUT", "/api/v1/agent/presence", map[string]any{"presence": "available"}).
		wantStatus(t, http.StatusOK).wantContains(t, `"presence":"available"`)
	api.call(t, "PUT", "/api/v1/agent/presence", map[string]any{"presence": "available"}).wantStatus(t, http.StatusForbidden)

	body := map[string]any{"queue": q.ID, "title": "Call back", "priority": 50, "external_ref": "T-9"}
	var task server.TaskJSON
	res := api.call(t, "POST", "/api/v1/tasks", body, "Idempotency-Key", "abc").wantStatus(t, http.StatusCreated)
	res.decode(t, &task)
	if task.Status != "assigned" || task.Agent == nil || task.Agent.ID != ann.ID || task.Queue.Name != "Support" {
		t.Fatalf("created task = %+v", task)
	}
	var again server.TaskJSON
	api.call(t, "POST", "/api/v1/tasks", body, "Idempotency-Key", "abc").wantStatus(t, http.StatusOK).decode(t, &again)
	if again.ID != task.ID {
		t.Errorf("replay made task %s, want %s", again.ID, task.ID)
	}
	body["title"] = "Something else"
	api.call(t, "POST", "/api/v1/tasks", body, "Idempotency-Key", "abc").wantStatus(t, http.StatusConflict)
	api.call(t, "POST", "/api/v1/tasks", map[string]any{"queue": "01a23217-1892-7356-a539-8ee53356ec51", "title": "x"}).wantStatus(t, http.StatusNotFound)
	// IDs that name nothing are refused before any engine sees them.
	api.call(t, "POST", "/api/v1/tasks", map[string]any{"queue": "é", "title": "x"}).wantStatus(t, http.StatusUnprocessableEntity)
	api.call(t, "GET", "/api/v1/tasks?queue=%C3%A9", nil).wantStatus(t, http.StatusUnprocessableEntity)
	api.call(t, "GET", "/api/v1/queues?team=%C3%A9", nil).wantStatus(t, http.StatusUnprocessableEntity)
	api.call(t, "POST", "/api/v1/queues", map[string]any{"name": "Odd", "team_ids": []string{"é"}}).wantStatus(t, http.StatusUnprocessableEntity)
	p := api.call(t, "POST", "/api/v1/tasks", map[string]any{"queue": q.ID, "title": "", "priority": 101}).
		wantStatus(t, http.StatusUnprocessableEntity).problem(t)
	if len(p.Errors) != 2 {
		t.Errorf("invalid task: %+v, want title and priority", p.Errors)
	}

	var detail server.TaskJSON
	annAPI.call(t, "GET", "/api/v1/tasks/"+task.ID, nil).wantStatus(t, http.StatusOK).decode(t, &detail)
	if len(detail.History) != 2 || detail.History[0].To != "queued" || detail.History[1].To != "assigned" {
		t.Errorf("history = %+v", detail.History)
	}
	var list server.ListBody[server.TaskJSON]
	annAPI.call(t, "GET", "/api/v1/tasks?status=assigned", nil).wantStatus(t, http.StatusOK).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != task.ID {
		t.Errorf("Ann's tasks = %+v", list.Items)
	}
	_, bobToken := ts.MustAgentToken(t, "Bob", team.ID)
	var why server.RoutingJSON
	api.call(t, "GET", "/api/v1/tasks/"+task.ID+"/routing", nil).wantStatus(t, http.StatusOK).decode(t, &why)
	reasons := map[string]string{}
	for _, c := range why.Candidates {
		reasons[c.Agent.Name] = c.Reasons[0].Code
	}
	if reasons["Ann"] != "at_capacity" || reasons["Bob"] != "not_available" || why.Strategy != "longest_idle" {
		t.Errorf("routing explained: %v (%s)", reasons, why.Strategy)
	}
	ts.api(bobToken).call(t, "GET", "/api/v1/tasks/"+task.ID, nil).wantStatus(t, http.StatusNotFound)
	ts.api(bobToken).call(t, "POST", "/api/v1/tasks", map[string]any{"queue": q.ID, "title": "x"}).wantStatus(t, http.StatusForbidden)
}

func TestOffersAPI(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	token, _ := ts.MustCreateToken(t, admin)
	team := ts.MustCreateTeam(t, "Support")
	api := ts.api(token)
	var q server.QueueJSON
	api.call(t, "POST", "/api/v1/queues", map[string]any{"name": "Offers", "offer_timeout_seconds": 30}).
		wantStatus(t, http.StatusCreated).decode(t, &q)
	clients := map[string]*apiClient{}
	for _, name := range []string{"Ann", "Bob"} {
		a, secret := ts.MustAgentToken(t, name, team.ID)
		clients[a.ID] = ts.api(secret)
		clients[a.ID].call(t, "PUT", "/api/v1/agent/presence", map[string]any{"presence": "available"}).wantStatus(t, http.StatusOK)
	}
	var task server.TaskJSON
	api.call(t, "POST", "/api/v1/tasks", map[string]any{"queue": q.ID, "title": "Call back"}).wantStatus(t, http.StatusCreated).decode(t, &task)
	if task.Status != "offered" || task.Agent == nil {
		t.Fatalf("task = %+v, want offered", task)
	}
	first := clients[task.Agent.ID]
	var offers struct{ Items []server.OfferJSON }
	first.call(t, "GET", "/api/v1/agent/offers", nil).wantStatus(t, http.StatusOK).decode(t, &offers)
	if len(offers.Items) != 1 || offers.Items[0].Task.ID != task.ID || offers.Items[0].Queue.Name != "Offers" {
		t.Fatalf("offers = %+v", offers.Items)
	}
	api.call(t, "POST", "/api/v1/offers/"+offers.Items[0].ID+"/accept", nil).wantStatus(t, http.StatusForbidden)
	first.call(t, "POST", "/api/v1/offers/"+offers.Items[0].ID+"/reject", nil).wantStatus(t, http.StatusOK).decode(t, &task)
	if task.Status != "offered" || clients[task.Agent.ID] == first {
		t.Fatalf("after rejecting: %+v, want offered to the other agent", task)
	}
	first.call(t, "POST", "/api/v1/offers/"+offers.Items[0].ID+"/accept", nil).wantStatus(t, http.StatusConflict)
	second := clients[task.Agent.ID]
	second.call(t, "GET", "/api/v1/agent/offers", nil).wantStatus(t, http.StatusOK).decode(t, &offers)
	second.call(t, "POST", "/api/v1/offers/"+offers.Items[0].ID+"/accept", nil).wantStatus(t, http.StatusOK).decode(t, &task)
	if task.Status != "assigned" {
		t.Fatalf("after accepting: %s", task.Status)
	}
	first.call(t, "POST", "/api/v1/tasks/"+task.ID+"/complete", map[string]any{"outcome": "x"}).wantStatus(t, http.StatusNotFound)
	second.call(t, "POST", "/api/v1/tasks/"+task.ID+"/complete", map[string]any{"outcome": "done"}).wantStatus(t, http.StatusOK).decode(t, &task)
	if task.Status != "completed" || task.Outcome != "done" {
		t.Fatalf("after completing: %+v", task)
	}
	second.call(t, "POST", "/api/v1/tasks/"+task.ID+"/complete", nil).wantStatus(t, http.StatusConflict)
}

// TestMyTasksAPI_LongPoll: an agent waiting for work gets it as soon as it
// is routed, woken by the event stream, not at the deadline.
func TestMyTasksAPI_LongPoll(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	token, _ := ts.MustCreateToken(t, admin)
	team := ts.MustCreateTeam(t, "Support")
	api := ts.api(token)
	var q server.QueueJSON
	api.call(t, "POST", "/api/v1/queues", map[string]any{"name": "Support"}).wantStatus(t, http.StatusCreated).decode(t, &q)
	_, secret := ts.MustAgentToken(t, "Ann", team.ID)
	ann := ts.api(secret)
	ann.call(t, "PUT", "/api/v1/agent/presence", map[string]any{"presence": "available"}).wantStatus(t, http.StatusOK)
	ann.call(t, "GET", "/api/v1/agent/tasks?wait=2m", nil).wantStatus(t, http.StatusUnprocessableEntity)

	type answer struct {
		items []server.TaskJSON
		took  time.Duration
	}
	done := make(chan answer, 1)
	go func() {
		start := time.Now()
		var body struct{ Items []server.TaskJSON }
		ann.call(t, "GET", "/api/v1/agent/tasks?wait=50s", nil).wantStatus(t, http.StatusOK).decode(t, &body)
		done <- answer{body.Items, time.Since(start)}
	}()
	time.Sleep(200 * time.Millisecond) // let the agent start waiting
	api.call(t, "POST", "/api/v1/tasks", map[string]any{"queue": q.ID, "title": "Wake up"}).wantStatus(t, http.StatusCreated)
	select {
	case got := <-done:
		if len(got.items) != 1 || got.items[0].Title != "Wake up" {
			t.Fatalf("long poll answered %+v", got.items)
		}
		t.Logf("work reached the waiting agent in %v", got.took)
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting agent was not woken by the new task")
	}
}
