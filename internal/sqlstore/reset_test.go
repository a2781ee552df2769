package sqlstore_test

import (
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

func TestPasswordReset(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		users := sqlstore.NewUserService(db)
		clock := newClock(db)
		admin := MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin)
		sup := MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
		ada := MustCreateUser(t, db, "ada@example.com", switchboard.RoleAgent)

		// Only admins hand out what is as good as a password.
		_, err := users.IssuePasswordReset(asUser(sup), ada.ID)
		wantCode(t, err, switchboard.EFORBIDDEN)
		_, err = users.IssuePasswordReset(asUser(admin), "no-such-user")
		wantCode(t, err, switchboard.ENOTFOUND)

		first, err := users.IssuePasswordReset(asUser(admin), ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !first.IsPasswordReset() || !strings.HasPrefix(first.Secret, switchboard.PasswordResetPrefix) ||
			!first.ExpiresAt.Equal(clock.Now().Add(switchboard.PasswordResetTTL)) {
			t.Fatalf("reset link = %+v", first)
		}
		// A new link voids the old one.
		link, err := users.IssuePasswordReset(asUser(admin), ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = users.FindInvitation(t.Context(), first.Secret)
		wantCode(t, err, switchboard.ENOTFOUND)
		found, err := users.FindInvitation(t.Context(), link.Secret)
		if err != nil || found.Kind != switchboard.KindPasswordReset || found.Email != "ada@example.com" || found.Secret != "" {
			t.Fatalf("FindInvitation = %+v, %v", found, err)
		}

		// The old password works until the new one is chosen; someone
		// guessing at it locks the account meanwhile.
		if _, err := users.Authenticate(t.Context(), "ada@example.com", "correct horse battery"); err != nil {
			t.Fatalf("old password before the reset: %v", err)
		}
		for range switchboard.MaxSignInFailures {
			users.Authenticate(t.Context(), "ada@example.com", "a wrong guess")
		}
		_, err = users.Authenticate(t.Context(), "ada@example.com", "correct horse battery")
		wantCode(t, err, switchboard.ERATELIMIT)
		_, err = users.AcceptInvitation(t.Context(), link.Secret, "short")
		wantCode(t, err, switchboard.EINVALID)
		reset, err := users.AcceptInvitation(t.Context(), link.Secret, "a freshly chosen password")
		if err != nil {
			t.Fatal(err)
		}
		// Every session from before ends; the new password is the one.
		if _, err := users.AuthenticateSession(t.Context(), ada.ID, ada.AuthVersion); err == nil {
			t.Error("a session from before the reset still works")
		}
		if _, err := users.AuthenticateSession(t.Context(), ada.ID, reset.AuthVersion); err != nil {
			t.Errorf("session after the reset: %v", err)
		}
		// The lockout went with the old password.
		_, err = users.Authenticate(t.Context(), "ada@example.com", "correct horse battery")
		wantCode(t, err, switchboard.EUNAUTHORIZED)
		if _, err := users.Authenticate(t.Context(), "ada@example.com", "a freshly chosen password"); err != nil {
			t.Errorf("new password: %v", err)
		}
		// Single use.
		_, err = users.AcceptInvitation(t.Context(), link.Secret, "yet another long password")
		wantCode(t, err, switchboard.ENOTFOUND)

		// Changing the password by hand voids a link asked for earlier.
		pending, err := users.IssuePasswordReset(asUser(admin), ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := users.ChangePassword(asUser(reset), switchboard.PasswordChange{Current: "a freshly chosen password", New: "remembered it after all"}); err != nil {
			t.Fatal(err)
		}
		_, err = users.FindInvitation(t.Context(), pending.Secret)
		wantCode(t, err, switchboard.ENOTFOUND)

		// Links expire.
		late, err := users.IssuePasswordReset(asUser(admin), ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(switchboard.PasswordResetTTL)
		_, err = users.AcceptInvitation(t.Context(), late.Secret, "a long new password")
		wantCode(t, err, switchboard.ENOTFOUND)

		// No reset for a user who never had a password, nor a disabled one;
		// disabling a user voids their link.
		_, invited, err := sqlstore.NewAgentService(db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "New", Kind: "human", Email: "new@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = users.IssuePasswordReset(asUser(admin), invited.UserID)
		wantCode(t, err, switchboard.ECONFLICT)
		ada, _ = users.FindUserByID(systemCtx(), ada.ID)
		beforeDisable, err := users.IssuePasswordReset(asUser(admin), ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		disabled := switchboard.UserDisabled
		if _, err := users.UpdateUser(asUser(admin), ada.ID, switchboard.UserUpdate{Status: &disabled, IfVersion: ada.Version}); err != nil {
			t.Fatal(err)
		}
		_, err = users.IssuePasswordReset(asUser(admin), ada.ID)
		wantCode(t, err, switchboard.ECONFLICT)
		_, err = users.AcceptInvitation(t.Context(), beforeDisable.Secret, "a long new password")
		wantCode(t, err, switchboard.ENOTFOUND)

		// Both the link and its use are in the audit log.
		entries, err := sqlstore.NewAuditService(db).FindAuditEntries(asUser(admin), switchboard.AuditFilter{TargetID: ada.ID})
		if err != nil {
			t.Fatal(err)
		}
		var issued, used int
		for _, e := range entries.Items {
			switch e.Action {
			case switchboard.AuditPasswordResetIssued:
				issued++
				if e.ActorID != admin.ID {
					t.Errorf("reset issued by %s, want the admin", e.ActorID)
				}
			case switchboard.AuditPasswordReset:
				used++
				if e.ActorID != ada.ID {
					t.Errorf("reset used by %s, want the user", e.ActorID)
				}
			}
		}
		if issued != 5 || used != 1 {
			t.Errorf("audit: %d links issued, %d used; want 5 and 1", issued, used)
		}
	})
}

// nothingComposer writes no message, as the e-mail composer does without
// a public address for links.
type nothingComposer struct{}

func (nothingComposer) Invitation(*switchboard.Invitation) (*switchboard.Notification, error) {
	return nil, nil
}

func (nothingComposer) Alert(*switchboard.Alert) (*switchboard.Notification, error) { return nil, nil }

func TestRequestPasswordReset(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		users := sqlstore.NewUserService(db)
		out := sqlstore.NewNotificationService(db)
		anonymous := switchboard.NewContextWithRequestInfo(t.Context(), switchboard.RequestInfo{ID: "req-forgot", IP: "198.51.100.7"})
		admin := MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin)
		ada := MustCreateUser(t, db, "ada@example.com", switchboard.RoleAgent)
		outbox := func() []*switchboard.Notification {
			t.Helper()
			p, err := out.FindNotifications(systemCtx(), switchboard.NotificationFilter{Limit: switchboard.MaxPageLimit})
			if err != nil {
				t.Fatal(err)
			}
			return p.Items
		}

		wantCode(t, users.RequestPasswordReset(anonymous, "not an address"), switchboard.EINVALID)

		// Without a composer nothing can carry a link: nothing is made,
		// and an admin's link keeps working.
		adminLink, err := users.IssuePasswordReset(asUser(admin), ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := users.RequestPasswordReset(anonymous, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		db.Composer = nothingComposer{}
		if err := users.RequestPasswordReset(anonymous, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := users.FindInvitation(t.Context(), adminLink.Secret); err != nil {
			t.Fatalf("the admin's link after requests that no e-mail could carry: %v", err)
		}

		db.Composer = linkComposer{}
		// Unknown, disabled and never-signed-in addresses: the same nil,
		// and no message.
		invited := MustInvite(t, db, "new@example.com")
		disabled := MustCreateUser(t, db, "gone@example.com", switchboard.RoleAgent)
		status := switchboard.UserDisabled
		if _, err := users.UpdateUser(asUser(admin), disabled.ID, switchboard.UserUpdate{Status: &status, IfVersion: disabled.Version}); err != nil {
			t.Fatal(err)
		}
		before := len(outbox())
		for _, address := range []string{"nobody@example.com", "gone@example.com", invited.Email} {
			if err := users.RequestPasswordReset(anonymous, address); err != nil {
				t.Errorf("RequestPasswordReset(%s) = %v, want nil", address, err)
			}
		}
		if n := len(outbox()); n != before {
			t.Errorf("requests for addresses without a usable account wrote %d messages, want none", n-before)
		}
		if _, err := users.FindInvitation(t.Context(), invited.Secret); err != nil {
			t.Errorf("the invitation after a reset request for its address: %v", err)
		}

		// Ada's address, in any case: a reset e-mail, the admin's link void.
		if err := users.RequestPasswordReset(anonymous, " ADA@example.com "); err != nil {
			t.Fatal(err)
		}
		msgs := outbox()
		if len(msgs) != before+1 || msgs[0].Recipient != "ada@example.com" || msgs[0].UserID != ada.ID || msgs[0].EventType != switchboard.AuditPasswordResetIssued {
			t.Fatalf("outbox after Ada's request: %d messages, newest %+v", len(msgs), msgs[0])
		}
		_, err = users.FindInvitation(t.Context(), adminLink.Secret)
		wantCode(t, err, switchboard.ENOTFOUND)

		// The audit log says an anonymous caller asked, and from where.
		p, err := sqlstore.NewAuditService(db).FindAuditEntries(systemCtx(), switchboard.AuditFilter{TargetID: ada.ID, Action: switchboard.AuditPasswordResetIssued})
		if err != nil || len(p.Items) == 0 {
			t.Fatalf("audit entries: %v, %v", p, err)
		}
		if e := p.Items[0]; e.ActorType != "anonymous" || e.IP != "198.51.100.7" || e.RequestID != "req-forgot" {
			t.Errorf("audit entry %+v, want by anonymous from 198.51.100.7 in req-forgot", e)
		}
	})
}
