package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestInboxPages: every page's bell shows the unread count and links to
// the inbox, which lists the person's notifications, unread ones marked,
// and marks them read without a script.
func TestInboxPages(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	ada := ts.MustCreateUser(t, "ada@example.com", switchboard.RoleAgent)
	b := ts.browser()
	b.signIn(t, "ada@example.com")

	t.Run("Empty", func(t *testing.T) {
		b.get(t, "/account").wantStatus(t, http.StatusOK).
			wantContains(t, `href="/inbox"`, `aria-label="Notifications, none unread"`, `data-bell-count hidden>0</span>`, "/static/bell.js")
		b.get(t, "/inbox").wantStatus(t, http.StatusOK).
			wantContains(t, "<title>Notifications · Switchboard</title>", "No notifications yet.").
			wantNotContains(t, "Mark all read")
	})

	start := time.Now().Add(-time.Hour)
	offered := sqlstoretest.MustNotifyInApp(t, ts.db, ada.ID, "Call back offered to you", "Accept it within a minute.", "/my-work", start)
	escalated := sqlstoretest.MustNotifyInApp(t, ts.db, ada.ID, "<b>Escalated</b>", "Waited too long.", "https://evil.example/", start.Add(time.Minute))
	others := sqlstoretest.MustNotifyInApp(t, ts.db, ts.MustCreateUser(t, "bob@example.com", switchboard.RoleAgent).ID, "Bob's", "", "", start)

	t.Run("Listed", func(t *testing.T) {
		res := b.get(t, "/inbox").wantStatus(t, http.StatusOK).
			wantContains(t, `aria-label="Notifications, 2 unread"`, `<span class="bell-count" data-bell-count>2</span>`,
				"Call back offered to you", "Accept it within a minute.", `class="inbox-item is-unread"`,
				"&lt;b&gt;Escalated&lt;/b&gt;", `action="/inbox/read-all"`,
				`action="/inbox/`+offered+`/read"`, `name="next" value="/my-work"`).
			wantNotContains(t, "Bob's", "<b>Escalated</b>", "evil.example")
		// The newest first.
		if body := string(res.body); strings.Index(body, "Escalated") > strings.Index(body, "Call back") {
			t.Error("the older notification is listed first")
		}
	})

	t.Run("MarkRead", func(t *testing.T) {
		b.post(t, "/inbox/"+escalated+"/read", url.Values{"next": {"/inbox"}}).wantStatus(t, http.StatusSeeOther)
		b.get(t, "/inbox?unread=1").wantStatus(t, http.StatusOK).
			wantContains(t, `aria-label="Notifications, 1 unread"`, "Call back offered to you").wantNotContains(t, "Escalated")
		// Open marks read and goes to the notification's page.
		res := b.post(t, "/inbox/"+offered+"/read", url.Values{"next": {"/my-work"}}).wantStatus(t, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/my-work" {
			t.Errorf("Open went to %q, want /my-work", loc)
		}
		// Someone else's, or a next off the site: refused, and kept home.
		b.post(t, "/inbox/"+others+"/read", url.Values{"next": {"/inbox"}}).wantStatus(t, http.StatusNotFound)
		sqlstoretest.MustNotifyInApp(t, ts.db, ada.ID, "Third", "", "", time.Time{})
		res = b.post(t, "/inbox/read-all", url.Values{"next": {"//evil.example/"}}).wantStatus(t, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/" {
			t.Errorf("read-all went to %q, want / (never off the site)", loc)
		}
		b.get(t, "/inbox?unread=1").wantStatus(t, http.StatusOK).
			wantContains(t, "1 notification marked read.", "You have read everything.", `aria-label="Notifications, none unread"`)
	})

	t.Run("CrossSiteRefused", func(t *testing.T) {
		evil := ts.browser()
		evil.signIn(t, "ada@example.com")
		evil.origin = "https://evil.example"
		evil.post(t, "/inbox/read-all", url.Values{}).wantStatus(t, http.StatusForbidden)
	})
}

// TestBellCountCapped: past 99 unread, the bell says 99+.
func TestBellCountCapped(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	for range switchboard.UnreadCountCap + 2 {
		sqlstoretest.MustNotifyInApp(t, ts.db, admin.ID, "Agent went offline", "", "", time.Time{})
	}
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	b.get(t, "/").wantStatus(t, http.StatusOK).
		wantContains(t, `aria-label="Notifications, more than 99 unread"`, `data-bell-count>99&#43;</span>`)
}

// TestDeliveryLogPage: admins see every message and retry dead ones;
// anyone else sees their own, without the retry.
func TestDeliveryLogPage(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	ada := ts.MustCreateUser(t, "ada@example.com", switchboard.RoleAgent)
	bob := ts.MustCreateUser(t, "bob@example.com", switchboard.RoleSupervisor)
	users := sqlstore.NewUserService(ts.db)
	for _, u := range []*switchboard.User{ada, bob} {
		if _, err := users.IssuePasswordReset(systemCtx(), u.ID); err != nil {
			t.Fatal(err)
		}
	}
	out := sqlstore.NewNotificationService(ts.db)
	claimed, err := out.ClaimNotifications(t.Context(), []switchboard.Channel{switchboard.ChannelEmail}, 10, time.Minute)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %d, %v; want the two e-mails", len(claimed), err)
	}
	var dead *switchboard.Notification
	for _, n := range claimed {
		if n.Recipient == "bob@example.com" {
			dead = n
			if _, err := out.FinishNotification(t.Context(), n, switchboard.Permanent(errString("550 no such mailbox")), 0, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	sqlstoretest.MustNotifyInApp(t, ts.db, ada.ID, "Offered to you", "", "", time.Time{})

	admin := ts.browser()
	admin.signIn(t, "admin@example.com")
	admin.get(t, "/notifications").wantStatus(t, http.StatusOK).
		wantContains(t, "<title>Delivery log · Switchboard</title>", "ada@example.com", "bob@example.com", "550 no such mailbox",
			`action="/notifications/`+dead.ID+`/retry"`, "Offered to you", `badge-delivery-dead`)
	admin.get(t, "/notifications?status=dead").wantStatus(t, http.StatusOK).
		wantContains(t, "bob@example.com").wantNotContains(t, "ada@example.com")
	admin.get(t, "/notifications?channel=sms").wantStatus(t, http.StatusOK).wantContains(t, "No messages match these filters.")
	admin.post(t, "/notifications/"+dead.ID+"/retry", url.Values{"next": {"/notifications?status=dead"}}).wantStatus(t, http.StatusSeeOther)
	admin.get(t, "/notifications?status=pending").wantStatus(t, http.StatusOK).
		wantContains(t, "will be sent again in a moment", "bob@example.com")
	// Not dead any more: a second retry says why not.
	admin.post(t, "/notifications/"+dead.ID+"/retry", url.Values{}).wantStatus(t, http.StatusSeeOther)
	admin.get(t, "/notifications").wantStatus(t, http.StatusOK).wantContains(t, "Only a dead notification can be retried")

	b := ts.browser()
	b.signIn(t, "ada@example.com")
	b.get(t, "/notifications").wantStatus(t, http.StatusOK).
		wantContains(t, "ada@example.com", "Offered to you", "your inbox").
		wantNotContains(t, "bob@example.com", "/retry")
	b.post(t, "/notifications/"+dead.ID+"/retry", url.Values{}).wantStatus(t, http.StatusForbidden)
}

type errString string

func (e errString) Error() string { return string(e) }
