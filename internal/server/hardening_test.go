package server_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// A sign-in link's next must stay on the site whatever a browser would make
// of it: tabs, newlines and backslashes are dropped or read as slashes.
func TestSignInRedirect_ControlCharacters(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	for _, next := range []string{"/\t/evil.example", "/\n/evil.example", "/\\evil.example", "/%09/evil.example", "http:/evil.example", "/ok?x=1"} {
		form := url.Values{"email": {"admin@example.com"}, "password": {testPassword}, "next": {next}}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		res, err := http.DefaultTransport.RoundTrip(req) // a client would choke on a bad Location
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc := res.Header.Get("Location")
		want := "/"
		if next == "/ok?x=1" || next == "/%09/evil.example" {
			want = next
		}
		if loc != want {
			t.Errorf("next=%q redirects to %q, want %q", next, loc, want)
		}
	}
}

func TestPagerLinksCarryTheCursor(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	for _, n := range []string{"a1", "a2", "a3"} {
		if _, _, err := sqlstore.NewAgentService(ts.db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: n, Kind: switchboard.MachineAgent}); err != nil {
			t.Fatal(err)
		}
	}
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	seen := map[string]bool{}
	path := "/agents?limit=1&kind=machine"
	for range 3 {
		body := string(b.get(t, path).wantStatus(t, http.StatusOK).body)
		for _, n := range []string{"a1", "a2", "a3"} {
			if strings.Contains(body, ">"+n+"</a>") {
				seen[n] = true
			}
		}
		i := strings.Index(body, "Next page")
		if i < 0 {
			break
		}
		start := strings.LastIndex(body[:i], `href="`) + len(`href="`)
		path = strings.ReplaceAll(body[start:start+strings.IndexByte(body[start:], '"')], "&amp;", "&")
		u, _ := url.Parse(path)
		if u.Query().Get("cursor") == "" || u.Query().Get("kind") != "machine" {
			t.Fatalf("next page link %q lacks the cursor or the filter", path)
		}
	}
	if len(seen) != 3 {
		t.Errorf("paging showed %v", seen)
	}
}

func TestAgentTokenIsRefusedByWebPages(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	as := sqlstore.NewAgentService(ts.db)
	a, _, _ := as.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "m", Kind: switchboard.MachineAgent})
	_, secret, _ := as.CreateAgentToken(systemCtx(), a.ID, switchboard.NewToken{Name: "t"})
	for _, p := range []string{"/", "/account", "/profile", "/agents", "/teams", "/queues", "/tasks", "/my-work", "/my-work/live"} {
		ts.api(secret).call(t, http.MethodGet, p, nil, "Accept", "text/html").wantStatus(t, http.StatusForbidden)
	}
	ts.api(secret).call(t, http.MethodPost, "/api/v1/tokens", map[string]any{"name": "x"}).wantStatus(t, http.StatusForbidden)
	if strings.Contains(ts.logs.String(), `"level":"ERROR"`) {
		t.Errorf("agent token on web pages logged errors:\n%s", ts.logs.String())
	}
}

func TestInvitationSecretsStayOutOfTheLog(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	_, inv, err := sqlstore.NewAgentService(ts.db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Ada", Kind: "human", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	ts.browser().get(t, "/invite/"+inv.Secret).wantStatus(t, http.StatusOK)
	ts.browser().get(t, "/invite/"+inv.Secret+"x/more").wantStatus(t, http.StatusNotFound)
	if logs := ts.logs.String(); strings.Contains(logs, inv.Secret) || !strings.Contains(logs, "/invite/[secret]") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestEnrollAnswerIsNotCached(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	_, key, err := sqlstore.NewEnrollmentService(ts.db).CreateEnrollmentKey(systemCtx(), switchboard.NewEnrollmentKey{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	res := ts.api("").call(t, http.MethodPost, "/api/v1/enroll", map[string]any{"key": key, "name": "n"}).wantStatus(t, http.StatusCreated)
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
}

// TestEnrollThrottleCountsFailuresOnly: 200 machines behind one address
// all enroll with a good key; wrong keys from that address are throttled,
// with 429 and Retry-After.
func TestEnrollThrottleCountsFailuresOnly(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		ts.setUp(t)
		_, key, err := sqlstore.NewEnrollmentService(db).CreateEnrollmentKey(systemCtx(), switchboard.NewEnrollmentKey{Name: "fleet", AutoApprove: true})
		if err != nil {
			t.Fatal(err)
		}
		anon := ts.api("")
		for i := range 200 {
			anon.call(t, http.MethodPost, "/api/v1/enroll", map[string]any{"key": key, "name": "runner-" + strconv.Itoa(i)}).
				wantStatus(t, http.StatusCreated)
		}
		var last *response
		failures := 0
		for range 2 * switchboard.EnrollFailureBurst {
			last = anon.call(t, http.MethodPost, "/api/v1/enroll", map[string]any{"key": "sbe_wrong", "name": "guess"})
			if last.StatusCode == http.StatusTooManyRequests {
				break
			}
			last.wantStatus(t, http.StatusUnauthorized)
			failures++
		}
		last.wantStatus(t, http.StatusTooManyRequests).problem(t)
		if failures != switchboard.EnrollFailureBurst {
			t.Errorf("%d wrong keys answered before 429, want %d", failures, switchboard.EnrollFailureBurst)
		}
		if ra, err := strconv.Atoi(last.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After = %q", last.Header.Get("Retry-After"))
		}
	})
}

func TestIfMatchIsStrong(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	secret, _ := ts.MustCreateToken(t, admin)
	c := ts.api(secret)
	a, _, _ := sqlstore.NewAgentService(ts.db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "m", Kind: switchboard.MachineAgent})
	c.call(t, http.MethodPatch, "/api/v1/agents/"+a.ID, map[string]any{"capacity": 2}, "If-Match", `W/"1"`).wantStatus(t, http.StatusPreconditionFailed)
	c.call(t, http.MethodPatch, "/api/v1/agents/"+a.ID, map[string]any{"capacity": 2}, "If-Match", `"1"`).wantStatus(t, http.StatusOK)
}
