package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

type inboxPage struct {
	Items []struct {
		ID, Subject, Text, Link string
		ReadAt                  *time.Time `json:"read_at"`
	}
	NextCursor string `json:"next_cursor"`
}

func (c *apiClient) inboxCount(tb testing.TB) int {
	tb.Helper()
	var body struct{ Unread int }
	c.call(tb, http.MethodGet, "/api/v1/inbox/count", nil).wantStatus(tb, http.StatusOK).decode(tb, &body)
	return body.Unread
}

// TestInboxAPI: a person reads, counts and marks their own in-app
// notifications; another person's do not exist for them, an admin's
// included.
func TestInboxAPI(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		ada := ts.MustCreateUser(t, "ada@example.com", switchboard.RoleAgent)
		boss := ts.MustCreateUser(t, "boss@example.com", switchboard.RoleAdmin)
		adaToken, _ := ts.MustCreateToken(t, ada)
		bossToken, _ := ts.MustCreateToken(t, boss)
		start := time.Now().Add(-time.Hour)
		var ids []string
		for i := range 3 {
			ids = append(ids, sqlstoretest.MustNotifyInApp(t, db, ada.ID, fmt.Sprintf("Task %d offered", i), "Take it.",
				"/my-work", start.Add(time.Duration(i)*time.Minute)))
		}
		bosses := sqlstoretest.MustNotifyInApp(t, db, boss.ID, "Queue breached", "Look.", "", start)
		api := ts.api(adaToken)

		if n := api.inboxCount(t); n != 3 {
			t.Fatalf("ada's count = %d, want 3", n)
		}
		var page inboxPage
		api.call(t, http.MethodGet, "/api/v1/inbox?limit=2", nil).wantStatus(t, http.StatusOK).decode(t, &page)
		if len(page.Items) != 2 || page.Items[0].ID != ids[2] || page.Items[0].Text != "Take it." || page.Items[0].Link != "/my-work" ||
			page.Items[0].ReadAt != nil || page.NextCursor == "" {
			t.Fatalf("first page = %+v, want the two newest, unread, and a cursor", page)
		}
		cursor := page.NextCursor
		page = inboxPage{}
		api.call(t, http.MethodGet, "/api/v1/inbox?limit=2&cursor="+cursor, nil).wantStatus(t, http.StatusOK).decode(t, &page)
		if len(page.Items) != 1 || page.Items[0].ID != ids[0] || page.NextCursor != "" {
			t.Fatalf("second page = %+v, want the oldest alone", page)
		}

		t.Run("OthersAreNotFound", func(t *testing.T) {
			api.call(t, http.MethodPost, "/api/v1/inbox/"+bosses+"/read", nil).wantStatus(t, http.StatusNotFound)
			ts.api(bossToken).call(t, http.MethodPost, "/api/v1/inbox/"+ids[0]+"/read", nil).wantStatus(t, http.StatusNotFound)
			ts.api(bossToken).call(t, http.MethodGet, "/api/v1/inbox", nil).wantStatus(t, http.StatusOK).wantNotContains(t, ids[0])
			if n := api.inboxCount(t); n != 3 {
				t.Fatalf("ada's count = %d after others tried, want 3", n)
			}
		})

		t.Run("MarkRead", func(t *testing.T) {
			var item struct {
				ReadAt *time.Time `json:"read_at"`
			}
			api.call(t, http.MethodPost, "/api/v1/inbox/"+ids[1]+"/read", nil).wantStatus(t, http.StatusOK).decode(t, &item)
			if item.ReadAt == nil {
				t.Fatal("read_at missing after marking read")
			}
			api.call(t, http.MethodPost, "/api/v1/inbox/"+ids[1]+"/read", nil).wantStatus(t, http.StatusOK)
			if n := api.inboxCount(t); n != 2 {
				t.Fatalf("count = %d after one read, want 2", n)
			}
			page = inboxPage{}
			api.call(t, http.MethodGet, "/api/v1/inbox?unread=true", nil).wantStatus(t, http.StatusOK).decode(t, &page)
			if len(page.Items) != 2 || page.Items[0].ID != ids[2] || page.Items[1].ID != ids[0] {
				t.Fatalf("unread = %+v, want the other two", page.Items)
			}
		})

		t.Run("MarkAllRead", func(t *testing.T) {
			var body struct{ Marked int }
			api.call(t, http.MethodPost, "/api/v1/inbox/read-all", nil).wantStatus(t, http.StatusOK).decode(t, &body)
			if body.Marked != 2 || api.inboxCount(t) != 0 {
				t.Fatalf("read-all marked %d, count now %d; want 2 and 0", body.Marked, api.inboxCount(t))
			}
			if n := ts.api(bossToken).inboxCount(t); n != 1 {
				t.Fatalf("boss's count = %d after ada's read-all, want 1", n)
			}
		})

		t.Run("MachineAgentHasNone", func(t *testing.T) {
			_, secret := ts.MustAgentToken(t, "Bot", ts.MustCreateTeam(t, "Bots").ID)
			ts.api(secret).call(t, http.MethodGet, "/api/v1/inbox/count", nil).wantStatus(t, http.StatusForbidden)
		})
	})
}
