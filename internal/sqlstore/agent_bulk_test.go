package sqlstore_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

func TestAgentService_BulkAgents(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewAgentService(db)
		sup := MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
		red := MustCreateTeam(t, db, "Red", sup)
		blue := MustCreateTeam(t, db, "Blue")
		a1 := MustCreateMachine(t, db, "a1", map[string]int{"billing": 3}, red)
		a2 := MustCreateMachine(t, db, "a2", map[string]int{"billing": 5}, red)
		a3 := MustCreateMachine(t, db, "a3", nil, red)
		b1 := MustCreateMachine(t, db, "b1", nil, blue)
		ids := func(as ...*switchboard.Agent) []string {
			out := make([]string, len(as))
			for i, a := range as {
				out[i] = a.ID
			}
			return out
		}
		status := func(a *switchboard.Agent) switchboard.AgentStatus {
			t.Helper()
			got, err := s.FindAgentByID(systemCtx(), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.Status
		}

		t.Run("OK", func(t *testing.T) {
			res, err := s.BulkAgents(systemCtx(), switchboard.AgentBulk{Action: "suspend", IDs: ids(a1, a2)})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Changed) != 2 || status(a1) != switchboard.AgentSuspended || status(a2) != switchboard.AgentSuspended {
				t.Errorf("got %+v", res)
			}
			entries, err := sqlstore.NewAuditService(db).FindAuditEntries(systemCtx(), switchboard.AuditFilter{TargetID: a1.ID, Action: switchboard.AuditAgentStatusChanged})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries.Items) != 1 {
				t.Errorf("%d audit entries for a1, want 1", len(entries.Items))
			}
		})
		t.Run("ErrAllOrNothing", func(t *testing.T) {
			_, err := s.BulkAgents(systemCtx(), switchboard.AgentBulk{Action: "suspend", IDs: ids(a3, a1)})
			wantCode(t, err, switchboard.ECONFLICT)
			fields := switchboard.ErrorFields(err)
			if len(fields) != 1 || fields[0].Field != "ids[1]" || !strings.Contains(fields[0].Message, "already suspended") {
				t.Errorf("fields %+v", fields)
			}
			if status(a3) != switchboard.AgentActive {
				t.Error("a3 was suspended although the action was refused")
			}
		})
		t.Run("Filter", func(t *testing.T) {
			res, err := s.BulkAgents(systemCtx(), switchboard.AgentBulk{Action: "activate",
				Filter: &switchboard.AgentFilter{Status: switchboard.AgentSuspended, Skill: "billing"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Changed) != 2 || status(a1) != switchboard.AgentActive {
				t.Errorf("got %+v", res)
			}
		})
		t.Run("Teams", func(t *testing.T) {
			res, err := s.BulkAgents(systemCtx(), switchboard.AgentBulk{Action: switchboard.BulkAddToTeam, TeamID: blue.ID, IDs: ids(a1, b1)})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Changed) != 1 || res.Unchanged != 1 {
				t.Errorf("got %+v", res)
			}
			got, _ := s.FindAgentByID(systemCtx(), a1.ID)
			if len(got.Teams) != 2 || got.Teams[0].Name != "Blue" {
				t.Errorf("teams %+v", got.Teams)
			}
			if _, err := s.BulkAgents(systemCtx(), switchboard.AgentBulk{Action: switchboard.BulkRemoveFromTeam, TeamID: blue.ID, IDs: ids(a1)}); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.FindAgentByID(systemCtx(), a1.ID); len(got.Teams) != 1 {
				t.Errorf("teams %+v", got.Teams)
			}
		})
		t.Run("Supervisor", func(t *testing.T) {
			_, err := s.BulkAgents(asUser(sup), switchboard.AgentBulk{Action: "suspend", IDs: ids(a3, b1)})
			wantCode(t, err, switchboard.ECONFLICT)
			if f := switchboard.ErrorFields(err); len(f) != 1 || f[0].Field != "ids[1]" || !strings.Contains(f[0].Message, "in your teams") {
				t.Errorf("fields %+v", f)
			}
			_, err = s.BulkAgents(asUser(sup), switchboard.AgentBulk{Action: switchboard.BulkAddToTeam, TeamID: blue.ID, IDs: ids(a3)})
			wantCode(t, err, switchboard.EFORBIDDEN)
			// A filter reaches only the supervisor's teams.
			res, err := s.BulkAgents(asUser(sup), switchboard.AgentBulk{Action: "retire", Filter: &switchboard.AgentFilter{}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Changed) != 3 || status(b1) != switchboard.AgentActive || status(a3) != switchboard.AgentRetired {
				t.Errorf("got %+v", res)
			}
			_, err = s.BulkAgents(asUser(sup), switchboard.AgentBulk{Action: "retire", IDs: ids(a3)})
			if f := switchboard.ErrorFields(err); len(f) != 1 || !strings.Contains(f[0].Message, "retired") {
				t.Errorf("retiring again: %v", err)
			}
			n, err := s.CountMatchingAgents(asUser(sup), switchboard.AgentFilter{HideRetired: true})
			if err != nil || n != 0 {
				t.Errorf("CountMatchingAgents = %d, %v; want 0", n, err)
			}
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			many := make([]string, switchboard.MaxBulkAgents+1)
			for i := range many {
				many[i] = fmt.Sprintf("00000000-0000-7000-8000-%012d", i)
			}
			for _, b := range []switchboard.AgentBulk{
				{Action: "explode", IDs: ids(a1)},
				{Action: "suspend"},
				{Action: "suspend", IDs: ids(a1), Filter: &switchboard.AgentFilter{}},
				{Action: switchboard.BulkAddToTeam, IDs: ids(a1)},
				{Action: "suspend", IDs: many},
			} {
				_, err := s.BulkAgents(systemCtx(), b)
				wantCode(t, err, switchboard.EINVALID)
			}
		})
	})
}
