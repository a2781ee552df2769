package server_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// remote is the header with which a proxy relays a request from another
// machine: the request is then not made on the server's machine, although
// the test's connection comes from a loopback address.
var remote = []string{"X-Forwarded-For", "203.0.113.9"}

// remotePeer serves ts's handler also on a non-loopback address of this
// machine, where requests come from a peer that is not a loopback address.
// It skips the test on a machine with no such address.
func remotePeer(t *testing.T, ts *testServer) *testServer {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || !n.IP.IsGlobalUnicast() || n.IP.To4() == nil {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(n.IP.String(), "0"))
		if err != nil {
			continue
		}
		srv := httptest.NewUnstartedServer(ts.Config.Handler)
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		t.Cleanup(srv.Close)
		return &testServer{Server: srv, db: ts.db, logs: ts.logs}
	}
	t.Skip("this machine has no non-loopback IPv4 address to test from")
	return nil
}

// TestHostCheck: a request whose Host is neither the base URL's host nor
// this machine's name nor an IP address is refused with 421, as a page that
// rebound its own domain name to the server would send. Set-up in
// particular cannot be reached that way.
func TestHostCheck(t *testing.T) {
	t.Run("NoBaseURL", func(t *testing.T) {
		ts := newTestServer(t, sqlstore.SQLite)
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
		for host, want := range map[string]int{
			"rebound.example:" + port:  http.StatusMisdirectedRequest,
			"rebound.example":          http.StatusMisdirectedRequest,
			"127.0.0.1.nip.io:" + port: http.StatusMisdirectedRequest,
			"localhost:" + port:        http.StatusOK,
			"LOCALHOST.:" + port:       http.StatusOK,
			"app.localhost:" + port:    http.StatusOK,
			"127.0.0.1:" + port:        http.StatusOK,
			"[::1]:" + port:            http.StatusOK,
			"192.0.2.7:" + port:        http.StatusOK, // an address cannot be rebound
			"[2001:db8::7]":            http.StatusOK,
		} {
			res := ts.api("").call(t, http.MethodGet, "/api/v1/openapi.json", nil, "Host", host)
			if res.StatusCode != want {
				t.Errorf("Host %s: status %d, want %d", host, res.StatusCode, want)
			}
		}

		// Set-up through a rebound name is refused, and creates nothing.
		body := map[string]string{"email": "eve@example.com", "name": "Eve", "password": testPassword}
		res := ts.api("").call(t, http.MethodPost, "/api/v1/setup", body, "Host", "rebound.example:"+port)
		res.wantStatus(t, http.StatusMisdirectedRequest)
		if p := res.problem(t); !strings.Contains(p.Detail, "SWITCHBOARD_BASE_URL") {
			t.Errorf("detail %q: want it to name SWITCHBOARD_BASE_URL", p.Detail)
		}
		b := ts.browser()
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/setup", nil)
		req.Host = "rebound.example:" + port
		req.Header.Set("Accept", "text/html")
		do(t, b.client, req).wantStatus(t, http.StatusMisdirectedRequest).wantContains(t, "does not answer to the host name rebound.example")
		if n, err := sqlstore.NewUserService(ts.db).CountUsers(t.Context()); err != nil || n != 0 {
			t.Fatalf("%d users after refused set-up (%v), want none", n, err)
		}
		// Health probes are answered whatever name they use.
		req, _ = http.NewRequest(http.MethodGet, ts.URL+"/healthz", nil)
		req.Host = "instance-7.internal"
		do(t, http.DefaultClient, req).wantStatus(t, http.StatusOK)

		ts.api("").call(t, http.MethodPost, "/api/v1/setup", body, "Host", "localhost:"+port).wantStatus(t, http.StatusCreated)
	})

	t.Run("BaseURL", func(t *testing.T) {
		opts := serverOptions()
		opts.BaseURL, _ = url.Parse("https://switchboard.example.com")
		ts := newTestServerOn(t, sqlstoretest.Open(t, sqlstore.SQLite), opts)
		token, _ := ts.MustCreateToken(t, ts.setUp(t))
		for host, want := range map[string]int{
			"switchboard.example.com":             http.StatusOK,
			"Switchboard.Example.COM.:443":        http.StatusOK,
			"evil.switchboard.example.com":        http.StatusMisdirectedRequest,
			"switchboard.example.com.evil":        http.StatusMisdirectedRequest,
			"rebound.example":                     http.StatusMisdirectedRequest,
			"localhost":                           http.StatusOK,
			strings.TrimPrefix(ts.URL, "http://"): http.StatusOK,
		} {
			res := ts.api(token).call(t, http.MethodGet, "/api/v1/me", nil, "Host", host)
			if res.StatusCode != want {
				t.Errorf("Host %s: status %d, want %d", host, res.StatusCode, want)
			}
			if want == http.StatusMisdirectedRequest && !strings.Contains(res.problem(t).Detail, "https://switchboard.example.com") {
				t.Errorf("Host %s: detail %q, want it to name the base URL", host, res.problem(t).Detail)
			}
		}
	})
}
