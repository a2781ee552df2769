package server_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestInvitePage: an invited person opens their link, chooses a password
// and is signed in; the link then stops working.
func TestInvitePage(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		ts.setUp(t)
		agent, inv := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "Barbara Liskov", Kind: switchboard.HumanAgent, Email: "barbara@example.com"})
		if inv == nil || inv.Secret == "" {
			t.Fatal("no invitation for a new person")
		}
		link := "/invite/" + inv.Secret
		b := ts.browser()

		res := b.get(t, link).wantStatus(t, http.StatusOK)
		res.wantContains(t, "<title>Welcome · Switchboard</title>", "Welcome, Barbara Liskov", "barbara@example.com",
			`name="password"`, `name="password_confirm"`, `action="`+link+`"`)
		if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("Cache-Control %q, Referrer-Policy %q", res.Header.Get("Cache-Control"), res.Header.Get("Referrer-Policy"))
		}

		b.post(t, link, url.Values{"password": {testPassword}, "password_confirm": {testPassword + "!"}}).
			wantStatus(t, http.StatusUnprocessableEntity).
			wantContains(t, "The passwords do not match", `id="f-password_confirm-error"`, "Welcome, Barbara Liskov").
			wantNotContains(t, testPassword)
		b.post(t, link, url.Values{"password": {"short"}, "password_confirm": {"short"}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, `id="f-password-error"`, "at least 12 characters")

		b.post(t, link, url.Values{"password": {testPassword}, "password_confirm": {testPassword}}).
			wantStatus(t, http.StatusSeeOther).location(t, "/")
		// People in the agent role start on their work.
		b.get(t, "/").wantStatus(t, http.StatusSeeOther).location(t, "/my-work")
		b.get(t, "/my-work").wantStatus(t, http.StatusOK).wantContains(t, "Welcome, Barbara Liskov. Your password is set", "Sign out")
		a, err := sqlstore.NewAgentService(db).FindAgentByID(systemCtx(), agent.ID)
		if err != nil || a.Status != switchboard.AgentActive {
			t.Errorf("agent after acceptance: %+v, %v", a, err)
		}

		// The link works once.
		again := ts.browser()
		again.get(t, link).wantStatus(t, http.StatusNotFound).wantContains(t, "This link is not valid")
		again.post(t, link, url.Values{"password": {"another long password"}, "password_confirm": {"another long password"}}).
			wantStatus(t, http.StatusNotFound)
		again.get(t, "/").wantStatus(t, http.StatusSeeOther)
		again.get(t, "/invite/sbi_unknown").wantStatus(t, http.StatusNotFound)

		// The password chosen is the one that signs in.
		again.signIn(t, "barbara@example.com")
	})
}

// TestPasswordResetLink: an admin makes a reset link, by the API or on the
// user's page; the person chooses a new password with it and is signed in,
// and every session from before ends.
func TestPasswordResetLink(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		admin := ts.setUp(t)
		adminToken, _ := ts.MustCreateToken(t, admin)
		ada := ts.MustCreateUser(t, "ada@example.com", switchboard.RoleSupervisor)
		adaToken, _ := ts.MustCreateToken(t, ada)
		old := ts.browser()
		old.signIn(t, "ada@example.com")

		// Admins only; a user without a password is invited instead.
		ts.api(adaToken).call(t, http.MethodPost, "/api/v1/users/"+ada.ID+"/password-reset", nil).
			wantStatus(t, http.StatusForbidden).problem(t)
		ts.api(adminToken).call(t, http.MethodPost, "/api/v1/users/no-such-user/password-reset", nil).
			wantStatus(t, http.StatusNotFound).problem(t)
		_, inv := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "Invited", Kind: switchboard.HumanAgent, Email: "invited@example.com"})
		if p := ts.api(adminToken).call(t, http.MethodPost, "/api/v1/users/"+inv.UserID+"/password-reset", nil).
			wantStatus(t, http.StatusConflict).problem(t); !strings.Contains(p.Detail, "invitation") {
			t.Errorf("detail = %q", p.Detail)
		}
		var again struct{ URL string }
		ts.api(adminToken).call(t, http.MethodPost, "/api/v1/users/"+inv.UserID+"/invitation", nil).
			wantStatus(t, http.StatusCreated).decode(t, &again)
		if !strings.Contains(again.URL, "/invite/sbi_") {
			t.Errorf("invitation url = %q", again.URL)
		}

		var link struct {
			Email     string
			URL       string
			ExpiresAt string `json:"expires_at"`
		}
		ts.api(adminToken).call(t, http.MethodPost, "/api/v1/users/"+ada.ID+"/password-reset", nil).
			wantStatus(t, http.StatusCreated).decode(t, &link)
		if link.Email != "ada@example.com" || !strings.HasPrefix(link.URL, ts.URL+"/reset/sbr_") || link.ExpiresAt == "" {
			t.Fatalf("link = %+v", link)
		}
		path := strings.TrimPrefix(link.URL, ts.URL)

		// The admin's page shows a newer link once, and voids the first.
		console := ts.browser()
		console.signIn(t, "admin@example.com")
		console.get(t, "/users/"+ada.ID).wantStatus(t, http.StatusOK).
			wantContains(t, `action="/users/`+ada.ID+`/password-reset"`, "Make a password reset link")
		page := console.follow(t, console.post(t, "/users/"+ada.ID+"/password-reset", confirmed(nil))).
			wantContains(t, "Password reset link for ada@example.com", "/reset/sbr_")
		ts.browser().get(t, path).wantStatus(t, http.StatusNotFound).wantContains(t, "This link is not valid")
		i := bytes.Index(page.body, []byte("/reset/sbr_"))
		path = string(page.body[i : i+bytes.IndexByte(page.body[i:], '"')])
		// Each kind of link works at its own address only.
		ts.browser().get(t, strings.Replace(path, "/reset/", "/invite/", 1)).wantStatus(t, http.StatusNotFound)
		ts.browser().get(t, strings.Replace(again.URL[strings.Index(again.URL, "/invite/"):], "/invite/", "/reset/", 1)).
			wantStatus(t, http.StatusNotFound)

		// A user with a password gets no new invitation.
		console.post(t, "/users/"+ada.ID+"/invitation", confirmed(nil)).wantStatus(t, http.StatusSeeOther).location(t, "/users/"+ada.ID)

		b := ts.browser()
		b.get(t, path).wantStatus(t, http.StatusOK).
			wantContains(t, "<title>Choose a new password · Switchboard</title>", "ada@example.com", `action="`+path+`"`).
			wantNotContains(t, "Welcome,")
		const newPassword = "a freshly chosen password"
		b.post(t, path, url.Values{"password": {newPassword}, "password_confirm": {newPassword}}).
			wantStatus(t, http.StatusSeeOther).location(t, "/")
		b.get(t, "/").wantStatus(t, http.StatusOK).wantContains(t, "Your new password is set")

		// The session from before the reset is over; the link is used up;
		// the new password signs in; the log never saw the secret.
		old.get(t, "/account").wantStatus(t, http.StatusSeeOther).location(t, "/signin?next=%2Faccount")
		b.post(t, path, url.Values{"password": {newPassword}, "password_confirm": {newPassword}}).wantStatus(t, http.StatusNotFound)
		ts.api("").call(t, http.MethodPost, "/api/v1/session", map[string]string{"email": "ada@example.com", "password": newPassword}).
			wantStatus(t, http.StatusOK)
		if strings.Contains(ts.logs.String(), "sbr_") {
			t.Error("a reset secret reached the log")
		}
	})
}
