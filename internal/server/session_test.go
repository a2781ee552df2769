package server_test

import (
	"bytes"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestSetupThenSignIn walks the first run as a browser does, on every
// engine: everything leads to set-up until an admin exists, set-up signs the
// admin in, and afterwards set-up is gone.
func TestSetupThenSignIn(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		b := ts.browser()

		res := b.get(t, "/")
		res.wantStatus(t, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/setup" {
			t.Fatalf("before set-up / redirects to %q, want /setup", loc)
		}
		ts.api("").call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusForbidden).problem(t)
		b.get(t, "/setup").wantStatus(t, http.StatusOK).wantContains(t, "Set up Switchboard", `name="password_confirm"`)

		// A mistake keeps what was typed (but not the password) and names the fields.
		res = b.post(t, "/setup", url.Values{"name": {"Ada"}, "email": {"ada@example"}, "password": {"short"}, "password_confirm": {"other"}})
		res.wantStatus(t, http.StatusUnprocessableEntity).
			wantContains(t, "There is a problem", `value="Ada"`, "Enter a valid e-mail address", "at least 12 characters", "do not match", `aria-invalid="true"`).
			wantNotContains(t, `value="short"`)

		res = b.post(t, "/setup", url.Values{"name": {"Ada"}, "email": {"Ada@Example.com"}, "password": {testPassword}, "password_confirm": {testPassword}})
		res.wantStatus(t, http.StatusSeeOther)
		b.get(t, "/").wantStatus(t, http.StatusOK).wantContains(t, "Dashboard", "Welcome, Ada", "Sign out")

		// Set-up is gone for good.
		b.get(t, "/setup").wantStatus(t, http.StatusNotFound)
		res = ts.api("").call(t, http.MethodPost, "/api/v1/setup", map[string]string{"email": "eve@example.com", "name": "Eve", "password": testPassword})
		res.wantStatus(t, http.StatusNotFound).problem(t)

		// Sign out (POST), then sign in through the form with the Origin a browser sends.
		b.post(t, "/signout", nil).wantStatus(t, http.StatusSeeOther)
		b.get(t, "/").wantStatus(t, http.StatusSeeOther)
		res = b.post(t, "/signin", url.Values{"email": {"ada@example.com"}, "password": {testPassword}, "next": {"/account"}})
		res.wantStatus(t, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/account" {
			t.Errorf("sign-in redirects to %q, want /account", loc)
		}
		b.get(t, "/account").wantStatus(t, http.StatusOK).wantContains(t, "My account", "ada@example.com")
	})
}

func TestSetup_API(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	res := ts.api("").call(t, http.MethodPost, "/api/v1/setup", map[string]string{"email": "x", "name": "", "password": "short"})
	res.wantStatus(t, http.StatusUnprocessableEntity)
	p := res.problem(t)
	if len(p.Errors) == 0 {
		t.Fatalf("no field errors in %+v", p)
	}
	for _, e := range p.Errors {
		if e.Value != nil {
			t.Errorf("error echoes the input: %+v", e)
		}
	}

	res = ts.api("").call(t, http.MethodPost, "/api/v1/setup", map[string]string{"email": "root@example.com", "name": "Root", "password": testPassword})
	res.wantStatus(t, http.StatusCreated).wantContains(t, `"role":"admin"`, `"email":"root@example.com"`)
	res.wantNotContains(t, "password")
	ts.api("").call(t, http.MethodPost, "/api/v1/setup", map[string]string{"email": "two@example.com", "name": "Two", "password": testPassword}).
		wantStatus(t, http.StatusNotFound)
}

// TestCommonPasswordsRefused: every way of choosing a password refuses one
// that attackers try first, with 422 and a message on the field.
func TestCommonPasswordsRefused(t *testing.T) {
	const common, repeated = "Qwertyuiopasdfgh", "            "
	ts := newTestServer(t, sqlstore.SQLite)
	wantRefused := func(t *testing.T, res *response, field string) {
		t.Helper()
		res.wantStatus(t, http.StatusUnprocessableEntity)
		p := res.problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Location != "body."+field || !strings.Contains(p.Errors[0].Message, "too common") {
			t.Errorf("errors %+v, want one on body.%s saying it is too common", p.Errors, field)
		}
	}

	// Set-up, by API and by form.
	wantRefused(t, ts.api("").call(t, http.MethodPost, "/api/v1/setup", map[string]string{"email": "root@example.com", "name": "Root", "password": common}), "password")
	ts.browser().post(t, "/setup", url.Values{"name": {"Root"}, "email": {"root@example.com"}, "password": {repeated}, "password_confirm": {repeated}}).
		wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, "Password must not be only spaces")
	admin := ts.setUp(t)
	adminToken, _ := ts.MustCreateToken(t, admin)

	// Creating a user.
	wantRefused(t, ts.api(adminToken).call(t, http.MethodPost, "/api/v1/users",
		map[string]string{"email": "ada@example.com", "name": "Ada", "role": "agent", "password": common}), "password")

	// Changing one's password.
	wantRefused(t, ts.api(adminToken).call(t, http.MethodPost, "/api/v1/me/password",
		map[string]string{"current_password": testPassword, "new_password": common}), "new_password")

	// Accepting an invitation, or a reset link.
	_, inv := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "Barbara", Kind: switchboard.HumanAgent, Email: "barbara@example.com"})
	ts.browser().post(t, "/invite/"+inv.Secret, url.Values{"password": {common}, "password_confirm": {common}}).
		wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, "too common", `id="f-password-error"`)
	reset, err := sqlstore.NewUserService(ts.db).IssuePasswordReset(systemCtx(), admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	ts.browser().post(t, "/reset/"+reset.Secret, url.Values{"password": {common}, "password_confirm": {common}}).
		wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, "too common")
}

func TestSessionCookie(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()

	// A session that exists before sign-in (here: holding a flash message
	// from a failed attempt) must not survive it: the token is renewed.
	b.post(t, "/signin", url.Values{"email": {"admin@example.com"}, "password": {"wrong"}}).wantStatus(t, http.StatusUnauthorized)
	res := b.post(t, "/signin", url.Values{"email": {"admin@example.com"}, "password": {testPassword}})
	res.wantStatus(t, http.StatusSeeOther)
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "switchboard_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie after sign-in")
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure {
		t.Errorf("cookie HttpOnly=%v SameSite=%v Secure=%v; want HttpOnly, Lax, not Secure over plain HTTP", cookie.HttpOnly, cookie.SameSite, cookie.Secure)
	}

	// Another browser holding a copy of the pre-sign-in cookie gets nothing.
	old := ts.browser()
	u, _ := url.Parse(ts.URL)
	old.client.Jar.SetCookies(u, []*http.Cookie{{Name: "switchboard_session", Value: "fixated-session-token"}})
	old.get(t, "/").wantStatus(t, http.StatusSeeOther)
}

func TestSessionCookie_SecureBehindHTTPS(t *testing.T) {
	db := sqlstoretest.Open(t, sqlstore.SQLite)
	opts := serverOptions()
	opts.BaseURL, _ = url.Parse("https://switchboard.example.com")
	ts := newTestServerOn(t, db, opts)
	ts.setUp(t)
	b := ts.browser()
	res := b.post(t, "/signin", url.Values{"email": {"admin@example.com"}, "password": {testPassword}})
	res.wantStatus(t, http.StatusSeeOther)
	// The __Host- prefix: browsers take the cookie only Secure, for the
	// whole site, and from this host alone.
	if c := res.Cookies(); len(c) != 1 || c[0].Name != "__Host-switchboard_session" || !c[0].Secure || c[0].Path != "/" || c[0].Domain != "" {
		t.Errorf("cookies %v: want one __Host-switchboard_session, Secure, Path=/, no Domain", c)
	}
	if h := res.Header.Get("Strict-Transport-Security"); !strings.Contains(h, "max-age=") {
		t.Errorf("HSTS = %q", h)
	}
}

// TestSessionCookie_StoredHashed: the sessions table holds nothing that a
// browser could send back as its cookie.
func TestSessionCookie_StoredHashed(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	res := ts.browser().post(t, "/signin", url.Values{"email": {"admin@example.com"}, "password": {testPassword}})
	res.wantStatus(t, http.StatusSeeOther)
	var token string
	for _, c := range res.Cookies() {
		if c.Name == "switchboard_session" {
			token = c.Value
		}
	}
	var sessions, plain int
	if err := ts.db.SQL().QueryRow("SELECT COUNT(*), COUNT(CASE WHEN token = ? THEN 1 END) FROM sessions", token).Scan(&sessions, &plain); err != nil {
		t.Fatal(err)
	}
	if token == "" || sessions != 1 || plain != 0 {
		t.Errorf("cookie %q: %d sessions stored, %d of them under the cookie's value; want 1 and 0", token, sessions, plain)
	}
}

// TestCrossSitePOSTRefused: a form posted from another site, with a valid
// session cookie, is refused and changes nothing.
func TestCrossSitePOSTRefused(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	b.origin = "https://evil.example"
	res := b.post(t, "/account/tokens", url.Values{"name": {"stolen"}, "lifetime": {"0"}})
	res.wantStatus(t, http.StatusForbidden).wantContains(t, "Cross-origin request refused")
	res = b.post(t, "/users", url.Values{"name": {"Mallory"}, "email": {"mallory@example.com"}, "role": {"admin"}, "password": {testPassword}, "password_confirm": {testPassword}})
	res.wantStatus(t, http.StatusForbidden)

	b.origin = ts.URL
	b.get(t, "/account").wantStatus(t, http.StatusOK).wantContains(t, "You have no API tokens yet").wantNotContains(t, "stolen")
	b.get(t, "/users").wantStatus(t, http.StatusOK).wantNotContains(t, "mallory@example.com")

	// The API's session-authenticated calls are protected the same way.
	req := ts.api("")
	res = req.call(t, http.MethodPost, "/api/v1/session", map[string]string{"email": "admin@example.com", "password": testPassword},
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	res.wantStatus(t, http.StatusForbidden).problem(t)
}

func TestSignInLockout(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		// Behind a trusted proxy, so that clients can come from elsewhere.
		opts := serverOptions()
		opts.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		ts := newTestServerOn(t, db, opts)
		ts.setUp(t)
		ts.MustCreateUser(t, "ada@example.com", switchboard.RoleAgent)
		c := ts.api("")
		for i := range switchboard.MaxSignInFailures {
			res := c.call(t, http.MethodPost, "/api/v1/session", map[string]string{"email": "ada@example.com", "password": "wrong" + strconv.Itoa(i)})
			res.wantStatus(t, http.StatusUnauthorized)
			if p := res.problem(t); p.Detail != switchboard.ErrBadCredentials.Message {
				t.Fatalf("attempt %d: detail %q", i+1, p.Detail)
			}
		}
		// The 11th attempt is refused even with the right password.
		res := c.call(t, http.MethodPost, "/api/v1/session", map[string]string{"email": "ada@example.com", "password": testPassword})
		res.wantStatus(t, http.StatusTooManyRequests).problem(t)
		if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra < 60 {
			t.Errorf("Retry-After = %q, want minutes", res.Header.Get("Retry-After"))
		}
		// The same through the HTML form.
		b := ts.browser()
		b.post(t, "/signin", url.Values{"email": {"ada@example.com"}, "password": {testPassword}}).
			wantStatus(t, http.StatusTooManyRequests).wantContains(t, "Too many failed sign-in attempts")
		// The lockout is the guesser's own: from another address the owner
		// signs in, and the guesser's address stays locked.
		c.call(t, http.MethodPost, "/api/v1/session", map[string]string{"email": "ada@example.com", "password": testPassword},
			"X-Forwarded-For", "198.51.100.20").wantStatus(t, http.StatusOK)
		c.call(t, http.MethodPost, "/api/v1/session", map[string]string{"email": "ada@example.com", "password": testPassword}).
			wantStatus(t, http.StatusTooManyRequests)
		// An unknown and a known address fail alike.
		unknown := c.call(t, http.MethodPost, "/api/v1/session", map[string]string{"email": "nobody@example.com", "password": "wrong"})
		known := c.call(t, http.MethodPost, "/api/v1/session", map[string]string{"email": "admin@example.com", "password": "wrong"})
		if unknown.StatusCode != known.StatusCode || unknown.problem(t).Detail != known.problem(t).Detail {
			t.Errorf("unknown e-mail answers %d %q, wrong password %d %q", unknown.StatusCode, unknown.body, known.StatusCode, known.body)
		}
	})
}

// TestSignInThrottlePerAddress: an address gets a burst of attempts, then
// 429 with Retry-After; two instances on one database share its bucket.
func TestSignInThrottlePerAddress(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		// The database's clock stands still, so that no attempt refills
		// however slowly the machine runs the thirty calls.
		frozen := time.Now().UTC()
		db.Now = func() time.Time { return frozen }
		one, two := newTestServerOn(t, db, serverOptions()), newTestServerOn(t, db, serverOptions())
		one.setUp(t)
		var last *response
		allowed := 0
		for i := range 30 {
			ts := one
			if i%2 == 1 {
				ts = two
			}
			last = ts.api("").call(t, http.MethodPost, "/api/v1/session", map[string]string{"email": "user" + strconv.Itoa(i) + "@example.com", "password": "wrong"})
			if last.StatusCode == http.StatusTooManyRequests {
				break
			}
			allowed++
		}
		last.wantStatus(t, http.StatusTooManyRequests)
		if allowed != 20 {
			t.Errorf("%d attempts allowed across two instances, want the burst of 20", allowed)
		}
		if last.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		if p := last.problem(t); !strings.Contains(p.Detail, "your address") {
			t.Errorf("detail %q", p.Detail)
		}
	})
}

// TestDisabledAccountIsNoOracle: the right password of a disabled account
// answers exactly as a wrong one, by API and by form, so that a guesser
// learns neither that the password is right nor that the account is
// disabled.
func TestDisabledAccountIsNoOracle(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		ts.setUp(t)
		u := ts.MustCreateUser(t, "gone@example.com", switchboard.RoleSupervisor)
		disabled := switchboard.UserDisabled
		if _, err := sqlstore.NewUserService(db).UpdateUser(systemCtx(), u.ID, switchboard.UserUpdate{Status: &disabled}); err != nil {
			t.Fatal(err)
		}
		signIn := func(password string) *response {
			return ts.api("").call(t, http.MethodPost, "/api/v1/session", map[string]string{"email": "gone@example.com", "password": password})
		}
		right, wrong := signIn(testPassword), signIn("not the password")
		right.wantStatus(t, http.StatusUnauthorized)
		pr, pw := right.problem(t), wrong.problem(t)
		pr.RequestID, pw.RequestID = "", ""
		if !reflect.DeepEqual(pr, pw) || right.StatusCode != wrong.StatusCode {
			t.Errorf("right password of a disabled account: %d %+v; wrong password: %d %+v", right.StatusCode, pr, wrong.StatusCode, pw)
		}

		form := func(password string) *response {
			return ts.browser().post(t, "/signin", url.Values{"email": {"gone@example.com"}, "password": {password}})
		}
		right, wrong = form(testPassword), form("not the password")
		right.wantStatus(t, http.StatusUnauthorized)
		if right.StatusCode != wrong.StatusCode || !bytes.Equal(right.body, wrong.body) {
			t.Errorf("the form answers the right password of a disabled account with %d:\n%s\nand a wrong one with %d:\n%s",
				right.StatusCode, right.body, wrong.StatusCode, wrong.body)
		}
	})
}

func TestDisabledUserSessionEnds(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	agent := ts.MustCreateUser(t, "agent@example.com", switchboard.RoleAgent)
	b := ts.browser()
	b.signIn(t, "agent@example.com")
	b.get(t, "/account").wantStatus(t, http.StatusOK)

	disabled := switchboard.UserDisabled
	ctx := switchboard.NewContextWithActor(t.Context(), &switchboard.Actor{User: admin})
	if _, err := sqlstore.NewUserService(ts.db).UpdateUser(ctx, agent.ID, switchboard.UserUpdate{Status: &disabled}); err != nil {
		t.Fatal(err)
	}
	b.get(t, "/account").wantStatus(t, http.StatusSeeOther)
}

func TestChangePassword_EndsOtherSessions(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	ts.MustCreateUser(t, "ada@example.com", switchboard.RoleSupervisor)
	laptop, phone := ts.browser(), ts.browser()
	laptop.signIn(t, "ada@example.com")
	phone.signIn(t, "ada@example.com")

	res := laptop.post(t, "/account/password", url.Values{"current_password": {"wrong"}, "new_password": {"a new long password"}, "new_password_confirm": {"a new long password"}})
	res.wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, "The current password is incorrect")

	res = laptop.post(t, "/account/password", url.Values{"current_password": {testPassword}, "new_password": {"a new long password"}, "new_password_confirm": {"a new long password"}})
	res.wantStatus(t, http.StatusSeeOther)
	laptop.get(t, "/account").wantStatus(t, http.StatusOK).wantContains(t, "Your password has been changed")
	phone.get(t, "/account").wantStatus(t, http.StatusSeeOther)
}

func TestSignInRedirectStaysLocal(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	for _, next := range []string{"https://evil.example/", "//evil.example", "/\\evil.example"} {
		b := ts.browser()
		res := b.post(t, "/signin", url.Values{"email": {"admin@example.com"}, "password": {testPassword}, "next": {next}})
		res.wantStatus(t, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/" {
			t.Errorf("next=%q redirects to %q, want /", next, loc)
		}
	}
}
