package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// mustNotifyInApp writes one in-app notification to u, as a change would.
func mustNotifyInApp(tb testing.TB, db *sqlstore.DB, u *switchboard.User, subject string) {
	tb.Helper()
	n := &switchboard.Notification{UserID: u.ID, Recipient: u.ID, Subject: subject, Text: "About " + subject, Link: "/tasks/x"}
	if err := db.NotifyInApp(systemCtx(), "task.offered", n); err != nil {
		tb.Fatalf("NotifyInApp(%s): %v", subject, err)
	}
}

func mustCount(tb testing.TB, inbox *sqlstore.InboxService, ctx context.Context, want int) {
	tb.Helper()
	if n, err := inbox.CountUnread(ctx); err != nil || n != want {
		tb.Fatalf("CountUnread = %d, %v; want %d", n, err, want)
	}
}

func TestInbox(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		inbox := sqlstore.NewInboxService(db)
		ada := MustCreateUser(t, db, "ada@example.com", switchboard.RoleAgent)
		bob := MustCreateUser(t, db, "bob@example.com", switchboard.RoleAdmin)
		for i := range 5 {
			mustNotifyInApp(t, db, ada, fmt.Sprintf("ada %d", i))
			clock.Advance(time.Second)
		}
		mustNotifyInApp(t, db, bob, "bob 0")
		// An e-mail to ada is not in her inbox.
		db.Composer = linkComposer{}
		if _, err := sqlstore.NewUserService(db).IssuePasswordReset(asUser(bob), ada.ID); err != nil {
			t.Fatal(err)
		}

		t.Run("DeliveredWhenWritten", func(t *testing.T) {
			page, err := sqlstore.NewNotificationService(db).FindNotifications(asUser(bob),
				switchboard.NotificationFilter{Channel: switchboard.ChannelInApp})
			if err != nil || len(page.Items) != 6 {
				t.Fatalf("delivery log: %d in-app notifications, %v; want 6", len(page.Items), err)
			}
			for _, n := range page.Items {
				if n.Status != switchboard.NotificationSent || n.SentAt == nil {
					t.Errorf("%s: status %s, sent at %v; want sent when written", n.Subject, n.Status, n.SentAt)
				}
			}
			// The dispatcher finds nothing of it to deliver.
			claimed, err := sqlstore.NewNotificationService(db).ClaimNotifications(context.Background(),
				[]switchboard.Channel{switchboard.ChannelInApp}, 10, time.Minute)
			if err != nil || len(claimed) != 0 {
				t.Fatalf("claimed %d in-app notifications, %v; want none", len(claimed), err)
			}
		})

		t.Run("OwnOnlyNewestFirstPaged", func(t *testing.T) {
			var subjects []string
			cursor := ""
			for {
				page, err := inbox.FindInbox(asUser(ada), switchboard.InboxFilter{Limit: 2, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range page.Items {
					subjects = append(subjects, n.Subject)
					if n.Text != "About "+n.Subject || n.Link != "/tasks/x" || n.ReadAt != nil {
						t.Errorf("%s: text %q, link %q, read at %v", n.Subject, n.Text, n.Link, n.ReadAt)
					}
				}
				if cursor = page.NextCursor; cursor == "" {
					break
				}
			}
			if got, want := fmt.Sprint(subjects), "[ada 4 ada 3 ada 2 ada 1 ada 0]"; got != want {
				t.Fatalf("ada's inbox = %s, want %s", got, want)
			}
		})

		var first *switchboard.Notification
		t.Run("MarkRead", func(t *testing.T) {
			mustCount(t, inbox, asUser(ada), 5)
			page, err := inbox.FindInbox(asUser(ada), switchboard.InboxFilter{})
			if err != nil {
				t.Fatal(err)
			}
			first = page.Items[0]
			// Bob, an admin, cannot mark ada's; nor can a machine agent.
			_, err = inbox.MarkRead(asUser(bob), first.ID)
			wantCode(t, err, switchboard.ENOTFOUND)
			machine := switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{Agent: &switchboard.Agent{ID: "m"}})
			_, err = inbox.MarkRead(machine, first.ID)
			wantCode(t, err, switchboard.EFORBIDDEN)
			_, err = inbox.MarkRead(asUser(ada), "00000000-0000-0000-0000-000000000000")
			wantCode(t, err, switchboard.ENOTFOUND)

			clock.Advance(time.Minute)
			n, err := inbox.MarkRead(asUser(ada), first.ID)
			if err != nil || n.ReadAt == nil || !n.ReadAt.Equal(clock.Now()) {
				t.Fatalf("MarkRead = %+v, %v; want read now", n, err)
			}
			mustCount(t, inbox, asUser(ada), 4)
			mustCount(t, inbox, asUser(bob), 1)
			// Again: nothing changes, not even the time.
			clock.Advance(time.Minute)
			if again, err := inbox.MarkRead(asUser(ada), first.ID); err != nil || !again.ReadAt.Equal(*n.ReadAt) {
				t.Fatalf("MarkRead again = %v, %v; want the first read time %v", again.ReadAt, err, n.ReadAt)
			}
			unread, err := inbox.FindInbox(asUser(ada), switchboard.InboxFilter{Unread: true})
			if err != nil || len(unread.Items) != 4 || unread.Items[0].Subject != "ada 3" {
				t.Fatalf("unread = %d items, %v; want 4 from ada 3", len(unread.Items), err)
			}
		})

		t.Run("AnAgentsTokenReadsItsUsersInbox", func(t *testing.T) {
			ctx := switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{Agent: &switchboard.Agent{ID: "a", UserID: ada.ID}})
			mustCount(t, inbox, ctx, 4)
		})

		t.Run("MarkAllRead", func(t *testing.T) {
			n, err := inbox.MarkAllRead(asUser(ada))
			if err != nil || n != 4 {
				t.Fatalf("MarkAllRead = %d, %v; want 4", n, err)
			}
			mustCount(t, inbox, asUser(ada), 0)
			mustCount(t, inbox, asUser(bob), 1)
			if n, err := inbox.MarkAllRead(asUser(ada)); err != nil || n != 0 {
				t.Fatalf("MarkAllRead again = %d, %v; want 0", n, err)
			}
		})

		t.Run("ReadsAreEventsNotAudit", func(t *testing.T) {
			page, err := sqlstore.NewEventService(db).FindEvents(asUser(ada), switchboard.EventFilter{Types: []string{"notification."}})
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, e := range page.Items {
				types = append(types, e.Type)
			}
			if got, want := fmt.Sprint(types), "[notification.read notification.all_read]"; got != want {
				t.Fatalf("ada sees events %s, want %s", got, want)
			}
			audit, err := sqlstore.NewAuditService(db).FindAuditEntries(systemCtx(), switchboard.AuditFilter{Action: "notification."})
			if err != nil || len(audit.Items) != 0 {
				t.Fatalf("audit has %d entries of reads, %v; want none", len(audit.Items), err)
			}
		})
	})
}

func TestInboxCountStopsAtCap(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ada := MustCreateUser(t, db, "ada@example.com", switchboard.RoleAgent)
		ns := make([]*switchboard.Notification, switchboard.UnreadCountCap+5)
		for i := range ns {
			// Each its own recipient: one event, many messages.
			ns[i] = &switchboard.Notification{UserID: ada.ID, Recipient: fmt.Sprint(ada.ID, i), Subject: "n"}
		}
		if err := db.NotifyInApp(systemCtx(), "task.offered", ns...); err != nil {
			t.Fatal(err)
		}
		mustCount(t, sqlstore.NewInboxService(db), asUser(ada), switchboard.UnreadCountCap+1)
	})
}
