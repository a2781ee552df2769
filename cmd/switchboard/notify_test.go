package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/notify/email"
	"github.com/switchboardhq/switchboard/internal/notify/smtptest"
	"github.com/switchboardhq/switchboard/internal/notify/webhook"
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

// TestServeWebhookAllowPrivate: the serve setting that lets webhooks reach
// private addresses reaches both of the guard's checks, where an endpoint
// is saved and where a delivery connects, by its variable and by its flag;
// without it, a receiver on this machine is refused at both.
func TestServeWebhookAllowPrivate(t *testing.T) {
	type delivery struct {
		header http.Header
		body   []byte
	}
	received := make(chan delivery, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		received <- delivery{r.Header.Clone(), body}
	}))
	defer receiver.Close()
	dbURL := sqlstoretest.URL(t, sqlstore.SQLite)
	_, admin := migratedWithAdmin(t, dbURL)
	off := environ("SWITCHBOARD_DATABASE_URL", dbURL)
	endpoint := `{"url": "` + receiver.URL + `/hook", "events": ["task.*"]}`

	// Off by default: the loopback receiver cannot be saved.
	base, stop := startServer(t, off)
	status, body := callAPI(t, http.MethodPost, base+"/api/v1/webhooks", admin, endpoint)
	var problem struct {
		Errors []struct{ Location, Message string }
	}
	if err := json.Unmarshal([]byte(body), &problem); status != http.StatusUnprocessableEntity || err != nil ||
		len(problem.Errors) != 1 || problem.Errors[0].Location != "body.url" ||
		!strings.Contains(problem.Errors[0].Message, "SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE") {
		t.Fatalf("saving a loopback endpoint without the setting: %d %s", status, body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// On through the variable: it is saved, and a test event reaches it.
	logs := &lockedBuffer{}
	base, stop = startServerLogging(t, logs, environ("SWITCHBOARD_DATABASE_URL", dbURL, "SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE", "true"))
	var hook struct{ ID, Secret string }
	decodeCall(t, http.MethodPost, base+"/api/v1/webhooks", admin, endpoint, &hook)
	sent := webhookTest(t, base, admin, hook.ID)
	if n := waitForNotification(t, base, admin, hook.ID, sent, "sent"); n.Attempts != 1 {
		t.Errorf("sent after %d attempts, want 1", n.Attempts)
	}
	select {
	case d := <-received:
		if sig := webhook.Sign(hook.Secret, d.header.Get(webhook.TimestampHeader), d.body); d.header.Get(webhook.SignatureHeader) != sig {
			t.Errorf("signature %q, want %q", d.header.Get(webhook.SignatureHeader), sig)
		}
	default:
		t.Fatal("sent, but the receiver got nothing")
	}
	if !strings.Contains(logs.String(), "webhooks may reach loopback") {
		t.Errorf("no warning that webhooks may reach this machine:\n%s", logs.String())
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Off again: the endpoint saved meanwhile is refused at delivery, for
	// good, before any connection.
	base, stop = startServer(t, off)
	refused := webhookTest(t, base, admin, hook.ID)
	if n := waitForNotification(t, base, admin, hook.ID, refused, "dead"); !strings.Contains(n.LastError, "refused to connect to 127.0.0.1:") {
		t.Errorf("last error %q, want the refused address", n.LastError)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// On through the flag: the refused delivery, retried, arrives.
	base, stop = startServer(t, off, "--webhook-allow-private=true")
	decodeCall(t, http.MethodPost, base+"/api/v1/notifications/"+refused+"/retry", admin, "", &struct{}{})
	waitForNotification(t, base, admin, hook.ID, refused, "sent")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(received) != 1 {
		t.Errorf("the receiver got %d more deliveries, want 1: the retry alone", len(received))
	}
}

// callAPI makes an API call and returns its status and body, whatever they are.
func callAPI(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// webhookTest sends a test event to a webhook endpoint and returns the ID
// of its delivery.
func webhookTest(t *testing.T, base, token, hookID string) string {
	t.Helper()
	var n struct{ ID string }
	decodeCall(t, http.MethodPost, base+"/api/v1/webhooks/"+hookID+"/test", token, "", &n)
	return n.ID
}

// listedNotification is a message of the delivery log, as far as these
// tests read it.
type listedNotification struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
}

// waitForNotification waits until the delivery id to the endpoint hookID
// has status, and returns it; a delivery that ends otherwise fails the test
// at once.
func waitForNotification(t *testing.T, base, token, hookID, id, status string) listedNotification {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var page struct{ Items []listedNotification }
		decodeCall(t, http.MethodGet, base+"/api/v1/notifications?webhook="+hookID, token, "", &page)
		for _, n := range page.Items {
			switch {
			case n.ID != id:
			case n.Status == status:
				return n
			case n.Status == "sent" || n.Status == "dead": // for good
				t.Fatalf("delivery %s is %s, want %s: %+v", id, n.Status, status, n)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s never became %s: %+v", id, status, page.Items)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
