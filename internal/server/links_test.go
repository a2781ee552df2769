package server_test

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

type createdAgent struct {
	ID         string `json:"id"`
	UserID     string `json:"user_id"`
	Invitation *struct {
		URL string `json:"url"`
	} `json:"invitation"`
}

// TestLinks_WithoutBaseURL: without a base URL, the links that carry a
// secret (invitations, password resets) are made only for requests made on
// the server's machine, on the loopback address they came to. From anywhere
// else the request's Host is the client's to choose, so every way of making
// a link is refused, before anything changes, with a message that says to
// set SWITCHBOARD_BASE_URL.
func TestLinks_WithoutBaseURL(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	token, _ := ts.MustCreateToken(t, ts.setUp(t))
	api := ts.api(token)
	wantRefused := func(t *testing.T, res *response) {
		t.Helper()
		res.wantStatus(t, http.StatusNotImplemented)
		if p := res.problem(t); !strings.Contains(p.Detail, "SWITCHBOARD_BASE_URL") {
			t.Errorf("detail %q: want it to say to set SWITCHBOARD_BASE_URL", p.Detail)
		}
	}

	// On this machine the link is made on the address the request came to.
	var local createdAgent
	api.call(t, http.MethodPost, "/api/v1/agents", map[string]any{"name": "Ada", "kind": "human", "email": "ada@example.com"}).
		wantStatus(t, http.StatusCreated).decode(t, &local)
	if local.Invitation == nil || !strings.HasPrefix(local.Invitation.URL, ts.URL+"/invite/") {
		t.Fatalf("invitation %+v: want a link on %s", local.Invitation, ts.URL)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	var link struct {
		URL string `json:"url"`
	}
	api.call(t, http.MethodPost, "/api/v1/users/"+local.UserID+"/invitation", nil, "Host", "localhost:"+port).
		wantStatus(t, http.StatusCreated).decode(t, &link)
	if !strings.HasPrefix(link.URL, "http://localhost:"+port+"/invite/") {
		t.Errorf("link %q: want it on http://localhost:%s", link.URL, port)
	}

	// Through a proxy: refused.
	wantRefused(t, api.call(t, http.MethodPost, "/api/v1/agents", map[string]any{"name": "Bob", "kind": "human", "email": "bob@example.com"}, remote...))
	wantRefused(t, api.call(t, http.MethodPost, "/api/v1/users/"+local.UserID+"/invitation", nil, remote...))
	wantRefused(t, api.call(t, http.MethodPost, "/api/v1/agents/"+local.ID+"/invitation", nil, remote...))
	admin, err := sqlstore.NewUserService(ts.db).FindUserByEmail(systemCtx(), "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, api.call(t, http.MethodPost, "/api/v1/users/"+admin.ID+"/password-reset", nil, remote...))
	wantRefused(t, api.call(t, http.MethodPost, "/api/v1/agents/import", "name,kind,email\nCy,human,cy@example.com\n",
		append([]string{"Content-Type", "text/csv"}, remote...)...))
	// Nothing was made.
	if _, err := sqlstore.NewUserService(ts.db).FindUserByEmail(systemCtx(), "bob@example.com"); switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
		t.Errorf("bob@example.com: %v, want no such user", err)
	}
	if _, err := sqlstore.NewUserService(ts.db).FindUserByEmail(systemCtx(), "cy@example.com"); switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
		t.Errorf("cy@example.com: %v, want no such user", err)
	}
	// What needs no link still works from elsewhere.
	api.call(t, http.MethodPost, "/api/v1/agents", map[string]any{"name": "runner-1", "kind": "machine"}, remote...).
		wantStatus(t, http.StatusCreated)
	api.call(t, http.MethodPost, "/api/v1/agents/import", "name,kind\nrunner-2,machine\n",
		append([]string{"Content-Type", "text/csv"}, remote...)...).wantStatus(t, http.StatusCreated)

	// From another machine with no proxy, by IP address: refused too.
	peer := remotePeer(t, ts)
	wantRefused(t, peer.api(token).call(t, http.MethodPost, "/api/v1/users/"+admin.ID+"/password-reset", nil))

	// The web pages say the same.
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	b.client.Transport = headerTransport{"X-Forwarded-For": "203.0.113.9"}
	b.post(t, "/agents", url.Values{"name": {"Dee"}, "kind": {"human"}, "email": {"dee@example.com"}, "capacity": {"1"}}).
		wantStatus(t, http.StatusNotImplemented).wantContains(t, "SWITCHBOARD_BASE_URL").wantNotContains(t, "/invite/")
	b.post(t, "/users/"+admin.ID+"/password-reset", confirmed(nil)).wantStatus(t, http.StatusSeeOther)
	b.get(t, "/users/"+admin.ID).wantStatus(t, http.StatusOK).wantContains(t, "SWITCHBOARD_BASE_URL").wantNotContains(t, "/reset/")
	b.post(t, "/agents/"+local.ID+"/invitation", confirmed(nil)).wantStatus(t, http.StatusSeeOther)
	b.get(t, "/agents/"+local.ID).wantStatus(t, http.StatusOK).wantContains(t, "SWITCHBOARD_BASE_URL").wantNotContains(t, "/invite/")
}

// TestLinks_BaseURL: with a base URL, links are made on it, whatever host the
// request names and wherever it comes from.
func TestLinks_BaseURL(t *testing.T) {
	opts := serverOptions()
	opts.BaseURL, _ = url.Parse("https://switchboard.example.com")
	ts := newTestServerOn(t, sqlstoretest.Open(t, sqlstore.SQLite), opts)
	token, _ := ts.MustCreateToken(t, ts.setUp(t))
	for i, headers := range [][]string{remote, nil, {"Host", "localhost"}, {"Host", "switchboard.example.com", "X-Forwarded-For", "203.0.113.9"}} {
		var a createdAgent
		email := "person" + string(rune('a'+i)) + "@example.com"
		ts.api(token).call(t, http.MethodPost, "/api/v1/agents", map[string]any{"name": "Person", "kind": "human", "email": email}, headers...).
			wantStatus(t, http.StatusCreated).decode(t, &a)
		if a.Invitation == nil || !strings.HasPrefix(a.Invitation.URL, "https://switchboard.example.com/invite/") {
			t.Errorf("headers %v: invitation %+v, want a link on the base URL", headers, a.Invitation)
		}
	}
}
