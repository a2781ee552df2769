package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestHeartbeatTTL, for real, with a 2 s TTL: a machine agent that
// heartbeats stays available; once it stops, the sweeper takes it offline
// within the TTL and a tick or two, and an open stream hears of it.
func TestHeartbeatTTL(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the heartbeat TTL")
	}
	getenv := environ("SWITCHBOARD_DATABASE_URL", sqlstoretest.URL(t, sqlstore.SQLite), "SWITCHBOARD_HEARTBEAT_TTL", "2s")
	base, _ := startServer(t, getenv)
	admin := createAdmin(t, getenv)
	var agent struct{ ID string }
	decodeCall(t, "POST", base+"/api/v1/agents", admin, `{"name": "Runner", "kind": "machine"}`, &agent)
	var tok struct{ Token string }
	decodeCall(t, "POST", base+"/api/v1/agents/"+agent.ID+"/tokens", admin, `{"name": "runner"}`, &tok)

	presence := func() string {
		var a struct{ Presence string }
		decodeCall(t, "GET", base+"/api/v1/agents/"+agent.ID, admin, "", &a)
		return a.Presence
	}
	beat := func(body string) {
		if s := apiCall(t, "POST", base+"/api/v1/agent/heartbeat", tok.Token, body); s != http.StatusNoContent {
			t.Fatalf("heartbeat: %d", s)
		}
	}
	beat(`{"presence": "available", "metadata": {"version": "1.0"}}`)
	// Heartbeating every half second for twice the TTL keeps it present.
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		beat("")
		if p := presence(); p != "available" {
			t.Fatalf("presence %s while heartbeating", p)
		}
	}
	stream, closeStream := openEventStream(t, base, admin, "")
	defer closeStream()
	stopped := time.Now()
	for presence() != "offline" {
		if time.Since(stopped) > 6*time.Second {
			t.Fatalf("still %s %v after the last heartbeat", presence(), time.Since(stopped))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("offline %v after the last heartbeat (TTL 2s)", time.Since(stopped).Round(10*time.Millisecond))
	for {
		e := nextEvent(t, stream)
		if e.typ == "agent.presence_changed" {
			break
		}
	}
}
