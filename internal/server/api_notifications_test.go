package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestRetryNotificationAPI: an admin sends a dead message again, and it is
// due at once, from a first attempt, with the idempotency key it had. Only
// a dead message can be retried, and only by an admin: not even the person
// it is for.
func TestRetryNotificationAPI(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		adminToken, _ := ts.MustCreateToken(t, ts.setUp(t))
		api := ts.api(adminToken)
		ada := ts.MustCreateUser(t, "ada@example.com", switchboard.RoleAgent)
		sam := ts.MustCreateUser(t, "sam@example.com", switchboard.RoleSupervisor)

		// Ada's password reset e-mail, tried once and given up.
		if _, err := sqlstore.NewUserService(db).IssuePasswordReset(systemCtx(), ada.ID); err != nil {
			t.Fatal(err)
		}
		outbox := sqlstore.NewNotificationService(db)
		claimed, err := outbox.ClaimNotifications(t.Context(), []switchboard.Channel{switchboard.ChannelEmail}, 10, time.Minute)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claimed %d, %v; want the reset e-mail", len(claimed), err)
		}
		dead := claimed[0]
		if ok, err := outbox.FinishNotification(t.Context(), dead, switchboard.Permanent(errString("550 no such mailbox")), 0, true); !ok || err != nil {
			t.Fatalf("FinishNotification = %v, %v", ok, err)
		}
		retry := "/api/v1/notifications/" + dead.ID + "/retry"

		for _, u := range []*switchboard.User{ada, sam} {
			token, _ := ts.MustCreateToken(t, u)
			ts.api(token).call(t, http.MethodPost, retry, nil).wantStatus(t, http.StatusForbidden).problem(t)
		}
		api.call(t, http.MethodPost, "/api/v1/notifications/"+uuid.NewString()+"/retry", nil).
			wantStatus(t, http.StatusNotFound).problem(t)
		if got := listedWith(t, api, "dead", dead.ID); got == nil || got.Attempts != 1 {
			t.Fatalf("before the retry, the dead message is %+v, want it dead after 1 attempt", got)
		}

		before := time.Now()
		var got server.NotificationJSON
		api.call(t, http.MethodPost, retry, nil).wantStatus(t, http.StatusOK).decode(t, &got)
		after := time.Now()
		if got.ID != dead.ID || got.Status != "pending" || got.Attempts != 0 || got.IdempotencyKey != dead.IdempotencyKey ||
			got.Channel != "email" || got.Recipient != "ada@example.com" || got.UserID != ada.ID || got.SentAt != nil {
			t.Errorf("retried = %+v, want Ada's e-mail pending from attempt 0 with key %s", got, dead.IdempotencyKey)
		}
		// Due now: the database's clock may keep whole seconds.
		if got.NextAttemptAt == nil || got.NextAttemptAt.Before(before.Add(-time.Second)) || got.NextAttemptAt.After(after.Add(time.Second)) {
			t.Errorf("next attempt at %v, want between %v and %v", got.NextAttemptAt, before, after)
		}
		// Why it died stays until the next attempt says otherwise.
		if !strings.Contains(got.LastError, "550 no such mailbox") {
			t.Errorf("last error %q, want the one it died of", got.LastError)
		}
		if listed := listedWith(t, api, "pending", dead.ID); listed == nil || listed.Attempts != 0 || listed.NextAttemptAt == nil {
			t.Errorf("listed as pending: %+v", listed)
		}
		if listed := listedWith(t, api, "dead", dead.ID); listed != nil {
			t.Errorf("still listed as dead: %+v", listed)
		}
		api.call(t, http.MethodGet, "/api/v1/audit?action="+switchboard.AuditNotificationRetried, nil).
			wantStatus(t, http.StatusOK).wantContains(t, dead.ID)

		// Pending, or sent, it is no longer dead.
		if p := api.call(t, http.MethodPost, retry, nil).wantStatus(t, http.StatusConflict).problem(t); !strings.Contains(p.Detail, "pending") {
			t.Errorf("retrying a pending message: %q, want why not", p.Detail)
		}
		claimed, err = outbox.ClaimNotifications(t.Context(), []switchboard.Channel{switchboard.ChannelEmail}, 10, time.Minute)
		if err != nil || len(claimed) != 1 || claimed[0].ID != dead.ID || claimed[0].Attempts != 1 {
			t.Fatalf("claimed %v, %v; want the retried e-mail at attempt 1", claimed, err)
		}
		if ok, err := outbox.FinishNotification(t.Context(), claimed[0], nil, 0, false); !ok || err != nil {
			t.Fatalf("FinishNotification = %v, %v", ok, err)
		}
		if p := api.call(t, http.MethodPost, retry, nil).wantStatus(t, http.StatusConflict).problem(t); !strings.Contains(p.Detail, "sent") {
			t.Errorf("retrying a sent message: %q, want why not", p.Detail)
		}
	})
}

// listedWith returns the message id from the admin's delivery log of
// messages in status, or nil when it is not there.
func listedWith(tb testing.TB, api *apiClient, status, id string) *server.NotificationJSON {
	tb.Helper()
	var page server.ListBody[server.NotificationJSON]
	api.call(tb, http.MethodGet, "/api/v1/notifications?limit=100&status="+status, nil).wantStatus(tb, http.StatusOK).decode(tb, &page)
	for _, n := range page.Items {
		if n.ID == id {
			return &n
		}
	}
	return nil
}
