package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// streamEvent is one Server-Sent Event as a client reads it.
type streamEvent struct {
	id, typ string
	subject string
	arrived time.Time
}

// openEventStream opens GET /api/v1/events as an EventSource does, resuming
// after lastID when it is set, and delivers its events on a channel that is
// closed when the stream ends.
func openEventStream(t *testing.T, baseURL, token, lastID string) (<-chan streamEvent, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/v1/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("event stream: status %d", res.StatusCode)
	}
	out := make(chan streamEvent, 100)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var e streamEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "" && e.id != "":
				e.arrived = time.Now()
				out <- e
				e = streamEvent{}
			case strings.HasPrefix(line, "id: "):
				e.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				e.typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				var data struct {
					Subject struct{ Name string } `json:"subject"`
				}
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &data)
				e.subject = data.Subject.Name
			}
		}
	}()
	t.Cleanup(cancel)
	return out, cancel
}

func nextEvent(t *testing.T, events <-chan streamEvent) streamEvent {
	t.Helper()
	select {
	case e, ok := <-events:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return e
	case <-time.After(15 * time.Second):
		t.Fatal("no event within 15 s")
	}
	return streamEvent{}
}

// TestEventsAcrossInstances runs two server processes on one database: a
// change made through one reaches a stream held open on the other at once
// (woken by PostgreSQL's NOTIFY, by Redis, or by the poll on MariaDB), and
// a client that reconnects to the other process with Last-Event-ID gets
// exactly the events it missed.
func TestEventsAcrossInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	modes := []struct {
		name   string
		engine sqlstore.Engine
		redis  bool
		// within is how soon the event must cross: well under the 5 s
		// safety poll where a push wakes the instances, so that only the
		// push can explain it; the poll itself runs every 250 ms.
		within time.Duration
	}{
		{"postgres-notify", sqlstore.Postgres, false, 2 * time.Second},
		{"postgres-redis", sqlstore.Postgres, true, 2 * time.Second},
		{"mysql-poll", sqlstore.MySQL, false, 2 * time.Second},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			dbURL := sqlstoretest.URL(t, m.engine)
			env := []string{"SWITCHBOARD_DATABASE_URL=" + dbURL}
			if m.redis {
				redisURL := os.Getenv("SWITCHBOARD_TEST_REDIS_URL")
				if redisURL == "" {
					if sqlstoretest.InCI() {
						t.Fatal("CI=true: SWITCHBOARD_TEST_REDIS_URL is not set")
					}
					t.Skip("SWITCHBOARD_TEST_REDIS_URL is not set; set it to a Redis URL to run this test")
				}
				env = append(env, "SWITCHBOARD_REDIS_URL="+redisURL)
			}
			getenv := environ("SWITCHBOARD_DATABASE_URL", dbURL)
			if _, errOut, err := runCmd(t, getenv, testPassword+"\n", "migrate", "up"); err != nil {
				t.Fatalf("migrate: %v\n%s", err, errOut)
			}
			if _, errOut, err := runCmd(t, getenv, testPassword+"\n", "user", "create", "--email", "ops@example.com", "--name", "Ops", "--role", "admin", "--password-stdin"); err != nil {
				t.Fatalf("user create: %v\n%s", err, errOut)
			}
			out, errOut, err := runCmd(t, getenv, "", "token", "create", "--email", "ops@example.com")
			if err != nil {
				t.Fatalf("token create: %v\n%s", err, errOut)
			}
			token := strings.TrimSpace(out)

			a, b := startProcess(t, env...), startProcess(t, env...)
			onB, closeB := openEventStream(t, b.URL, token, "")
			sent := time.Now()
			if s := apiCall(t, "POST", a.URL+"/api/v1/teams", token, `{"name": "Made on A"}`); s != http.StatusCreated {
				t.Fatalf("create team on A: %d", s)
			}
			e := nextEvent(t, onB)
			latency := e.arrived.Sub(sent)
			t.Logf("%s: a change on A reached a stream on B in %v", m.name, latency)
			if e.typ != "team.created" || e.subject != "Made on A" {
				t.Fatalf("B's stream got %s %q, want team.created \"Made on A\"", e.typ, e.subject)
			}
			if latency > m.within {
				t.Errorf("the event crossed in %v, want under %v", latency, m.within)
			}
			closeB()

			// Missed while disconnected, made on both instances.
			var want []string
			for i := range 6 {
				name := fmt.Sprintf("Missed %d", i)
				via := a
				if i%2 == 1 {
					via = b
				}
				if s := apiCall(t, "POST", via.URL+"/api/v1/teams", token, `{"name": "`+name+`"}`); s != http.StatusCreated {
					t.Fatalf("create team: %d", s)
				}
				want = append(want, name)
			}
			onA, _ := openEventStream(t, a.URL, token, e.id)
			var got []string
			for range want {
				got = append(got, nextEvent(t, onA).subject)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("after reconnecting to A: %q, want %q", got, want)
			}
			if s := apiCall(t, "POST", b.URL+"/api/v1/teams", token, `{"name": "Live"}`); s != http.StatusCreated {
				t.Fatalf("create team: %d", s)
			}
			if e := nextEvent(t, onA); e.subject != "Live" {
				t.Fatalf("next event on A: %q, want Live (no duplicate, no gap)", e.subject)
			}
		})
	}
}
