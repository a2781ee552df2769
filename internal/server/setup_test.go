package server_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

const setupCode = "the-one-time-code-from-the-server-log"

func newSetupServer(t *testing.T) *testServer {
	t.Helper()
	opts := serverOptions()
	opts.SetupCode = setupCode
	opts.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	return newTestServerOn(t, sqlstoretest.Open(t, sqlstore.SQLite), opts)
}

func setupRequest(code string) map[string]string {
	b := map[string]string{"email": "ops@example.com", "name": "Ops", "password": testPassword}
	if code != "" {
		b["code"] = code
	}
	return b
}

// TestSetup_FromAnotherMachine: first-run set-up from anywhere but the
// server's own machine needs the one-time code from the server's log;
// without it, or with a wrong one, nothing is created. Once set-up is done
// the code is worth nothing.
func TestSetup_FromAnotherMachine(t *testing.T) {
	t.Run("API", func(t *testing.T) {
		ts := newSetupServer(t)
		for _, code := range []string{"", "wrong", setupCode + "x", strings.ToUpper(setupCode)} {
			res := ts.api("").call(t, http.MethodPost, "/api/v1/setup", setupRequest(code), remote...)
			res.wantStatus(t, http.StatusForbidden)
			if p := res.problem(t); !strings.Contains(p.Detail, "set-up code") {
				t.Errorf("code %q: detail %q, want it to explain the set-up code", code, p.Detail)
			}
		}
		if n, _ := sqlstore.NewUserService(ts.db).CountUsers(t.Context()); n != 0 {
			t.Fatalf("%d users after refused set-ups, want none", n)
		}
		ts.api("").call(t, http.MethodPost, "/api/v1/setup", setupRequest(setupCode), remote...).
			wantStatus(t, http.StatusCreated).wantNotContains(t, setupCode)
		res := ts.api("").call(t, http.MethodPost, "/api/v1/setup",
			map[string]string{"email": "two@example.com", "name": "Two", "password": testPassword, "code": setupCode}, remote...)
		res.wantStatus(t, http.StatusNotFound)
	})

	t.Run("Web", func(t *testing.T) {
		ts := newSetupServer(t)
		b := ts.browser()
		b.client.Transport = headerTransport{"X-Forwarded-For": "203.0.113.9"}
		form := url.Values{"name": {"Ops"}, "email": {"ops@example.com"}, "password": {testPassword}, "password_confirm": {testPassword}}

		// Everything leads to /setup, which explains what is missing.
		b.get(t, "/setup").wantStatus(t, http.StatusForbidden).wantContains(t, "set-up code").wantNotContains(t, `name="password"`)
		b.get(t, "/setup?code=wrong").wantStatus(t, http.StatusForbidden)
		b.post(t, "/setup", form).wantStatus(t, http.StatusForbidden)
		form.Set("code", "wrong")
		b.post(t, "/setup", form).wantStatus(t, http.StatusForbidden)

		// The link from the log opens the form, which sends the code back.
		b.get(t, "/setup?code="+setupCode).wantStatus(t, http.StatusOK).
			wantContains(t, `name="password"`, `<input type="hidden" name="code" value="`+setupCode+`">`)
		form.Set("code", setupCode)
		b.post(t, "/setup", form).wantStatus(t, http.StatusSeeOther)
		b.get(t, "/").wantStatus(t, http.StatusOK).wantContains(t, "Welcome, Ops")
		// Done: the code opens nothing any more.
		ts.browser().get(t, "/setup?code="+setupCode).wantStatus(t, http.StatusNotFound)
	})

	// The same from a peer that is not a loopback address at all, with
	// no proxy in between.
	t.Run("RemotePeer", func(t *testing.T) {
		ts := newSetupServer(t)
		c := remotePeer(t, ts).api("")
		c.call(t, http.MethodPost, "/api/v1/setup", setupRequest("")).wantStatus(t, http.StatusForbidden)
		c.call(t, http.MethodPost, "/api/v1/setup", setupRequest("wrong")).wantStatus(t, http.StatusForbidden)
		c.call(t, http.MethodPost, "/api/v1/setup", setupRequest(setupCode)).wantStatus(t, http.StatusCreated)
	})

	// Without a code (a server started after set-up, or a test), only
	// this machine can set up.
	t.Run("NoCode", func(t *testing.T) {
		ts := newTestServer(t, sqlstore.SQLite)
		ts.api("").call(t, http.MethodPost, "/api/v1/setup", setupRequest(""), remote...).wantStatus(t, http.StatusForbidden)
		ts.api("").call(t, http.MethodPost, "/api/v1/setup", setupRequest("anything"), remote...).wantStatus(t, http.StatusForbidden)
	})
}

// TestSetup_OnThisMachine: the operator at the server (or through an SSH
// tunnel) needs no code, whichever loopback name they use; a request that
// a proxy relayed, or that names another host, is not such a request.
func TestSetup_OnThisMachine(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"Localhost", []string{"Host", "localhost"}, http.StatusCreated},
		{"LoopbackAddress", nil, http.StatusCreated},
		{"ForwardedFor", []string{"X-Forwarded-For", "127.0.0.1"}, http.StatusForbidden},
		{"Forwarded", []string{"Forwarded", "for=198.51.100.4"}, http.StatusForbidden},
		{"RealIP", []string{"X-Real-IP", "198.51.100.4"}, http.StatusForbidden},
		// A proxy on this machine that passes the public name on.
		{"PublicHost", []string{"Host", "192.0.2.80"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newSetupServer(t)
			ts.api("").call(t, http.MethodPost, "/api/v1/setup", setupRequest(""), tc.headers...).wantStatus(t, tc.want)
		})
	}
}

// headerTransport adds headers to every request, as a proxy would.
type headerTransport map[string]string

func (h headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range h {
		req.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(req)
}
