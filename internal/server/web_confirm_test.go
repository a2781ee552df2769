package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// A new secret is shown once, after a redirect: reloading the page shows
// it no more and makes no other, and its address opens nothing elsewhere.
func TestRevealOnce(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	res := b.post(t, "/account/tokens", url.Values{"name": {"deploy"}, "lifetime": {"30"}}).wantStatus(t, http.StatusSeeOther)
	target := res.Header.Get("Location")
	if !strings.HasPrefix(target, "/account?reveal=") || !strings.HasSuffix(target, "#tokens") {
		t.Fatalf("redirect to %q, want /account?reveal=…#tokens", target)
	}
	// Another browser, even with the address, sees nothing.
	other := ts.browser()
	other.signIn(t, "admin@example.com")
	other.get(t, target).wantStatus(t, http.StatusOK).wantNotContains(t, `value="sbp_`, `id="new-token"`)
	// Nor does another page of the same browser, whose key it is not.
	wrongPage := strings.TrimSuffix(strings.Replace(target, "/account?", "/enrollment?", 1), "#tokens")
	b.get(t, wrongPage).wantStatus(t, http.StatusOK).wantNotContains(t, "sbp_")
	// The page it was meant for shows it once, beside the tokens.
	b.get(t, target).wantStatus(t, http.StatusOK).wantContains(t, `id="new-token"`, "Token “deploy” created")
	b.get(t, target).wantStatus(t, http.StatusOK).wantNotContains(t, `id="new-token"`)
	// A key altered or cut short opens nothing, and fails nothing.
	res = b.post(t, "/account/tokens", url.Values{"name": {"second"}, "lifetime": {"30"}}).wantStatus(t, http.StatusSeeOther)
	u, _ := url.Parse(res.Header.Get("Location"))
	key := u.Query().Get("reveal")
	for _, bad := range []string{key[:len(key)-2] + "AA", key[:10], "nonsense", strings.Replace(key, ".", "", 1)} {
		b.get(t, "/account?"+url.Values{"reveal": {bad}}.Encode()).wantStatus(t, http.StatusOK).wantNotContains(t, `id="new-token"`)
	}
}

// A destructive action asks first, reposting its own fields, and acts only
// on confirm=yes.
func TestConfirmationPage(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team := ts.MustCreateTeam(t, "Billing")
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	res := b.post(t, "/teams/"+team.ID+"/delete", url.Values{"note": {`"><script>`}}).wantStatus(t, http.StatusOK)
	res.wantContains(t, "<title>Delete the team Billing? · Switchboard</title>", `action="/teams/`+team.ID+`/delete"`,
		`name="confirm" value="yes"`, `name="note" value="&#34;&gt;&lt;script&gt;"`, `href="/teams/`+team.ID+`">Cancel</a>`).
		wantNotContains(t, `"><script>`)
	b.get(t, "/teams/"+team.ID).wantStatus(t, http.StatusOK)
	b.post(t, "/teams/"+team.ID+"/delete", url.Values{"confirm": {"no"}}).wantStatus(t, http.StatusOK)
	b.get(t, "/teams/"+team.ID).wantStatus(t, http.StatusOK)
	b.post(t, "/teams/"+team.ID+"/delete", confirmed(nil)).wantStatus(t, http.StatusSeeOther)
	b.get(t, "/teams/"+team.ID).wantStatus(t, http.StatusNotFound)
}
