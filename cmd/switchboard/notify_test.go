package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/notify/email"
	"github.com/switchboardhq/switchboard/internal/notify/smtptest"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestDeliveryOutlivesAKilledProcess: an instance killed with SIGKILL in
// the middle of sending an e-mail loses none of the messages it had
// claimed. Once their leases end, another instance sends every one, and a
// message that may have gone out twice carries the same idempotency key
// both times.
func TestDeliveryOutlivesAKilledProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dbURL := sqlstoretest.URL(t, sqlstore.Postgres)
	_, admin := migratedWithAdmin(t, dbURL)

	mail := smtptest.Start(t, "127.0.0.1:0")
	arrived, release := mail.Hold()
	defer release()
	const timeout = 3 * time.Second // the lease is twice this
	env := []string{
		"SWITCHBOARD_DATABASE_URL=" + dbURL,
		"SWITCHBOARD_BASE_URL=https://sb.example.com",
		"SWITCHBOARD_SMTP_URL=smtp://" + mail.Addr + "?from=ops@example.com&tls=none",
		"SWITCHBOARD_NOTIFY_TIMEOUT=" + timeout.String(),
	}
	a := startProcess(t, env...)

	// Password reset links, each e-mailed from the transaction that makes
	// it; A claims them all in one batch and begins with the first, which
	// the mail server holds.
	const total = 5
	for i := range total {
		var user struct{ ID string }
		body := fmt.Sprintf(`{"email": "p%d@example.com", "name": "P%d", "role": "supervisor", "password": "%s"}`, i, i, testPassword)
		decodeCall(t, http.MethodPost, a.URL+"/api/v1/users", admin, body, &user)
		if s := apiCall(t, http.MethodPost, a.URL+"/api/v1/users/"+user.ID+"/password-reset", admin, ""); s != http.StatusCreated {
			t.Fatalf("password reset %d: %d", i, s)
		}
	}
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatalf("no e-mail reached the mail server:\n%s", a.logs.String())
	}
	b := startProcess(t, env...)
	defer b.Stop(t)
	a.Kill(t)
	killed := time.Now()
	// The mail server now finishes the message A was sending: A never
	// learnt that it went out.
	release()

	deadline := time.Now().Add(4*timeout + 30*time.Second)
	for !allSent(t, b.URL, admin, total) {
		if time.Now().After(deadline) {
			t.Fatalf("the messages A had claimed were not all sent by B; mail server got %d:\n%s", len(mail.Messages()), b.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("B sent every message %v after A was killed", time.Since(killed).Round(100*time.Millisecond))

	keys := map[string]string{} // recipient → idempotency key
	for _, m := range mail.Messages() {
		rcpt, key := strings.Join(m.To, ","), m.Header.Get(email.IdempotencyHeader)
		if key == "" {
			t.Errorf("message to %s has no idempotency key", rcpt)
		}
		if k, seen := keys[rcpt]; seen && k != key {
			t.Errorf("message to %s sent twice with keys %s and %s", rcpt, k, key)
		}
		keys[rcpt] = key
	}
	if len(keys) != total {
		t.Errorf("mail server got messages for %d recipients, want %d", len(keys), total)
	}
	t.Logf("%d messages accepted by the mail server for %d recipients", len(mail.Messages()), len(keys))
}

// allSent reports whether count notifications are in the delivery log and
// every one is sent.
func allSent(t *testing.T, url, token string, count int) bool {
	t.Helper()
	var page struct {
		Items []struct{ Status string }
	}
	decodeCall(t, http.MethodGet, url+"/api/v1/notifications?limit="+strconv.Itoa(count+10), token, "", &page)
	sent := 0
	for _, n := range page.Items {
		if n.Status == "sent" {
			sent++
		}
	}
	return len(page.Items) == count && sent == count
}
