package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// MustCreateWebhook creates an active endpoint for events, failing the
// test on error.
func MustCreateWebhook(tb testing.TB, db *sqlstore.DB, rawURL string, events ...string) *switchboard.Webhook {
	tb.Helper()
	w, err := sqlstore.NewWebhookService(db).CreateWebhook(systemCtx(), switchboard.NewWebhook{URL: rawURL, Events: events, Active: true})
	if err != nil {
		tb.Fatalf("CreateWebhook(%s): %v", rawURL, err)
	}
	return w
}

// webhookDeliveries are the outbox's deliveries to an endpoint, newest
// first.
func webhookDeliveries(tb testing.TB, db *sqlstore.DB, webhookID string) []*switchboard.Notification {
	tb.Helper()
	page, err := sqlstore.NewNotificationService(db).FindNotifications(systemCtx(),
		switchboard.NotificationFilter{WebhookID: webhookID, Limit: switchboard.MaxPageLimit})
	if err != nil {
		tb.Fatal(err)
	}
	return page.Items
}

func wantField(tb testing.TB, err error, field string) {
	tb.Helper()
	for _, f := range switchboard.ErrorFields(err) {
		if f.Field == field {
			return
		}
	}
	tb.Errorf("error %v names no field %q", err, field)
}

func TestWebhookCRUD(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewWebhookService(db)
		admin := asUser(MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin))

		w, err := s.CreateWebhook(admin, switchboard.NewWebhook{URL: " https://hooks.example.com/in ", Events: []string{"task.*", "agent.created", "task.*"},
			Active: true, Description: "Ticketing"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(w.Secret, switchboard.WebhookSecretPrefix) || len(w.Secret) != 49 {
			t.Errorf("generated secret %q, want whsec_ and 43 characters", w.Secret)
		}
		if w.URL != "https://hooks.example.com/in" || len(w.Events) != 2 || !w.Active || w.Version != 1 {
			t.Errorf("created %+v", w)
		}
		given, err := s.CreateWebhook(admin, switchboard.NewWebhook{URL: "http://other.example.com", Events: []string{"*"}, Secret: "my-own-secret-0123456789"})
		if err != nil || given.Secret != "my-own-secret-0123456789" || given.Active {
			t.Fatalf("with a secret of its own: %+v, %v", given, err)
		}

		got, err := s.FindWebhookByID(admin, w.ID)
		if err != nil || got.Secret != "" || got.URL != w.URL {
			t.Fatalf("FindWebhookByID = %+v, %v; want it without its secret", got, err)
		}
		page, err := s.FindWebhooks(admin, switchboard.WebhookFilter{Limit: 1})
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != given.ID || page.Items[0].Secret != "" || page.NextCursor == "" {
			t.Fatalf("first page = %+v, %v; want the newest, without its secret, and a cursor", page, err)
		}
		page, err = s.FindWebhooks(admin, switchboard.WebhookFilter{Limit: 1, Cursor: page.NextCursor})
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != w.ID || page.NextCursor != "" {
			t.Fatalf("second page = %+v, %v", page, err)
		}

		off, events := false, []string{"queue.*"}
		upd, err := s.UpdateWebhook(admin, w.ID, switchboard.WebhookUpdate{Active: &off, Events: &events, RotateSecret: true, IfVersion: 1})
		if err != nil || upd.Active || upd.Events[0] != "queue.*" || upd.Version != 2 ||
			!strings.HasPrefix(upd.Secret, switchboard.WebhookSecretPrefix) || upd.Secret == w.Secret {
			t.Fatalf("UpdateWebhook = %+v, %v; want inactive, queue.*, version 2, a new secret", upd, err)
		}
		desc := "Renamed"
		if upd, err := s.UpdateWebhook(admin, w.ID, switchboard.WebhookUpdate{Description: &desc}); err != nil || upd.Secret != "" {
			t.Errorf("an update that leaves the secret = %+v, %v; want no secret returned", upd, err)
		}
		_, err = s.UpdateWebhook(admin, w.ID, switchboard.WebhookUpdate{Description: &desc, IfVersion: 1})
		wantCode(t, err, switchboard.EPRECONDITION)
		delivery, err := s.WebhookForDelivery(context.Background(), w.ID)
		if err != nil || delivery.Secret != upd.Secret {
			t.Errorf("WebhookForDelivery = %+v, %v; want the rotated secret", delivery, err)
		}

		// The audit log tells of every change, never of a secret.
		audit, err := sqlstore.NewAuditService(db).FindAuditEntries(admin, switchboard.AuditFilter{Action: "webhook."})
		if err != nil {
			t.Fatal(err)
		}
		if len(audit.Items) != 4 {
			t.Errorf("%d audit entries, want 4 (2 created, 2 updated)", len(audit.Items))
		}
		b, _ := json.Marshal(audit.Items)
		for _, secret := range []string{w.Secret, upd.Secret, given.Secret} {
			if strings.Contains(string(b), secret) {
				t.Errorf("the audit log holds a secret: %s", b)
			}
		}

		if err := s.DeleteWebhook(admin, w.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.FindWebhookByID(admin, w.ID)
		wantCode(t, err, switchboard.ENOTFOUND)
		wantCode(t, s.DeleteWebhook(admin, w.ID), switchboard.ENOTFOUND)
		_, err = s.WebhookForDelivery(context.Background(), w.ID)
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.FindWebhookByID(admin, "not-an-id")
		wantCode(t, err, switchboard.ENOTFOUND)
	})
}

func TestWebhookAuthorization(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewWebhookService(db)
		w := MustCreateWebhook(t, db, "https://hooks.example.com", "*")
		for _, tc := range []struct {
			name string
			ctx  context.Context
			code string
		}{
			{"Anonymous", context.Background(), switchboard.EUNAUTHORIZED},
			{"Supervisor", asUser(MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)), switchboard.EFORBIDDEN},
			{"Agent", asUser(MustCreateUser(t, db, "agent@example.com", switchboard.RoleAgent)), switchboard.EFORBIDDEN},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.FindWebhooks(tc.ctx, switchboard.WebhookFilter{})
				wantCode(t, err, tc.code)
				_, err = s.FindWebhookByID(tc.ctx, w.ID)
				wantCode(t, err, tc.code)
				_, err = s.CreateWebhook(tc.ctx, switchboard.NewWebhook{URL: "https://x.example.com", Events: []string{"*"}})
				wantCode(t, err, tc.code)
				_, err = s.UpdateWebhook(tc.ctx, w.ID, switchboard.WebhookUpdate{RotateSecret: true})
				wantCode(t, err, tc.code)
				wantCode(t, s.DeleteWebhook(tc.ctx, w.ID), tc.code)
				_, err = s.TestWebhook(tc.ctx, w.ID)
				wantCode(t, err, tc.code)
			})
		}
	})
}

func TestWebhookValidation(t *testing.T) {
	db := sqlstoretest.Open(t, sqlstore.SQLite)
	s := sqlstore.NewWebhookService(db)
	for _, tc := range []struct {
		name  string
		in    switchboard.NewWebhook
		field string
	}{
		{"NoURL", switchboard.NewWebhook{Events: []string{"*"}}, "url"},
		{"FTP", switchboard.NewWebhook{URL: "ftp://files.example.com", Events: []string{"*"}}, "url"},
		{"UserInfo", switchboard.NewWebhook{URL: "https://user:pw@hooks.example.com", Events: []string{"*"}}, "url"},
		{"Fragment", switchboard.NewWebhook{URL: "https://hooks.example.com/#x", Events: []string{"*"}}, "url"},
		{"Space", switchboard.NewWebhook{URL: "https://hooks.example.com/a b", Events: []string{"*"}}, "url"},
		{"BadPort", switchboard.NewWebhook{URL: "https://hooks.example.com:99999", Events: []string{"*"}}, "url"},
		{"TooLong", switchboard.NewWebhook{URL: "https://hooks.example.com/" + strings.Repeat("a", 500), Events: []string{"*"}}, "url"},
		{"Loopback", switchboard.NewWebhook{URL: "http://127.0.0.1:8080/", Events: []string{"*"}}, "url"},
		{"Localhost", switchboard.NewWebhook{URL: "http://localhost/", Events: []string{"*"}}, "url"},
		{"Metadata", switchboard.NewWebhook{URL: "http://169.254.169.254/latest", Events: []string{"*"}}, "url"},
		{"MappedIPv6", switchboard.NewWebhook{URL: "http://[::ffff:10.0.0.1]/", Events: []string{"*"}}, "url"},
		{"DecimalIP", switchboard.NewWebhook{URL: "http://2130706433/", Events: []string{"*"}}, "url"},
		{"NoEvents", switchboard.NewWebhook{URL: "https://hooks.example.com"}, "events"},
		{"UnknownEvent", switchboard.NewWebhook{URL: "https://hooks.example.com", Events: []string{"task.exploded"}}, "events"},
		{"UnknownFamily", switchboard.NewWebhook{URL: "https://hooks.example.com", Events: []string{"rocket.*"}}, "events"},
		{"OutboxEvents", switchboard.NewWebhook{URL: "https://hooks.example.com", Events: []string{"notification.retried"}}, "events"},
		{"ShortSecret", switchboard.NewWebhook{URL: "https://hooks.example.com", Events: []string{"*"}, Secret: "short"}, "secret"},
		{"SecretWithSpace", switchboard.NewWebhook{URL: "https://hooks.example.com", Events: []string{"*"}, Secret: "a secret with spaces in it"}, "secret"},
		{"LongDescription", switchboard.NewWebhook{URL: "https://hooks.example.com", Events: []string{"*"}, Description: strings.Repeat("d", 501)}, "description"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateWebhook(systemCtx(), tc.in)
			wantCode(t, err, switchboard.EINVALID)
			wantField(t, err, tc.field)
		})
	}
	// The operator's check decides, when there is one.
	db.WebhookURLCheck = func(context.Context, *url.URL) error { return nil }
	if _, err := s.CreateWebhook(systemCtx(), switchboard.NewWebhook{URL: "http://127.0.0.1:8080/", Events: []string{"*"}}); err != nil {
		t.Errorf("with private addresses allowed: %v", err)
	}
}

func TestWebhookFanOut(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := systemCtx()
		teams := sqlstore.NewTeamService(db)
		tasks := MustCreateWebhook(t, db, "https://tasks.example.com", "team.created")
		every := MustCreateWebhook(t, db, "https://all.example.com", "*")
		off := MustCreateWebhook(t, db, "https://off.example.com", "team.*")
		no := false
		if _, err := sqlstore.NewWebhookService(db).UpdateWebhook(ctx, off.ID, switchboard.WebhookUpdate{Active: &no}); err != nil {
			t.Fatal(err)
		}

		team, err := teams.CreateTeam(ctx, switchboard.NewTeam{Name: "Billing", Description: "Invoices"})
		if err != nil {
			t.Fatal(err)
		}
		// A change that fails, and a change rolled back after recording its
		// event, leave no delivery.
		if _, err := teams.CreateTeam(ctx, switchboard.NewTeam{Name: "Billing"}); switchboard.ErrorCode(err) != switchboard.ECONFLICT {
			t.Fatalf("a second team Billing: %v, want ECONFLICT", err)
		}
		rollback := errors.New("rolled back")
		err = db.Write(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
			tx.Record(switchboard.Event{Type: switchboard.AuditTeamCreated, Subject: switchboard.EventSubject{Type: "team", ID: "x", Name: "Ghost"}})
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("Write = %v", err)
		}

		got := webhookDeliveries(t, db, tasks.ID)
		if len(got) != 1 {
			t.Fatalf("%d deliveries to team.created, want 1", len(got))
		}
		n := got[0]
		if n.Channel != switchboard.ChannelWebhook || n.Recipient != "https://tasks.example.com" || n.WebhookID != tasks.ID ||
			n.Subject != switchboard.AuditTeamCreated || n.EventType != switchboard.AuditTeamCreated || n.Status != switchboard.NotificationPending {
			t.Errorf("delivery = %+v", n)
		}
		text, _, _, err := db.NotificationBodies(context.Background(), n.ID)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			ID   string    `json:"id"`
			Type string    `json:"type"`
			Time time.Time `json:"time"`
			Data struct {
				Subject struct{ Type, ID, Name string } `json:"subject"`
				Actor   struct{ Type, ID, Name string } `json:"actor"`
				After   map[string]any                  `json:"after"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(text), &body); err != nil {
			t.Fatalf("body %q: %v", text, err)
		}
		if body.ID != n.EventID || body.Type != "team.created" || body.Time.IsZero() || body.Data.Subject.ID != team.ID ||
			body.Data.Subject.Name != "Billing" || body.Data.Actor.Type != "system" || body.Data.After["description"] != "Invoices" {
			t.Errorf("body = %s", text)
		}

		// "*" took the team, not the creation of the endpoint after it nor
		// its deactivation (endpoints' URLs are for admins' eyes only); the
		// inactive endpoint took nothing.
		types := map[string]int{}
		for _, n := range webhookDeliveries(t, db, every.ID) {
			types[n.EventType]++
		}
		if types["team.created"] != 1 || len(types) != 1 {
			t.Errorf("deliveries to * by type: %v; want team.created once", types)
		}
		if got := webhookDeliveries(t, db, off.ID); len(got) != 0 {
			t.Errorf("an inactive endpoint got %d deliveries", len(got))
		}

		// A ping goes to its endpoint alone.
		ping, err := sqlstore.NewWebhookService(db).TestWebhook(ctx, tasks.ID)
		if err != nil || ping.EventType != switchboard.EventWebhookTest || ping.WebhookID != tasks.ID {
			t.Fatalf("TestWebhook = %+v, %v", ping, err)
		}
		if got := webhookDeliveries(t, db, every.ID); len(got) != 1 {
			t.Errorf("* got %d deliveries after a ping of another endpoint, want still 1", len(got))
		}
		_, err = sqlstore.NewWebhookService(db).TestWebhook(ctx, off.ID)
		wantCode(t, err, switchboard.ECONFLICT)
	})
}

// TestWebhookDeletedKeepsDeliveries: the log keeps the deliveries of a
// deleted endpoint, and a change whose fan-out still knew the endpoint
// succeeds.
func TestWebhookDeletedKeepsDeliveries(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		w := MustCreateWebhook(t, db, "https://hooks.example.com", "team.*")
		if _, err := sqlstore.NewTeamService(db).CreateTeam(systemCtx(), switchboard.NewTeam{Name: "Billing"}); err != nil {
			t.Fatal(err)
		}
		if err := sqlstore.NewWebhookService(db).DeleteWebhook(systemCtx(), w.ID); err != nil {
			t.Fatal(err)
		}
		page, err := sqlstore.NewNotificationService(db).FindNotifications(systemCtx(), switchboard.NotificationFilter{Channel: switchboard.ChannelWebhook})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("webhook deliveries after the delete: %v, %v; want the one", page, err)
		}
		if n := page.Items[0]; n.WebhookID != w.ID || n.Recipient != "https://hooks.example.com" {
			t.Errorf("delivery of a deleted endpoint = %+v", n)
		}
	})
}

// TestWebhookFanOut_OtherInstance: an endpoint created on one instance
// receives the events of another within the reload bound, and without it
// none are lost to an instance that has never looked.
func TestWebhookFanOut_OtherInstance(t *testing.T) {
	for _, engine := range sqlstoretest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			dbURL := sqlstoretest.URL(t, engine)
			open := func() *sqlstore.DB {
				db, err := sqlstore.Open(context.Background(), dbURL, sqlstoretest.FastHasher{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			one := open()
			if _, err := one.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			two := open()
			clock := newClock(two)
			teams := sqlstore.NewTeamService(two)
			// Two has read the endpoints: there are none.
			if _, err := teams.CreateTeam(systemCtx(), switchboard.NewTeam{Name: "Before"}); err != nil {
				t.Fatal(err)
			}
			w := MustCreateWebhook(t, one, "https://hooks.example.com", "team.created")
			if _, err := teams.CreateTeam(systemCtx(), switchboard.NewTeam{Name: "Soon after"}); err != nil {
				t.Fatal(err)
			}
			clock.Advance(6 * time.Second)
			if _, err := teams.CreateTeam(systemCtx(), switchboard.NewTeam{Name: "Later"}); err != nil {
				t.Fatal(err)
			}
			got := webhookDeliveries(t, one, w.ID)
			if len(got) != 1 {
				t.Fatalf("%d deliveries, want 1: the team created once two read the endpoints again", len(got))
			}
			// Deleted on one, the endpoint is still in two's list for a
			// while: two's changes go on, with a delivery the sender will
			// give up.
			if err := sqlstore.NewWebhookService(one).DeleteWebhook(systemCtx(), w.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := teams.CreateTeam(systemCtx(), switchboard.NewTeam{Name: "After the delete"}); err != nil {
				t.Fatalf("a change on an instance that has not seen the delete yet: %v", err)
			}
		})
	}
}

// TestWebhookFanOut_NoQueryPerChange: the fan-out reads the endpoints once
// per reload period, not in every change, with endpoints or without.
func TestWebhookFanOut_NoQueryPerChange(t *testing.T) {
	db := sqlstoretest.Open(t, sqlstore.SQLite)
	clock := newClock(db)
	teams := sqlstore.NewTeamService(db)
	n := 0
	createTeam := func() {
		t.Helper()
		n++
		if _, err := teams.CreateTeam(systemCtx(), switchboard.NewTeam{Name: fmt.Sprintf("Team %d", n)}); err != nil {
			t.Fatal(err)
		}
	}
	readsOfWebhooks := func(fn func()) int {
		reads := 0
		for _, q := range db.RecordQueries(fn) {
			if strings.Contains(q, "webhooks") {
				reads++
			}
		}
		return reads
	}
	createTeam() // the first change reads them
	if got := readsOfWebhooks(func() { createTeam(); createTeam() }); got != 0 {
		t.Errorf("without endpoints, two changes read the webhooks %d times, want 0", got)
	}
	MustCreateWebhook(t, db, "https://hooks.example.com", "team.*")
	if got := readsOfWebhooks(createTeam); got != 1 {
		t.Errorf("after a local change to the endpoints, a change read them %d times, want 1", got)
	}
	if got := readsOfWebhooks(func() { createTeam(); createTeam() }); got != 0 {
		t.Errorf("with an endpoint, two changes read the webhooks %d times, want 0", got)
	}
	clock.Advance(5 * time.Second)
	if got := readsOfWebhooks(func() { createTeam(); createTeam() }); got != 1 {
		t.Errorf("after the reload period, two changes read the webhooks %d times, want 1", got)
	}
}
