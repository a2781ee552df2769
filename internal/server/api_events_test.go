package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// sseEvent is one Server-Sent Event as a client receives it.
type sseEvent struct {
	ID, Type string
	Data     server.EventJSON
}

// sseStream is an open GET /api/v1/events stream.
type sseStream struct {
	res    *http.Response
	events chan sseEvent
	cancel context.CancelFunc
}

// openStream opens an event stream with a bearer token and extra headers.
func openStream(tb testing.TB, baseURL, token, query string, headers ...string) *sseStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/v1/events"+query, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		tb.Fatalf("stream: status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &sseStream{res: res, events: make(chan sseEvent, 100), cancel: cancel}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e.ID != "" {
					s.events <- e
				}
				e = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				e.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				e.Type = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e.Data); err != nil {
					tb.Errorf("event data %q: %v", line, err)
				}
			}
		}
	}()
	tb.Cleanup(s.close)
	return s
}

func (s *sseStream) close() { s.cancel(); s.res.Body.Close() }

// next returns the next event, failing the test if none comes in time.
func (s *sseStream) next(tb testing.TB) sseEvent {
	tb.Helper()
	select {
	case e, ok := <-s.events:
		if !ok {
			tb.Fatal("the stream ended")
		}
		return e
	case <-time.After(10 * time.Second):
		tb.Fatal("no event within 10 s")
	}
	return sseEvent{}
}

// wantEnded fails unless the server ends the stream.
func (s *sseStream) wantEnded(tb testing.TB) {
	tb.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				return
			}
			_ = e
		case <-timeout:
			tb.Fatal("the stream did not end")
		}
	}
}

func TestEventsAPI_Page(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	token, _ := ts.MustCreateToken(t, admin)
	team := ts.MustCreateTeam(t, "Billing")
	ts.MustCreateAgent(t, switchboard.NewAgent{Name: "Bot", Kind: "machine", TeamIDs: []string{team.ID}})
	api := ts.api(token)

	var page server.EventPageJSON
	api.call(t, "GET", "/api/v1/events", nil).wantStatus(t, http.StatusOK).decode(t, &page)
	var types []string
	for _, e := range page.Items {
		types = append(types, e.Type)
	}
	if want := "setup.completed token.created team.created agent.created"; strings.Join(types, " ") != want {
		t.Errorf("events = %q, want %q", types, want)
	}
	last := page.Items[len(page.Items)-1]
	if last.Subject.Name != "Bot" || last.Data["after"] == nil || page.NextCursor != strconv.FormatInt(last.Position, 10) {
		t.Errorf("last event %+v, next %q", last, page.NextCursor)
	}

	api.call(t, "GET", "/api/v1/events?types=team.,agent.created&limit=1", nil).wantStatus(t, http.StatusOK).decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Type != "team.created" {
		t.Fatalf("filtered page = %+v", page.Items)
	}
	api.call(t, "GET", "/api/v1/events?types=team.,agent.created&cursor="+page.NextCursor, nil).wantStatus(t, http.StatusOK).decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Type != "agent.created" {
		t.Fatalf("next filtered page = %+v", page.Items)
	}
	api.call(t, "GET", "/api/v1/events?after="+page.NextCursor, nil).wantStatus(t, http.StatusOK).decode(t, &page)
	if len(page.Items) != 0 || page.NextCursor != strconv.FormatInt(last.Position, 10) {
		t.Errorf("caught-up page = %+v, next %q; want none, next %d", page.Items, page.NextCursor, last.Position)
	}

	p := api.call(t, "GET", "/api/v1/events?types=agent.created;DROP", nil).wantStatus(t, http.StatusUnprocessableEntity).problem(t)
	if len(p.Errors) != 1 || p.Errors[0].Location != "query.types" {
		t.Errorf("bad types: %+v, want an error at query.types", p.Errors)
	}
	api.call(t, "GET", "/api/v1/events?cursor=abc", nil).wantStatus(t, http.StatusUnprocessableEntity)
	ts.api("").call(t, "GET", "/api/v1/events", nil).wantStatus(t, http.StatusUnauthorized)
}

// TestEventsAPI_StreamResume: a client that reconnects with Last-Event-ID
// gets exactly the events it missed, then the new ones.
func TestEventsAPI_StreamResume(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	token, _ := ts.MustCreateToken(t, admin)

	live := openStream(t, ts.URL, token, "")
	ts.MustCreateTeam(t, "One")
	first := live.next(t)
	if first.Type != "team.created" || first.Data.Subject.Name != "One" || first.ID != strconv.FormatInt(first.Data.Position, 10) {
		t.Fatalf("first event = %+v", first)
	}
	live.close()

	for _, name := range []string{"Two", "Three", "Four"} {
		ts.MustCreateTeam(t, name)
	}
	again := openStream(t, ts.URL, token, "", "Last-Event-ID", first.ID)
	var got []string
	for range 3 {
		got = append(got, again.next(t).Data.Subject.Name)
	}
	if strings.Join(got, " ") != "Two Three Four" {
		t.Fatalf("after reconnecting: %q, want Two Three Four", got)
	}
	ts.MustCreateTeam(t, "Five")
	if e := again.next(t); e.Data.Subject.Name != "Five" {
		t.Fatalf("live after catching up: %+v, want Five", e)
	}
}

// TestEventsAPI_StreamScope: a supervisor's stream carries their teams'
// events only, and a stream ends with the token it was opened with.
func TestEventsAPI_StreamScope(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	supA := ts.MustCreateUser(t, "a@example.com", switchboard.RoleSupervisor)
	teamA := ts.MustCreateTeam(t, "A", supA.ID)
	teamB := ts.MustCreateTeam(t, "B")
	token, tok := ts.MustCreateToken(t, supA)

	stream := openStream(t, ts.URL, token, "")
	ts.MustCreateAgent(t, switchboard.NewAgent{Name: "Not yours", Kind: "machine", TeamIDs: []string{teamB.ID}})
	ts.MustCreateAgent(t, switchboard.NewAgent{Name: "Yours", Kind: "machine", TeamIDs: []string{teamA.ID}})
	if e := stream.next(t); e.Data.Subject.Name != "Yours" {
		t.Fatalf("supervisor's stream got %q first, want Yours", e.Data.Subject.Name)
	}
	if err := sqlstore.NewTokenService(ts.db).RevokeToken(systemCtx(), tok.ID); err != nil {
		t.Fatal(err)
	}
	stream.wantEnded(t)
}
