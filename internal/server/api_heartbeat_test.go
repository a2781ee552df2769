package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

func TestHeartbeatAPI(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	token, _ := ts.MustCreateToken(t, admin)
	team := ts.MustCreateTeam(t, "Runners")
	robot, robotToken := ts.MustAgentToken(t, "Runner 1", team.ID)
	api := ts.api(robotToken)

	api.call(t, "POST", "/api/v1/agent/heartbeat", map[string]any{"metadata": map[string]any{"version": "2.4.1", "hostname": "runner-1"}}).
		wantStatus(t, http.StatusNoContent)
	ts.flushHeartbeats(t)
	a := ts.agent(t, robot.ID)
	if a.LastSeenAt == nil || a.Metadata["hostname"] != "runner-1" || a.Presence != switchboard.PresenceOffline {
		t.Fatalf("after a heartbeat: last seen %v, metadata %v, presence %s", a.LastSeenAt, a.Metadata, a.Presence)
	}
	seen := *a.LastSeenAt

	// No body at all is a heartbeat too; the metadata stays.
	api.call(t, "POST", "/api/v1/agent/heartbeat", nil).wantStatus(t, http.StatusNoContent)
	// Announcing a presence writes it at once, without waiting for a flush.
	api.call(t, "POST", "/api/v1/agent/heartbeat", map[string]any{"presence": "available"}).wantStatus(t, http.StatusNoContent)
	if a := ts.agent(t, robot.ID); a.Presence != switchboard.PresenceAvailable {
		t.Fatalf("presence %s after announcing available", a.Presence)
	}
	ts.flushHeartbeats(t)
	if a := ts.agent(t, robot.ID); !a.LastSeenAt.After(seen) || a.Metadata["version"] != "2.4.1" {
		t.Fatalf("after more heartbeats: last seen %v (was %v), metadata %v", a.LastSeenAt, seen, a.Metadata)
	}

	// Bad input is refused with the field.
	p := api.call(t, "POST", "/api/v1/agent/heartbeat", map[string]any{"metadata": map[string]any{"blob": strings.Repeat("x", 5000)}}).
		wantStatus(t, http.StatusUnprocessableEntity).problem(t)
	if len(p.Errors) != 1 || p.Errors[0].Location != "body.metadata" {
		t.Errorf("too much metadata: %+v", p.Errors)
	}
	api.call(t, "POST", "/api/v1/agent/heartbeat", map[string]any{"presence": "busy"}).wantStatus(t, http.StatusUnprocessableEntity)
	// Users without an agent have no heartbeat.
	ts.api(token).call(t, "POST", "/api/v1/agent/heartbeat", nil).wantStatus(t, http.StatusForbidden)

	// A suspended agent may heartbeat but not become available.
	if _, err := sqlstore.NewAgentService(ts.db).SetAgentStatus(systemCtx(), robot.ID, switchboard.AgentSuspended, 0); err != nil {
		t.Fatal(err)
	}
	api.call(t, "POST", "/api/v1/agent/heartbeat", map[string]any{"presence": "available"}).wantStatus(t, http.StatusConflict)
	api.call(t, "POST", "/api/v1/agent/heartbeat", nil).wantStatus(t, http.StatusNoContent)
}

// Every call of an agent's token is a sign of life.
func TestHeartbeat_AnyCallCounts(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team := ts.MustCreateTeam(t, "Runners")
	robot, robotToken := ts.MustAgentToken(t, "Runner 1", team.ID)
	ts.api(robotToken).call(t, "GET", "/api/v1/me", nil).wantStatus(t, http.StatusOK)
	ts.flushHeartbeats(t)
	if a := ts.agent(t, robot.ID); a.LastSeenAt == nil {
		t.Fatal("a call of the agent was not a sign of life")
	}
}

// flushHeartbeats writes the buffered heartbeats now.
func (ts *testServer) flushHeartbeats(tb testing.TB) {
	tb.Helper()
	if err := ts.beats.Flush(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

func (ts *testServer) agent(tb testing.TB, id string) *switchboard.Agent {
	tb.Helper()
	a, err := sqlstore.NewAgentService(ts.db).FindAgentByID(systemCtx(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
