package server_test

import (
	"context"
	"fmt"
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

// A heartbeat's body skips the API layer's validation against the schema
// and is checked by its handler: the answers are still those of the
// schema, as every other operation gives them, and nothing is noted.
func TestHeartbeatAPI_RefusesAsTheSchemaWould(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team := ts.MustCreateTeam(t, "Runners")
	robot, robotToken := ts.MustAgentToken(t, "Runner 1", team.ID)
	api := ts.api(robotToken)
	for _, tc := range []struct {
		name, body     string
		status         int
		detail         string
		location, text string // of the one error
	}{
		{"UnknownField", `{"metadata":{"a":1},"presence":"away","x":[1]}`, http.StatusBadRequest,
			"The request has fields this operation does not accept: body.x.", "body.x", "unexpected property"},
		{"MetadataNotAnObject", `{"metadata":5}`, http.StatusUnprocessableEntity, "body.metadata: expected object.", "body.metadata", "expected object"},
		{"PresenceNotText", `{"presence":5}`, http.StatusUnprocessableEntity, "body.presence: expected string.", "body.presence", "expected string"},
		{"PresenceUnknown", `{"presence":"busy"}`, http.StatusUnprocessableEntity,
			`body.presence: expected value to be one of "available, away, offline".`, "body.presence", `expected value to be one of "available, away, offline"`},
		{"NotAnObject", `[1]`, http.StatusUnprocessableEntity, "body: expected object.", "body", "expected object"},
		{"EmptyKey", `{"metadata":{"":1}}`, http.StatusUnprocessableEntity, "Keys must not be empty.", "body.metadata", "Keys must not be empty."},
		{"TooDeep", `{"metadata":` + strings.Repeat(`{"a":`, 17) + "1" + strings.Repeat("}", 18), http.StatusUnprocessableEntity,
			"Objects and arrays may nest at most 16 levels deep.", "body.metadata", "Objects and arrays may nest at most 16 levels deep."},
		{"TooMuchMetadata", `{"metadata":{"blob":"` + strings.Repeat("x", 5000) + `"}}`, http.StatusUnprocessableEntity,
			"Must be at most 4096 bytes of JSON; this is 5011.", "body.metadata", "Must be at most 4096 bytes of JSON; this is 5011."},
		{"TrailingData", `{"metadata":{"a":1}} x`, http.StatusBadRequest, "validation failed", "body", "the request body has data after its JSON value"},
		{"Malformed", `{"metadata":`, http.StatusBadRequest, "validation failed", "body", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := api.call(t, http.MethodPost, "/api/v1/agent/heartbeat", tc.body).wantStatus(t, tc.status).problem(t)
			if p.Detail != tc.detail || len(p.Errors) != 1 || p.Errors[0].Location != tc.location || !strings.Contains(p.Errors[0].Message, tc.text) {
				t.Errorf("problem %q %+v, want %q with %s: %q", p.Detail, p.Errors, tc.detail, tc.location, tc.text)
			}
		})
	}
	ts.flushHeartbeats(t)
	if a := ts.agent(t, robot.ID); a.LastSeenAt == nil || len(a.Metadata) != 0 || a.Presence != switchboard.PresenceOffline {
		t.Errorf("after refused heartbeats: last seen %v (the calls count), metadata %v, presence %s", a.LastSeenAt, a.Metadata, a.Presence)
	}

	// Metadata is stored as sent, without its spaces; null is no body.
	api.call(t, http.MethodPost, "/api/v1/agent/heartbeat", "{ \"metadata\" : { \"load\" : 0.40,\n \"tags\": [ \"a b\" ] } }").wantStatus(t, http.StatusNoContent)
	api.call(t, http.MethodPost, "/api/v1/agent/heartbeat", `null`).wantStatus(t, http.StatusNoContent)
	ts.flushHeartbeats(t)
	if a := ts.agent(t, robot.ID); fmt.Sprint(a.Metadata) != "map[load:0.40 tags:[a b]]" {
		t.Errorf("metadata %v", a.Metadata)
	}
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
