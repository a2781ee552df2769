package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestPresenceTimelineAPI: an agent's changes read back as periods, the
// agent itself may read them, and a window out of range is refused with
// the field named.
func TestPresenceTimelineAPI(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		admin := ts.setUp(t)
		token, _ := ts.MustCreateToken(t, admin)
		api := ts.api(token)
		team := ts.MustCreateTeam(t, "Support")
		ann, annToken := ts.MustAgentToken(t, "Ann", team.ID)
		annAPI := ts.api(annToken)
		for _, p := range []string{"available", "away"} {
			annAPI.call(t, "PUT", "/api/v1/agent/presence", map[string]any{"presence": p}).wantStatus(t, http.StatusOK)
		}

		var timeline struct {
			Periods []server.PresencePeriodJSON `json:"periods"`
		}
		annAPI.call(t, "GET", "/api/v1/agents/"+ann.ID+"/presence", nil).wantStatus(t, http.StatusOK).decode(t, &timeline)
		last := timeline.Periods[len(timeline.Periods)-1]
		if last.Presence != "away" || !last.Current || last.Reason != "set by the agent" {
			t.Errorf("timeline %+v, want it to end away", timeline.Periods)
		}
		for i := 1; i < len(timeline.Periods); i++ {
			if !timeline.Periods[i].From.Equal(timeline.Periods[i-1].To) {
				t.Errorf("gap between periods %d and %d: %+v", i-1, i, timeline.Periods)
			}
		}

		for _, since := range []string{time.Now().Add(-40 * 24 * time.Hour).Format(time.RFC3339), time.Now().Add(time.Hour).Format(time.RFC3339)} {
			p := api.call(t, "GET", "/api/v1/agents/"+ann.ID+"/presence?since="+url.QueryEscape(since), nil).
				wantStatus(t, http.StatusUnprocessableEntity).problem(t)
			if len(p.Errors) != 1 || p.Errors[0].Location != "query.since" {
				t.Errorf("since %s: errors %+v, want one at query.since", since, p.Errors)
			}
		}
		api.call(t, "GET", "/api/v1/agents/"+ann.ID+"/presence?since=yesterday", nil).wantStatus(t, http.StatusUnprocessableEntity)
	})
}

// TestSweepReachesStream: a machine agent that stops heartbeating turns
// offline after the TTL, its offer goes to the next agent, and an open
// event stream hears both.
func TestSweepReachesStream(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		at := time.Now().UTC()
		var mu sync.Mutex
		db.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return at }
		ts := newTestServerOn(t, db, serverOptions())
		admin := ts.setUp(t)
		token, _ := ts.MustCreateToken(t, admin)
		team := ts.MustCreateTeam(t, "Support")
		q := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Calls", TeamIDs: []string{team.ID}, OfferTimeout: 10 * time.Minute})
		ann := ts.MustMachineAgent(t, switchboard.NewAgent{Name: "Ann", TeamIDs: []string{team.ID}}, switchboard.PresenceAvailable)
		task := ts.MustCreateTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Call back"})
		mu.Lock()
		at = at.Add(61 * time.Second)
		mu.Unlock()
		bob := ts.MustMachineAgent(t, switchboard.NewAgent{Name: "Bob", TeamIDs: []string{team.ID}}, switchboard.PresenceAvailable)

		live := openStream(t, ts.URL, token, "?types=agent.presence_changed,offer.,task.offered")
		defer live.close()
		if n, err := sqlstore.NewPresenceService(db).SweepPresence(context.Background(), time.Minute, 100); err != nil || n != 1 {
			t.Fatalf("swept %d (%v), want Ann", n, err)
		}
		var got []string
		for len(got) < 3 {
			e := live.next(t).Data
			got = append(got, e.Type+" "+e.Subject.Name)
			switch e.Type {
			case "agent.presence_changed":
				if e.Subject.ID != ann.ID || e.Actor.Type != "system" || e.Data["reason"] != "heartbeat timeout" {
					t.Errorf("presence event %+v", e)
				}
			case "task.offered":
				if e.Subject.ID != task.ID || e.Data["after"].(map[string]any)["agent_id"] != bob.ID {
					t.Errorf("offer event %+v, want the task offered to Bob", e)
				}
			}
		}
		want := "agent.presence_changed Ann, offer.revoked Call back, task.offered Call back"
		if strings.Join(got, ", ") != want {
			t.Errorf("stream: %s\nwant %s", strings.Join(got, ", "), want)
		}
	})
}
