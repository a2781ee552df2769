package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

type bulkAnswer struct {
	Action    string `json:"action"`
	Changed   int    `json:"changed"`
	Unchanged int    `json:"unchanged"`
	Agents    []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"agents"`
}

func TestBulkAgentsAPI(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	secret, _ := ts.MustCreateToken(t, admin)
	c := ts.api(secret)
	sup := ts.MustCreateUser(t, "sup@example.com", switchboard.RoleSupervisor)
	supSecret, _ := ts.MustCreateToken(t, sup)
	red := ts.MustCreateTeam(t, "Red", sup.ID)
	blue := ts.MustCreateTeam(t, "Blue")
	machine := func(name string, teams ...string) *switchboard.Agent {
		a, _ := ts.MustCreateAgent(t, switchboard.NewAgent{Name: name, Kind: switchboard.MachineAgent, TeamIDs: teams})
		return a
	}
	r1, r2, r3 := machine("Red 1", red.ID), machine("Red 2", red.ID), machine("Red 3", red.ID)
	b1 := machine("Blue 1", blue.ID)
	statusOf := func(a *switchboard.Agent) switchboard.AgentStatus {
		t.Helper()
		got, err := sqlstore.NewAgentService(ts.db).FindAgentByID(systemCtx(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}

	t.Run("OK", func(t *testing.T) {
		var got bulkAnswer
		c.call(t, http.MethodPost, "/api/v1/agents/bulk", map[string]any{"action": "suspend", "ids": []string{r1.ID, r2.ID}}).
			wantStatus(t, http.StatusOK).decode(t, &got)
		if got.Changed != 2 || len(got.Agents) != 2 || got.Agents[0].Name != "Red 1" {
			t.Errorf("got %+v", got)
		}
		// Audited per agent, as the single action is.
		var audit struct {
			Items []struct {
				Action string `json:"action"`
			} `json:"items"`
		}
		c.call(t, http.MethodGet, "/api/v1/audit?target="+r2.ID, nil).wantStatus(t, http.StatusOK).decode(t, &audit)
		if len(audit.Items) == 0 || audit.Items[0].Action != switchboard.AuditAgentStatusChanged {
			t.Errorf("audit of r2: %+v", audit.Items)
		}
	})
	t.Run("ErrAllOrNothing", func(t *testing.T) {
		res := c.call(t, http.MethodPost, "/api/v1/agents/bulk", map[string]any{"action": "suspend", "ids": []string{r3.ID, r1.ID, r2.ID}})
		p := res.wantStatus(t, http.StatusConflict).problem(t)
		if len(p.Errors) != 2 || p.Errors[0].Location != "body.ids[1]" || p.Errors[1].Location != "body.ids[2]" ||
			!strings.Contains(p.Errors[0].Message, "Red 1") || !strings.Contains(p.Errors[0].Message, "already suspended") {
			t.Errorf("problem %+v", p.Errors)
		}
		if statusOf(r3) != switchboard.AgentActive {
			t.Error("r3 was suspended although the request was refused")
		}
	})
	t.Run("Filter", func(t *testing.T) {
		var got bulkAnswer
		c.call(t, http.MethodPost, "/api/v1/agents/bulk", map[string]any{"action": "activate", "filter": map[string]any{"status": "suspended", "team": red.ID}}).
			wantStatus(t, http.StatusOK).decode(t, &got)
		if got.Changed != 2 || statusOf(r1) != switchboard.AgentActive {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("Teams", func(t *testing.T) {
		var got bulkAnswer
		c.call(t, http.MethodPost, "/api/v1/agents/bulk", map[string]any{"action": "add_to_team", "team_id": blue.ID, "ids": []string{r1.ID, b1.ID}}).
			wantStatus(t, http.StatusOK).decode(t, &got)
		if got.Changed != 1 || got.Unchanged != 1 {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("Supervisor", func(t *testing.T) {
		sc := ts.api(supSecret)
		p := sc.call(t, http.MethodPost, "/api/v1/agents/bulk", map[string]any{"action": "suspend", "ids": []string{r3.ID, b1.ID}}).
			wantStatus(t, http.StatusConflict).problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Location != "body.ids[1]" || !strings.Contains(p.Errors[0].Message, "no such agent in your teams") {
			t.Errorf("problem %+v", p.Errors)
		}
		sc.call(t, http.MethodPost, "/api/v1/agents/bulk", map[string]any{"action": "add_to_team", "team_id": blue.ID, "ids": []string{r3.ID}}).
			wantStatus(t, http.StatusForbidden)
		var got bulkAnswer
		sc.call(t, http.MethodPost, "/api/v1/agents/bulk", map[string]any{"action": "suspend", "filter": map[string]any{"q": "3"}}).
			wantStatus(t, http.StatusOK).decode(t, &got)
		if got.Changed != 1 || statusOf(r3) != switchboard.AgentSuspended || statusOf(b1) != switchboard.AgentActive {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"action": "explode", "ids": []string{r1.ID}},
			{"action": "suspend"},
			{"action": "suspend", "ids": []string{r1.ID}, "filter": map[string]any{}},
			{"action": "add_to_team", "ids": []string{r1.ID}},
			{"action": "suspend", "ids": []string{"not-an-id"}},
		} {
			c.call(t, http.MethodPost, "/api/v1/agents/bulk", body).wantStatus(t, http.StatusUnprocessableEntity)
		}
	})
}
