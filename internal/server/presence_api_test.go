package server_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

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
