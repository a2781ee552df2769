package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// linkComposer writes a one-line e-mail with the link of an invitation.
type linkComposer struct{}

func (linkComposer) Invitation(inv *switchboard.Invitation) (*switchboard.Notification, error) {
	link := "https://sb.example.com" + inv.Path()
	return &switchboard.Notification{Channel: switchboard.ChannelEmail, Recipient: inv.Email, Subject: "Your link",
		Text: "Open " + link + "\n", HTML: `<a href="` + link + `">` + link + `</a>`}, nil
}

// Alert writes no message: these tests are about invitations.
func (linkComposer) Alert(*switchboard.Alert) (*switchboard.Notification, error) { return nil, nil }

// MustInvite creates a human agent for a new person, which invites them,
// and returns the invitation.
func MustInvite(tb testing.TB, db *sqlstore.DB, email string) *switchboard.Invitation {
	tb.Helper()
	_, inv, err := sqlstore.NewAgentService(db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Agent " + email, Kind: switchboard.HumanAgent, Email: email})
	if err != nil || inv == nil {
		tb.Fatalf("CreateAgent(%s) = %v, %v; want an invitation", email, inv, err)
	}
	return inv
}

var emailOnly = []switchboard.Channel{switchboard.ChannelEmail}

func mustClaim(tb testing.TB, out *sqlstore.NotificationService, limit int, lease time.Duration) []*switchboard.Notification {
	tb.Helper()
	ns, err := out.ClaimNotifications(context.Background(), emailOnly, limit, lease)
	if err != nil {
		tb.Fatalf("ClaimNotifications: %v", err)
	}
	return ns
}

func TestNotificationWrittenWithChange(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		out := sqlstore.NewNotificationService(db)

		// Without a composer, a change writes no message.
		MustInvite(t, db, "quiet@example.com")
		if page, err := out.FindNotifications(systemCtx(), switchboard.NotificationFilter{}); err != nil || len(page.Items) != 0 {
			t.Fatalf("without a composer: %d notifications, %v; want none", len(page.Items), err)
		}

		db.Composer = linkComposer{}
		inv := MustInvite(t, db, "ada@example.com")
		admin := MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin)
		if _, err := sqlstore.NewUserService(db).IssuePasswordReset(asUser(admin), admin.ID); err != nil {
			t.Fatal(err)
		}
		// A change that fails leaves no message behind.
		_, _, err := sqlstore.NewAgentService(db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Ghost", Kind: switchboard.HumanAgent,
			Email: "ghost@example.com", TeamIDs: []string{"00000000-0000-0000-0000-000000000000"}})
		if err == nil {
			t.Fatal("CreateAgent with a team that does not exist succeeded")
		}

		page, err := out.FindNotifications(systemCtx(), switchboard.NotificationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 2 {
			t.Fatalf("got %d notifications, want 2 (the invitation, the reset)", len(page.Items))
		}
		got := map[string]*switchboard.Notification{}
		for _, n := range page.Items {
			got[n.Recipient] = n
			if n.Text != "" || n.HTML != "" || n.Secret != "" {
				t.Errorf("the list shows a body or secret of %s", n.Recipient)
			}
		}
		n := got["ada@example.com"]
		if n == nil || n.UserID != inv.UserID || n.EventType != switchboard.AuditUserInvited || n.EventID == "" ||
			n.Status != switchboard.NotificationPending || n.IdempotencyKey == "" || n.Subject != "Your link" {
			t.Errorf("invitation's notification = %+v", n)
		}
		if r := got["admin@example.com"]; r == nil || r.UserID != admin.ID || r.EventType != switchboard.AuditPasswordResetIssued {
			t.Errorf("reset's notification = %+v", r)
		}
		text, _, secret, err := db.NotificationBodies(ctx, n.ID)
		if err != nil || !strings.Contains(text, inv.Secret) || secret == nil || *secret != inv.Secret {
			t.Errorf("stored body %q, secret %v, %v; want the link and its secret", text, secret, err)
		}
	})
}

func TestFindNotifications(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		db.Composer = linkComposer{}
		out := sqlstore.NewNotificationService(db)
		users := sqlstore.NewUserService(db)
		admin := MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin)
		ada := MustCreateUser(t, db, "ada@example.com", switchboard.RoleAgent)
		bob := MustCreateUser(t, db, "bob@example.com", switchboard.RoleSupervisor)
		for range 3 {
			if _, err := users.IssuePasswordReset(asUser(admin), ada.ID); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := users.IssuePasswordReset(asUser(admin), admin.ID); err != nil {
			t.Fatal(err)
		}
		count := func(ctx context.Context, f switchboard.NotificationFilter) int {
			t.Helper()
			total := 0
			for {
				page, err := out.FindNotifications(ctx, f)
				if err != nil {
					t.Fatalf("FindNotifications: %v", err)
				}
				total += len(page.Items)
				if page.NextCursor == "" {
					return total
				}
				f.Cursor = page.NextCursor
			}
		}
		for _, c := range []struct {
			name string
			ctx  context.Context
			f    switchboard.NotificationFilter
			want int
		}{
			{"AdminSeesAll", asUser(admin), switchboard.NotificationFilter{Limit: 1}, 4},
			{"UserSeesOwn", asUser(ada), switchboard.NotificationFilter{Limit: 2}, 3},
			{"OtherSeesNone", asUser(bob), switchboard.NotificationFilter{}, 0},
			{"ByStatus", asUser(admin), switchboard.NotificationFilter{Status: switchboard.NotificationPending}, 4},
			{"ByOtherStatus", asUser(admin), switchboard.NotificationFilter{Status: switchboard.NotificationDead}, 0},
			{"ByChannel", asUser(admin), switchboard.NotificationFilter{Channel: switchboard.ChannelSMS}, 0},
		} {
			t.Run(c.name, func(t *testing.T) {
				if got := count(c.ctx, c.f); got != c.want {
					t.Errorf("got %d, want %d", got, c.want)
				}
			})
		}
		t.Run("ErrInvalid", func(t *testing.T) {
			_, err := out.FindNotifications(asUser(admin), switchboard.NotificationFilter{Status: "lost"})
			wantCode(t, err, switchboard.EINVALID)
		})
	})
}

func TestClaimNotificationsConcurrently(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		db.Composer = linkComposer{}
		const n = 24
		for i := range n {
			MustInvite(t, db, fmt.Sprintf("p%02d@example.com", i))
		}
		out := sqlstore.NewNotificationService(db)
		var mu sync.Mutex
		claims := map[string]int{}
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					ns, err := out.ClaimNotifications(context.Background(), emailOnly, 3, time.Minute)
					if err != nil {
						t.Errorf("ClaimNotifications: %v", err)
						return
					}
					if len(ns) == 0 {
						return
					}
					mu.Lock()
					for _, x := range ns {
						claims[x.ID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(claims) != n {
			t.Errorf("claimed %d notifications, want %d", len(claims), n)
		}
		for id, c := range claims {
			if c != 1 {
				t.Errorf("%s claimed %d times, want once", id, c)
			}
		}
	})
}

func TestNotificationLease(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		clock := newClock(db)
		db.Composer = linkComposer{}
		inv := MustInvite(t, db, "ada@example.com")
		out := sqlstore.NewNotificationService(db)

		first := mustClaim(t, out, 10, time.Minute)
		if len(first) != 1 || first[0].Attempts != 1 || !strings.Contains(first[0].Text, inv.Secret) {
			t.Fatalf("first claim = %+v, want the message at attempt 1 with its link", first)
		}
		// The dispatcher dies: nobody records an outcome.
		if again := mustClaim(t, out, 10, time.Minute); len(again) != 0 {
			t.Fatalf("claimed %d while the lease holds, want none", len(again))
		}
		clock.Advance(time.Minute)
		second := mustClaim(t, out, 10, time.Minute)
		if len(second) != 1 || second[0].Attempts != 2 || second[0].IdempotencyKey != first[0].IdempotencyKey {
			t.Fatalf("after the lease = %+v, want the message again at attempt 2 with key %s", second, first[0].IdempotencyKey)
		}
		// The first attempt's late outcome is not recorded over the second's.
		if ok, err := out.FinishNotification(ctx, first[0], nil, 0, false); err != nil || ok {
			t.Errorf("FinishNotification by the lost lease = %v, %v; want not recorded", ok, err)
		}
		if ok, err := out.FinishNotification(ctx, second[0], nil, 0, false); err != nil || !ok {
			t.Fatalf("FinishNotification = %v, %v; want recorded", ok, err)
		}
		text, html, secret, err := db.NotificationBodies(ctx, second[0].ID)
		if err != nil || strings.Contains(text+html, inv.Secret) || !strings.Contains(text, switchboard.Redacted) || secret != nil {
			t.Errorf("after sending: body %q, secret %v, %v; want the secret redacted", text, secret, err)
		}
		clock.Advance(time.Hour)
		if again := mustClaim(t, out, 10, time.Minute); len(again) != 0 {
			t.Errorf("claimed a sent message again")
		}
	})
}

func TestNotificationFailures(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		clock := newClock(db)
		db.Composer = linkComposer{}
		admin := MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin)
		agent := MustCreateUser(t, db, "agent@example.com", switchboard.RoleAgent)
		inv := MustInvite(t, db, "ada@example.com")
		out := sqlstore.NewNotificationService(db)
		down := errors.New("connection refused")

		n := mustClaim(t, out, 10, time.Minute)[0]
		if ok, err := out.FinishNotification(ctx, n, down, 30*time.Second, false); !ok || err != nil {
			t.Fatalf("FinishNotification = %v, %v", ok, err)
		}
		page, _ := out.FindNotifications(asUser(admin), switchboard.NotificationFilter{})
		if got := page.Items[0]; got.Status != switchboard.NotificationFailed || got.LastError != "connection refused" ||
			!got.NextAttemptAt.Equal(clock.Now().Add(30*time.Second)) || got.Attempts != 1 {
			t.Errorf("after a failure: %s, %q, next %v, attempts %d", got.Status, got.LastError, got.NextAttemptAt, got.Attempts)
		}
		t.Run("RetryOfLiveIsConflict", func(t *testing.T) {
			_, err := out.RetryNotification(asUser(admin), n.ID)
			wantCode(t, err, switchboard.ECONFLICT)
		})
		clock.Advance(30 * time.Second)
		n = mustClaim(t, out, 10, time.Minute)[0]
		if ok, err := out.FinishNotification(ctx, n, switchboard.Permanent(down), 0, true); !ok || err != nil {
			t.Fatalf("FinishNotification(dead) = %v, %v", ok, err)
		}
		// A dead message keeps its link for an admin to send again.
		if _, _, secret, _ := db.NotificationBodies(ctx, n.ID); secret == nil {
			t.Errorf("a dead message lost its secret before its link expired")
		}
		t.Run("RetryErrForbidden", func(t *testing.T) {
			_, err := out.RetryNotification(asUser(agent), n.ID)
			wantCode(t, err, switchboard.EFORBIDDEN)
		})
		t.Run("RetryErrNotFound", func(t *testing.T) {
			_, err := out.RetryNotification(asUser(admin), "00000000-0000-0000-0000-000000000000")
			wantCode(t, err, switchboard.ENOTFOUND)
		})
		retried, err := out.RetryNotification(asUser(admin), n.ID)
		if err != nil || retried.Status != switchboard.NotificationPending || retried.Attempts != 0 {
			t.Fatalf("RetryNotification = %+v, %v; want pending from attempt 0", retried, err)
		}
		again := mustClaim(t, out, 10, time.Minute)
		if len(again) != 1 || again[0].Attempts != 1 || again[0].IdempotencyKey != n.IdempotencyKey || !strings.Contains(again[0].Text, inv.Secret) {
			t.Fatalf("after retry claimed %+v, want the message with its key and link", again)
		}
		audit, err := sqlstore.NewAuditService(db).FindAuditEntries(asUser(admin), switchboard.AuditFilter{Action: switchboard.AuditNotificationRetried})
		if err != nil || len(audit.Items) != 1 || audit.Items[0].TargetID != n.ID {
			t.Errorf("audit of the retry = %+v, %v", audit, err)
		}

		t.Run("LinkExpires", func(t *testing.T) {
			if ok, err := out.FinishNotification(ctx, again[0], down, 0, true); !ok || err != nil {
				t.Fatalf("FinishNotification(dead) = %v, %v", ok, err)
			}
			pending := MustInvite(t, db, "bob@example.com")
			if got, err := out.ExpireNotificationSecrets(ctx); err != nil || got != 0 {
				t.Errorf("ExpireNotificationSecrets before expiry = %d, %v; want 0", got, err)
			}
			clock.Advance(switchboard.InvitationTTL)
			if got, err := out.ExpireNotificationSecrets(ctx); err != nil || got != 2 {
				t.Errorf("ExpireNotificationSecrets = %d, %v; want 2", got, err)
			}
			page, _ := out.FindNotifications(asUser(admin), switchboard.NotificationFilter{Status: switchboard.NotificationDead})
			if len(page.Items) != 2 {
				t.Errorf("%d dead, want 2: the one given up, and the one whose link expired waiting", len(page.Items))
			}
			for _, x := range page.Items {
				text, _, secret, _ := db.NotificationBodies(ctx, x.ID)
				if secret != nil || strings.Contains(text, inv.Secret) || strings.Contains(text, pending.Secret) {
					t.Errorf("%s keeps its secret after its link expired: %q", x.Recipient, text)
				}
			}
			_, err := out.RetryNotification(asUser(admin), n.ID)
			wantCode(t, err, switchboard.ECONFLICT)
		})
	})
}
