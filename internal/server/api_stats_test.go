package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

func TestStatsAPI(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	token, _ := ts.MustCreateToken(t, admin)
	sup := ts.MustCreateUser(t, "sup@example.com", switchboard.RoleSupervisor)
	supToken, _ := ts.MustCreateToken(t, sup)
	mine := ts.MustCreateTeam(t, "Mine", sup.ID)
	other := ts.MustCreateTeam(t, "Other")
	billing := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Billing", TeamIDs: []string{mine.ID}, SLATarget: 5 * time.Minute})
	theirs := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Theirs", TeamIDs: []string{other.ID}})
	ts.MustMachineAgent(t, switchboard.NewAgent{Name: "Ada", TeamIDs: []string{mine.ID}}, switchboard.PresenceAvailable)
	api, supAPI := ts.api(token), ts.api(supToken)
	for _, title := range []string{"One", "Two"} {
		api.call(t, "POST", "/api/v1/tasks", map[string]any{"queue": billing.ID, "title": title}).wantStatus(t, http.StatusCreated)
	}
	api.call(t, "POST", "/api/v1/tasks", map[string]any{"queue": theirs.ID, "title": "Three"}).wantStatus(t, http.StatusCreated)

	var st server.StatsJSON
	api.call(t, "GET", "/api/v1/stats", nil).wantStatus(t, http.StatusOK).decode(t, &st)
	if len(st.Queues) != 2 || st.Totals.CreatedToday != 3 || st.Totals.Assigned != 1 || st.Totals.Queued != 2 || st.Totals.Depth != 2 {
		t.Errorf("admin's totals = %+v over %d queues, want 3 created, 1 assigned, 2 queued", st.Totals, len(st.Queues))
	}
	if st.Agents.Busy != 1 || st.Agents.Available != 0 || st.Utilisation.Load != 1 || len(st.Utilisation.Busiest) != 1 {
		t.Errorf("Ada at capacity: agents %+v, utilisation %+v", st.Agents, st.Utilisation)
	}
	if len(st.Series) != switchboard.StatsSeriesLength || st.Series[len(st.Series)-1].Created != 3 || len(st.Recent) == 0 {
		t.Errorf("series %d points, this hour %+v, %d recent events", len(st.Series), st.Series[len(st.Series)-1], len(st.Recent))
	}

	supAPI.call(t, "GET", "/api/v1/stats", nil).wantStatus(t, http.StatusOK).decode(t, &st)
	if len(st.Queues) != 1 || st.Queues[0].QueueName != "Billing" || st.Queues[0].SLATargetSeconds != 300 || st.Totals.CreatedToday != 2 {
		t.Errorf("the supervisor's queues = %+v", st.Queues)
	}
	supAPI.call(t, "GET", "/api/v1/queues/"+billing.ID+"/stats", nil).wantStatus(t, http.StatusOK).decode(t, &st)
	if len(st.Queues) != 1 || st.Queues[0].Queued != 1 || st.Queues[0].Assigned != 1 || len(st.Recent) != 0 {
		t.Errorf("Billing's figures = %+v, recent %d", st.Queues, len(st.Recent))
	}
	supAPI.call(t, "GET", "/api/v1/queues/"+theirs.ID+"/stats", nil).wantStatus(t, http.StatusNotFound).problem(t)
	api.call(t, "GET", "/api/v1/queues/0190a5c2-7b1e-7c3d-9f00-1234567890ab/stats", nil).wantStatus(t, http.StatusNotFound).problem(t)
}
