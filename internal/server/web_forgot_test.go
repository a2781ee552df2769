package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// resetEmails returns the recipients of the password reset e-mails in the
// outbox, once the requests' background work is done.
func (ts *testServer) resetEmails(tb testing.TB) []string {
	tb.Helper()
	ts.srv.Wait()
	page, err := sqlstore.NewNotificationService(ts.db).FindNotifications(systemCtx(), switchboard.NotificationFilter{Limit: switchboard.MaxPageLimit})
	if err != nil {
		tb.Fatal(err)
	}
	var to []string
	for _, n := range page.Items {
		if n.EventType == switchboard.AuditPasswordResetIssued {
			to = append(to, n.Recipient)
		}
	}
	return to
}

// withBaseURL are the options of a server with a public address (plain
// HTTP, so that the test's cookie jar keeps its session cookie), on which
// the test server's e-mails make their links.
func withBaseURL() server.Options {
	return server.Options{BaseURL: &url.URL{Scheme: "http", Host: "switchboard.test"}}
}

var sentAnswer = regexp.MustCompile(`(?s)<p class="lead" role="status" data-reset-sent>(.*?)</p>`)

// TestForgotPassword: the sign-in page leads to the form; every address
// gets the same answer; only an active user with a password is e-mailed a
// link, which works.
func TestForgotPassword(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, withBaseURL())
		ts.setUp(t)
		ts.MustCreateUser(t, "ada@example.com", switchboard.RoleAgent)
		gone := ts.MustCreateUser(t, "gone@example.com", switchboard.RoleAgent)
		status := switchboard.UserDisabled
		if _, err := sqlstore.NewUserService(db).UpdateUser(systemCtx(), gone.ID, switchboard.UserUpdate{Status: &status, IfVersion: gone.Version}); err != nil {
			t.Fatal(err)
		}
		b := ts.browser()
		b.get(t, "/signin").wantStatus(t, http.StatusOK).wantContains(t, `<a href="/forgot" id="forgot-link">Forgot password?</a>`)
		b.get(t, "/forgot").wantStatus(t, http.StatusOK).
			wantContains(t, "<title>Forgot password · Switchboard</title>", `action="/forgot"`, `name="email"`, `autocomplete="username"`)

		b.post(t, "/forgot", url.Values{"email": {"not an address"}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, `id="f-email-error"`, "valid e-mail address", `value="not an address"`)

		var answers []string
		for _, address := range []string{"ada@example.com", "nobody@example.com", "gone@example.com", "ADMIN@example.com "} {
			res := b.post(t, "/forgot", url.Values{"email": {address}}).wantStatus(t, http.StatusOK).
				wantContains(t, "<title>Check your e-mail · Switchboard</title>")
			m := sentAnswer.FindSubmatch(res.body)
			if m == nil {
				t.Fatalf("no answer for %s:\n%s", address, res.body)
			}
			answers = append(answers, string(m[1]))
		}
		for _, a := range answers[1:] {
			if a != answers[0] {
				t.Errorf("answers differ: %q and %q", answers[0], a)
			}
		}
		if !strings.HasPrefix(answers[0], "If an account exists for that address, we have sent it a link") {
			t.Errorf("answer %q", answers[0])
		}
		got := ts.resetEmails(t)
		slices.Sort(got)
		if strings.Join(got, ",") != "ada@example.com,admin@example.com" {
			t.Errorf("reset e-mails to %v, want Ada's and the admin's", got)
		}
		if logs := ts.logs.String(); !strings.Contains(logs, "e-mail is not configured") {
			t.Errorf("no warning that e-mail is not configured in the log:\n%s", logs)
		}

		// The API: 202 and the same answer, whoever asks for whatever.
		for _, address := range []string{"ada@example.com", "nobody@example.com"} {
			var out struct{ Message string }
			ts.api("").call(t, http.MethodPost, "/api/v1/password-reset", map[string]string{"email": address}).
				wantStatus(t, http.StatusAccepted).decode(t, &out)
			if out.Message != answers[0] {
				t.Errorf("API answer for %s: %q", address, out.Message)
			}
		}
		if p := ts.api("").call(t, http.MethodPost, "/api/v1/password-reset", map[string]string{"email": "nope"}).
			wantStatus(t, http.StatusUnprocessableEntity).problem(t); len(p.Errors) == 0 {
			t.Errorf("422 without the field: %+v", p)
		}
	})
}

// TestForgotPasswordThrottled: ten requests per client address and then
// 429; three links per e-mail address, then requests for it are quietly
// ignored, so that the last link sent keeps working.
func TestForgotPasswordThrottled(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		// The clock stands still: no bucket refills while the test runs.
		frozen := time.Now().UTC()
		db.Now = func() time.Time { return frozen }
		ts := newTestServerOn(t, db, withBaseURL())
		ts.setUp(t)
		ts.MustCreateUser(t, "ada@example.com", switchboard.RoleAgent)
		b := ts.browser()
		for range 10 {
			b.post(t, "/forgot", url.Values{"email": {"ada@example.com"}}).wantStatus(t, http.StatusOK)
		}
		res := b.post(t, "/forgot", url.Values{"email": {"ada@example.com"}}).wantStatus(t, http.StatusTooManyRequests).
			wantContains(t, "Too many password reset requests from your address")
		if res.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		ts.api("").call(t, http.MethodPost, "/api/v1/password-reset", map[string]string{"email": "ada@example.com"}).
			wantStatus(t, http.StatusTooManyRequests)
		if got := ts.resetEmails(t); len(got) != 3 {
			t.Errorf("%d reset e-mails to Ada for ten requests, want 3", len(got))
		}
	})
}

// TestForgotPasswordCrossSite: the form is refused from another site.
func TestForgotPasswordCrossSite(t *testing.T) {
	ts := newTestServerOn(t, sqlstoretest.Open(t, sqlstore.SQLite), withBaseURL())
	ts.setUp(t)
	b := ts.browser()
	b.origin = "https://evil.example"
	b.post(t, "/forgot", url.Values{"email": {"admin@example.com"}}).wantStatus(t, http.StatusForbidden)
	if got := ts.resetEmails(t); len(got) != 0 {
		t.Errorf("reset e-mails after a cross-site request: %v", got)
	}
}

// TestForgotPasswordWithoutBaseURL: without a public address no link can
// be e-mailed; the answer is the same, and the log says why nothing went.
func TestForgotPasswordWithoutBaseURL(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	// The test server writes e-mails with links on a test address; the
	// server itself, as configured, has none.
	ts.browser().post(t, "/forgot", url.Values{"email": {"admin@example.com"}}).wantStatus(t, http.StatusOK).
		wantContains(t, "If an account exists for that address")
	if got := ts.resetEmails(t); len(got) != 0 {
		t.Errorf("reset e-mails without a base URL: %v", got)
	}
	if logs := ts.logs.String(); !strings.Contains(logs, "reset e-mails cannot be sent without SWITCHBOARD_BASE_URL") {
		t.Errorf("no warning in the log:\n%s", logs)
	}
}
