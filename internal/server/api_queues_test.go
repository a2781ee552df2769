package server_test

import (
	"net/http"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

func TestQueuesAPI(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	token, _ := ts.MustCreateToken(t, admin)
	sup := ts.MustCreateUser(t, "sup@example.com", switchboard.RoleSupervisor)
	supToken, _ := ts.MustCreateToken(t, sup)
	mine := ts.MustCreateTeam(t, "Mine", sup.ID)
	other := ts.MustCreateTeam(t, "Other")
	api, supAPI := ts.api(token), ts.api(supToken)

	var q server.QueueJSON
	res := supAPI.call(t, "POST", "/api/v1/queues", map[string]any{
		"name": "Billing", "team_ids": []string{mine.ID}, "required_skills": map[string]int{"billing": 3},
		"offer_timeout_seconds": 5, "sla_target_seconds": 120,
	}).wantStatus(t, http.StatusCreated)
	res.decode(t, &q)
	if q.Strategy != "longest_idle" || q.MaxOffers != 3 || q.OfferTimeoutSeconds != 5 || len(q.Teams) != 1 || q.Teams[0].Name != "Mine" {
		t.Errorf("created queue = %+v", q)
	}
	if res.Header.Get("Location") != "/api/v1/queues/"+q.ID || res.Header.Get("ETag") != `"1"` {
		t.Errorf("Location %q, ETag %q", res.Header.Get("Location"), res.Header.Get("ETag"))
	}

	p := supAPI.call(t, "POST", "/api/v1/queues", map[string]any{"name": "Theirs", "team_ids": []string{other.ID}}).
		wantStatus(t, http.StatusForbidden).problem(t)
	if len(p.Errors) != 1 || p.Errors[0].Location != "body.team_ids" {
		t.Errorf("supervisor routing to another team: %+v", p)
	}
	p = api.call(t, "POST", "/api/v1/queues", map[string]any{"name": "", "strategy": "fastest", "max_offers": 500}).
		wantStatus(t, http.StatusUnprocessableEntity).problem(t)
	if len(p.Errors) < 2 {
		t.Errorf("invalid queue: %+v, want every field at fault", p.Errors)
	}
	api.call(t, "POST", "/api/v1/queues", map[string]any{"name": "billing"}).wantStatus(t, http.StatusConflict)

	supAPI.call(t, "PATCH", "/api/v1/queues/"+q.ID, map[string]any{"strategy": "round_robin"}, "If-Match", `"1"`).
		wantStatus(t, http.StatusOK).decode(t, &q)
	if q.Strategy != "round_robin" {
		t.Errorf("strategy after PATCH = %q", q.Strategy)
	}
	supAPI.call(t, "PATCH", "/api/v1/queues/"+q.ID, map[string]any{"max_offers": 2}, "If-Match", `"1"`).
		wantStatus(t, http.StatusPreconditionFailed)
	supAPI.call(t, "GET", "/api/v1/queues/"+q.ID, nil).wantStatus(t, http.StatusOK).wantContains(t, `"round_robin"`)

	var list server.ListBody[server.QueueJSON]
	api.call(t, "GET", "/api/v1/queues?q=bill", nil).wantStatus(t, http.StatusOK).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != q.ID {
		t.Errorf("search: %+v", list.Items)
	}
	supAPI.call(t, "DELETE", "/api/v1/queues/"+q.ID, nil).wantStatus(t, http.StatusForbidden)
	api.call(t, "DELETE", "/api/v1/queues/"+q.ID, nil).wantStatus(t, http.StatusNoContent)
	api.call(t, "GET", "/api/v1/queues/"+q.ID, nil).wantStatus(t, http.StatusNotFound)
}
