package server_test

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

func serverOptions() server.Options { return server.Options{} }

var update = flag.Bool("update", false, "rewrite api/openapi.yaml from the served contract")

// TestOpenAPIContract fails when the served contract and the committed one
// differ. Run `go test ./internal/server -run TestOpenAPIContract -update`
// (or `switchboard openapi > api/openapi.yaml`) after changing the API.
func TestOpenAPIContract(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	served := ts.api("").call(t, http.MethodGet, "/api/v1/openapi.yaml", nil).wantStatus(t, http.StatusOK).body
	const path = "../../api/openapi.yaml"
	if *update {
		if err := os.WriteFile(path, served, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	if !bytes.Equal(served, committed) {
		t.Fatalf("the served contract differs from api/openapi.yaml; if the change is intended, run: go test ./internal/server -run TestOpenAPIContract -update")
	}
	generated, err := server.OpenAPIYAML()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(generated, served) {
		t.Error("OpenAPIYAML differs from the served contract")
	}
	json := ts.api("").call(t, http.MethodGet, "/api/v1/openapi.json", nil).wantStatus(t, http.StatusOK)
	json.wantContains(t, `"openapi":"3.1.0"`, `"/api/v1/users"`, `"bearer"`)
}

// TestTokenAuth is the round trip of the foundation issue: a token created
// for a user answers GET /api/v1/me; no token is 401; a revoked token is 401.
func TestTokenAuth(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		admin := ts.setUp(t)
		secret, token := ts.MustCreateToken(t, admin)

		res := ts.api(secret).call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusOK)
		res.wantContains(t, `"kind":"user"`, `"email":"admin@example.com"`, `"token_id":"`+token.ID+`"`)
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}

		res = ts.api("").call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusUnauthorized)
		res.problem(t)
		if res.Header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
		ts.api("sbp_nonsense").call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusUnauthorized).problem(t)
		ts.api("").call(t, http.MethodGet, "/api/v1/me", nil, "Authorization", "Basic YWRtaW46cGFzcw==").
			wantStatus(t, http.StatusUnauthorized).problem(t)

		ts.api(secret).call(t, http.MethodDelete, "/api/v1/tokens/"+token.ID, nil).wantStatus(t, http.StatusNoContent)
		ts.api(secret).call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusUnauthorized).problem(t)
	})
}

func TestTokensAPI(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	secret, _ := ts.MustCreateToken(t, admin)
	c := ts.api(secret)

	res := c.call(t, http.MethodPost, "/api/v1/tokens", map[string]any{"name": "ci", "expires_at": "2099-01-01T00:00:00Z"})
	res.wantStatus(t, http.StatusCreated)
	var created struct {
		ID, Name, Prefix, Status, Token string
		ExpiresAt                       string `json:"expires_at"`
	}
	res.decode(t, &created)
	if !strings.HasPrefix(created.Token, created.Prefix) || created.Status != "active" || created.ExpiresAt != "2099-01-01T00:00:00Z" {
		t.Errorf("created %+v", created)
	}
	ts.api(created.Token).call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusOK)

	res = c.call(t, http.MethodGet, "/api/v1/tokens?limit=1", nil).wantStatus(t, http.StatusOK)
	var list struct {
		Items      []map[string]any `json:"items"`
		NextCursor string           `json:"next_cursor"`
	}
	res.decode(t, &list)
	if len(list.Items) != 1 || list.NextCursor == "" {
		t.Fatalf("page 1: %s", res.body)
	}
	if _, leaked := list.Items[0]["token"]; leaked {
		t.Error("the list shows a secret")
	}
	c.call(t, http.MethodGet, "/api/v1/tokens?limit=1&cursor="+list.NextCursor, nil).wantStatus(t, http.StatusOK)
	c.call(t, http.MethodGet, "/api/v1/tokens?cursor=bogus", nil).wantStatus(t, http.StatusUnprocessableEntity).problem(t)

	res = c.call(t, http.MethodPost, "/api/v1/tokens", map[string]any{"name": "", "expires_at": "2001-01-01T00:00:00Z"})
	res.wantStatus(t, http.StatusUnprocessableEntity)
	locations := map[string]bool{}
	for _, e := range res.problem(t).Errors {
		locations[e.Location] = true
	}
	if !locations["body.name"] || !locations["body.expires_at"] {
		t.Errorf("error locations %v, want body.name and body.expires_at", locations)
	}

	// Another user's token is not theirs to revoke.
	other := ts.MustCreateUser(t, "other@example.com", switchboard.RoleAgent)
	otherSecret, _ := ts.MustCreateToken(t, other)
	ts.api(otherSecret).call(t, http.MethodDelete, "/api/v1/tokens/"+created.ID, nil).wantStatus(t, http.StatusNotFound).problem(t)
	ts.api(created.Token).call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusOK)
}

func TestUsersAPI(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		admin := ts.setUp(t)
		secret, _ := ts.MustCreateToken(t, admin)
		c := ts.api(secret)

		res := c.call(t, http.MethodPost, "/api/v1/users", map[string]string{"email": "Grace@Example.com", "name": "Grace", "role": "supervisor", "password": testPassword})
		res.wantStatus(t, http.StatusCreated)
		var grace server.UserJSON
		res.decode(t, &grace)
		if grace.Email != "grace@example.com" || res.Header.Get("Location") != "/api/v1/users/"+grace.ID || res.Header.Get("ETag") != `"1"` {
			t.Fatalf("created %+v, Location %q, ETag %q", grace, res.Header.Get("Location"), res.Header.Get("ETag"))
		}
		c.call(t, http.MethodPost, "/api/v1/users", map[string]string{"email": "grace@example.com", "name": "Again", "role": "agent", "password": testPassword}).
			wantStatus(t, http.StatusConflict).problem(t)

		res = c.call(t, http.MethodGet, "/api/v1/users/"+grace.ID, nil).wantStatus(t, http.StatusOK)
		etag := res.Header.Get("ETag")

		res = c.call(t, http.MethodPatch, "/api/v1/users/"+grace.ID, map[string]string{"role": "agent"}, "If-Match", etag)
		res.wantStatus(t, http.StatusOK).wantContains(t, `"role":"agent"`)
		if res.Header.Get("ETag") == etag {
			t.Error("ETag did not change")
		}
		// The old ETag is stale now.
		res = c.call(t, http.MethodPatch, "/api/v1/users/"+grace.ID, map[string]string{"name": "Lost update"}, "If-Match", etag)
		res.wantStatus(t, http.StatusPreconditionFailed).problem(t)
		c.call(t, http.MethodGet, "/api/v1/users/"+grace.ID, nil).wantNotContains(t, "Lost update")

		res = c.call(t, http.MethodGet, "/api/v1/users?role=agent&q=GRACE", nil).wantStatus(t, http.StatusOK)
		res.wantContains(t, "grace@example.com").wantNotContains(t, "admin@example.com")
		c.call(t, http.MethodGet, "/api/v1/users?role=boss", nil).wantStatus(t, http.StatusUnprocessableEntity).problem(t)
		c.call(t, http.MethodGet, "/api/v1/users/nope", nil).wantStatus(t, http.StatusNotFound).problem(t)

		// Non-admins may not manage users.
		graceSecret, _ := ts.MustCreateToken(t, &switchboard.User{ID: grace.ID})
		ts.api(graceSecret).call(t, http.MethodGet, "/api/v1/users", nil).wantStatus(t, http.StatusForbidden).problem(t)
		ts.api(graceSecret).call(t, http.MethodPatch, "/api/v1/users/"+admin.ID, map[string]string{"status": "disabled"}).
			wantStatus(t, http.StatusForbidden).problem(t)

		// Disabling ends the user's tokens at once, and for good.
		c.call(t, http.MethodPatch, "/api/v1/users/"+grace.ID, map[string]string{"status": "disabled"}).wantStatus(t, http.StatusOK)
		ts.api(graceSecret).call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusUnauthorized)
		c.call(t, http.MethodPatch, "/api/v1/users/"+grace.ID, map[string]string{"status": "active"}).wantStatus(t, http.StatusOK)
		ts.api(graceSecret).call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusUnauthorized)
		c.call(t, http.MethodGet, "/api/v1/audit?action=token.revoked", nil).wantStatus(t, http.StatusOK).wantContains(t, `"reason":"user disabled"`)

		// The last admin cannot be demoted.
		c.call(t, http.MethodPatch, "/api/v1/users/"+admin.ID, map[string]string{"role": "agent"}).wantStatus(t, http.StatusUnprocessableEntity)
	})
}

func TestStrictJSON(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	secret, _ := ts.MustCreateToken(t, admin)
	c := ts.api(secret)
	for _, tc := range []struct {
		name   string
		body   any
		status int
		detail string
	}{
		{"UnknownField", `{"name":"x","admin":true}`, http.StatusBadRequest, "body.admin"},
		{"InvalidUTF8", []byte("{\"name\":\"\xff\xfe\"}"), http.StatusBadRequest, "UTF-8"},
		{"Malformed", `{"name":`, http.StatusBadRequest, ""},
		{"TrailingData", `{"name":"x"} {"name":"y"}`, http.StatusBadRequest, ""},
		{"WrongType", `{"name":5}`, http.StatusUnprocessableEntity, ""},
		{"TooLarge", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, http.StatusRequestEntityTooLarge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.call(t, http.MethodPost, "/api/v1/tokens", tc.body).wantStatus(t, tc.status)
			p := res.problem(t)
			if !strings.Contains(p.Detail+res.String(), tc.detail) {
				t.Errorf("problem %s lacks %q", res.body, tc.detail)
			}
		})
	}
	// Nothing was created by any of them.
	c.call(t, http.MethodGet, "/api/v1/tokens", nil).wantNotContains(t, `"name":"x"`)
}

func (r *response) String() string { return string(r.body) }

func TestErrorsAreProblems(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	secret, _ := ts.MustCreateToken(t, admin)
	c := ts.api(secret)

	p := c.call(t, http.MethodGet, "/api/v1/nothing-here", nil).wantStatus(t, http.StatusNotFound).problem(t)
	if p.RequestID == "" || p.Title != "Not Found" {
		t.Errorf("404 problem %+v", p)
	}
	res := c.call(t, http.MethodPut, "/api/v1/me", `{}`).wantStatus(t, http.StatusMethodNotAllowed)
	res.problem(t)
	if !strings.Contains(res.Header.Get("Allow"), http.MethodGet) {
		t.Errorf("Allow = %q", res.Header.Get("Allow"))
	}
	// Browsers get an HTML page instead.
	b := ts.browser()
	b.get(t, "/no-such-page").wantStatus(t, http.StatusNotFound).wantContains(t, "<!doctype html>", "Request ID")
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	secret, _ := ts.MustCreateToken(t, admin)
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	for _, tc := range []struct {
		name string
		res  *response
	}{
		{"HTML", b.get(t, "/account")},
		{"SignInPage", ts.browser().get(t, "/signin")},
		{"API", ts.api(secret).call(t, http.MethodGet, "/api/v1/me", nil)},
		{"Problem", ts.api("").call(t, http.MethodGet, "/api/v1/me", nil)},
		{"Static", ts.api("").call(t, http.MethodGet, "/static/app.css", nil)},
		{"Health", ts.api("").call(t, http.MethodGet, "/healthz", nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.res.Header
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP allows inline code: %q", csp)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("X-Request-Id") == "" {
				t.Errorf("headers %v", h)
			}
			if h.Get("Strict-Transport-Security") != "" {
				t.Error("HSTS sent over plain HTTP")
			}
		})
	}
	// Signed-in pages must not be cached.
	if cc := b.get(t, "/account").Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("signed-in page Cache-Control = %q", cc)
	}
}

func TestTemplatesHaveNoInlineScript(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	for _, path := range []string{"/", "/account", "/users", "/users/new", "/signin"} {
		res := b.get(t, path)
		body := string(res.body)
		if strings.Contains(body, "<script>") || strings.Contains(body, " onclick=") || strings.Contains(body, " style=") {
			t.Errorf("%s has inline script or style", path)
		}
	}
}

func TestReadiness(t *testing.T) {
	db := sqlstoretest.Open(t, sqlstore.SQLite)
	ts := newTestServerOn(t, db, serverOptions())
	ts.api("").call(t, http.MethodGet, "/healthz", nil).wantStatus(t, http.StatusOK)
	ts.api("").call(t, http.MethodGet, "/readyz", nil).wantStatus(t, http.StatusOK)
	db.Close()
	ts.api("").call(t, http.MethodGet, "/readyz", nil).wantStatus(t, http.StatusServiceUnavailable).problem(t)
	ts.api("").call(t, http.MethodGet, "/healthz", nil).wantStatus(t, http.StatusOK)
}

func TestRequestLog(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	secret, _ := ts.MustCreateToken(t, admin)
	res := ts.api(secret).call(t, http.MethodGet, "/api/v1/users/"+admin.ID, nil, "X-Request-ID", "trace-123")
	if res.Header.Get("X-Request-Id") != "trace-123" {
		t.Errorf("request ID not kept: %q", res.Header.Get("X-Request-Id"))
	}
	logs := ts.logs.String()
	for _, want := range []string{`"route":"/api/v1/users/{id}"`, `"request_id":"trace-123"`, `"actor":"user:` + admin.ID, `"status":200`, `"duration_ms"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, secret) {
		t.Error("the log holds a token")
	}
}
