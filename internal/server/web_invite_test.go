package server_test

import (
	"net/http"
	"net/url"
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
		b := ts.browser()

		res := b.get(t, inv.Path()).wantStatus(t, http.StatusOK)
		res.wantContains(t, "<title>Welcome · Switchboard</title>", "Welcome, Barbara Liskov", "barbara@example.com",
			`name="password"`, `name="password_confirm"`, `action="`+inv.Path()+`"`)
		if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("Cache-Control %q, Referrer-Policy %q", res.Header.Get("Cache-Control"), res.Header.Get("Referrer-Policy"))
		}

		b.post(t, inv.Path(), url.Values{"password": {testPassword}, "password_confirm": {testPassword + "!"}}).
			wantStatus(t, http.StatusUnprocessableEntity).
			wantContains(t, "The passwords do not match", `id="f-password_confirm-error"`, "Welcome, Barbara Liskov").
			wantNotContains(t, testPassword)
		b.post(t, inv.Path(), url.Values{"password": {"short"}, "password_confirm": {"short"}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, `id="f-password-error"`, "at least 12 characters")

		b.post(t, inv.Path(), url.Values{"password": {testPassword}, "password_confirm": {testPassword}}).
			wantStatus(t, http.StatusSeeOther).location(t, "/")
		// People in the agent role start on their profile.
		b.get(t, "/").wantStatus(t, http.StatusSeeOther).location(t, "/profile")
		b.get(t, "/profile").wantStatus(t, http.StatusOK).wantContains(t, "Welcome, Barbara Liskov. Your password is set", "Sign out")
		a, err := sqlstore.NewAgentService(db).FindAgentByID(systemCtx(), agent.ID)
		if err != nil || a.Status != switchboard.AgentActive {
			t.Errorf("agent after acceptance: %+v, %v", a, err)
		}

		// The link works once.
		again := ts.browser()
		again.get(t, inv.Path()).wantStatus(t, http.StatusNotFound).wantContains(t, "This invitation link is not valid")
		again.post(t, inv.Path(), url.Values{"password": {"another long password"}, "password_confirm": {"another long password"}}).
			wantStatus(t, http.StatusNotFound)
		again.get(t, "/").wantStatus(t, http.StatusSeeOther)
		again.get(t, "/invite/sbi_unknown").wantStatus(t, http.StatusNotFound)

		// The password chosen is the one that signs in.
		again.signIn(t, "barbara@example.com")
	})
}
