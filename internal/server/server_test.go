package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/authcache"
	"github.com/switchboardhq/switchboard/internal/events"
	"github.com/switchboardhq/switchboard/internal/heartbeat"
	"github.com/switchboardhq/switchboard/internal/notify/compose"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// testServer is a real server on a real database, over real HTTP.
type testServer struct {
	*httptest.Server
	srv   *server.Server
	db    *sqlstore.DB
	logs  *syncBuffer
	auth  *authcache.Cache
	beats *heartbeat.Buffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestServer(tb testing.TB, engine sqlstore.Engine) *testServer {
	tb.Helper()
	db := sqlstoretest.Open(tb, engine)
	return newTestServerOn(tb, db, server.Options{})
}

// newTestServerOn starts a server on db; with, if given, change the
// dependencies first (to add metrics or health checks).
func newTestServerOn(tb testing.TB, db *sqlstore.DB, opts server.Options, with ...func(*server.Deps)) *testServer {
	tb.Helper()
	return newTestServerListening(tb, db, opts, nil, with...)
}

// newTestServerListening is newTestServerOn serving on ln, when not nil: a
// test that needs the server's address before it starts (as its base URL,
// for links that must work) listens first.
func newTestServerListening(tb testing.TB, db *sqlstore.DB, opts server.Options, ln net.Listener, with ...func(*server.Deps)) *testServer {
	tb.Helper()
	logs := &syncBuffer{}
	store, stop := db.SessionStore(0, nil)
	tb.Cleanup(stop)
	opts.Version = "test"
	var logTo io.Writer = logs
	level := slog.LevelDebug
	if _, bench := tb.(*testing.B); bench {
		// As in production: a line per request, formatted and written.
		logTo, level = io.Discard, slog.LevelInfo
	}
	logger := slog.New(slog.NewJSONHandler(logTo, &slog.HandlerOptions{Level: level}))
	// Changes e-mail their links, as serve has them do with a base URL.
	base := opts.BaseURL
	if base == nil {
		base = &url.URL{Scheme: "https", Host: "switchboard.test"}
	}
	db.Composer = compose.New(base)
	// The event stream as serve wires it, without other instances: this
	// process's commits wake the hub.
	hub := events.NewHub(db, logger, events.Options{})
	hubCtx, stopHub := context.WithCancel(context.Background())
	if err := hub.Start(hubCtx); err != nil {
		tb.Fatal(err)
	}
	// Tokens are resolved through the cache, as serve does, so that every
	// test of a revoked token or a changed agent also tests invalidation.
	tokens := sqlstore.NewTokenService(db)
	auth := authcache.New(tokens, 0, nil)
	go auth.Follow(hubCtx, hub)
	db.OnEvents = func(evs []*switchboard.Event) {
		auth.Invalidate(evs)
		hub.Wake()
	}
	beats := heartbeat.New(db, heartbeat.Options{Interval: 50 * time.Millisecond, Logger: logger})
	beatsDone := make(chan struct{})
	go func() { defer close(beatsDone); beats.Run(hubCtx) }()
	deps := server.Deps{
		Users:         sqlstore.NewUserService(db),
		Tokens:        tokens,
		Auth:          auth,
		Heartbeats:    beats,
		Agents:        sqlstore.NewAgentService(db),
		Teams:         sqlstore.NewTeamService(db),
		Enrollment:    sqlstore.NewEnrollmentService(db),
		Audit:         sqlstore.NewAuditService(db),
		Queues:        sqlstore.NewQueueService(db),
		Tasks:         sqlstore.NewTaskService(db),
		Presence:      sqlstore.NewPresenceService(db),
		Offers:        sqlstore.NewOfferService(db),
		Completer:     sqlstore.NewTaskService(db),
		Control:       sqlstore.NewTaskService(db),
		Events:        sqlstore.NewEventService(db),
		Notifications: sqlstore.NewNotificationService(db),
		Webhooks:      sqlstore.NewWebhookService(db),
		Inbox:         sqlstore.NewInboxService(db),
		Preferences:   sqlstore.NewNotificationPreferenceService(db),
		Stats:         sqlstore.NewStatsService(db),
		Broker:        hub,
		SessionStore:  store,
		Throttle:      db.Throttle,
		Ready:         db.Ping,
		Logger:        logger,
	}
	for _, f := range with {
		f(&deps)
	}
	srv := server.New(deps, opts)
	// Once the requests are over (cleanups run last first), the work they
	// left running, before the database closes.
	tb.Cleanup(srv.Wait)
	ts := httptest.NewUnstartedServer(srv)
	if ln != nil {
		ts.Listener.Close()
		ts.Listener = ln
	}
	ts.Start()
	tb.Cleanup(ts.Close)
	// Close waits for requests in flight: ending the hub first ends the
	// live streams among them.
	tb.Cleanup(func() { stopHub(); hub.Wait(); <-beatsDone })
	return &testServer{Server: ts, srv: srv, db: db, logs: logs, auth: auth, beats: beats}
}

// systemCtx acts as the system, like the command line does.
func systemCtx() context.Context {
	return switchboard.NewContextWithActor(context.Background(), switchboard.SystemActor("test"))
}

const testPassword = "correct horse battery"

// MustCreateUser creates a user with testPassword.
func (ts *testServer) MustCreateUser(tb testing.TB, email string, role switchboard.Role) *switchboard.User {
	tb.Helper()
	u, err := sqlstore.NewUserService(ts.db).CreateUser(systemCtx(), switchboard.NewUser{
		Email: email, Name: "Test " + strings.Split(email, "@")[0], Role: role, Password: testPassword,
	})
	if err != nil {
		tb.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// MustCreateToken returns a personal token secret for u.
func (ts *testServer) MustCreateToken(tb testing.TB, u *switchboard.User) (string, *switchboard.APIToken) {
	tb.Helper()
	t, secret, err := sqlstore.NewTokenService(ts.db).CreateToken(systemCtx(), switchboard.NewToken{UserID: u.ID, Name: "test"})
	if err != nil {
		tb.Fatal(err)
	}
	return secret, t
}

// browser is a client with a cookie jar that sends the headers a browser
// sends on same-origin navigation, and does not follow redirects, so that
// tests see them.
type browser struct {
	ts     *testServer
	client *http.Client
	origin string
}

func (ts *testServer) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{ts: ts, origin: ts.URL, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) get(tb testing.TB, path string) *response {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.ts.URL+path, nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return do(tb, b.client, req)
}

// post submits a form the way a browser does, with its Origin and
// Sec-Fetch-Site headers.
func (b *browser) post(tb testing.TB, path string, form url.Values) *response {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("Origin", b.origin)
	fetchSite := "same-origin"
	if b.origin != b.ts.URL {
		fetchSite = "cross-site"
	}
	req.Header.Set("Sec-Fetch-Site", fetchSite)
	return do(tb, b.client, req)
}

// follow reads the page that a 303 answer sends the browser to.
func (b *browser) follow(tb testing.TB, res *response) *response {
	tb.Helper()
	res.wantStatus(tb, http.StatusSeeOther)
	return b.get(tb, res.Header.Get("Location"))
}

// confirmed is the form of a destructive action with its confirmation
// given, as the confirmation page (or the script's dialog) posts it.
func confirmed(form url.Values) url.Values {
	out := url.Values{"confirm": {"yes"}}
	for k, v := range form {
		out[k] = v
	}
	return out
}

func (b *browser) signIn(tb testing.TB, email string) {
	tb.Helper()
	res := b.post(tb, "/signin", url.Values{"email": {email}, "password": {testPassword}})
	res.wantStatus(tb, http.StatusSeeOther)
}

type response struct {
	*http.Response
	body []byte
}

func do(tb testing.TB, c *http.Client, req *http.Request) *response {
	tb.Helper()
	res, err := c.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return &response{Response: res, body: body}
}

func (r *response) wantStatus(tb testing.TB, status int) *response {
	tb.Helper()
	if r.StatusCode != status {
		tb.Fatalf("%s %s: status = %d, want %d; body: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, truncate(r.body))
	}
	return r
}

func (r *response) wantContains(tb testing.TB, parts ...string) *response {
	tb.Helper()
	for _, p := range parts {
		if !bytes.Contains(r.body, []byte(p)) {
			tb.Errorf("%s %s: body lacks %q; body: %s", r.Request.Method, r.Request.URL.Path, p, truncate(r.body))
		}
	}
	return r
}

func (r *response) wantNotContains(tb testing.TB, parts ...string) *response {
	tb.Helper()
	for _, p := range parts {
		if bytes.Contains(r.body, []byte(p)) {
			tb.Errorf("%s %s: body contains %q", r.Request.Method, r.Request.URL.Path, p)
		}
	}
	return r
}

// problem decodes a problem document, checking its media type.
func (r *response) problem(tb testing.TB) server.Problem {
	tb.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		tb.Fatalf("Content-Type = %q, want application/problem+json; body: %s", ct, truncate(r.body))
	}
	var p server.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		tb.Fatalf("problem: %v", err)
	}
	if p.Status != r.StatusCode {
		tb.Errorf("problem status %d, response status %d", p.Status, r.StatusCode)
	}
	return p
}

func (r *response) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("decode %s: %v", truncate(r.body), err)
	}
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// apiClient calls the API with an optional bearer token. Every answer is
// checked against the committed contract.
type apiClient struct {
	ts    *testServer
	token string
}

func (ts *testServer) api(token string) *apiClient { return &apiClient{ts: ts, token: token} }

func (c *apiClient) call(tb testing.TB, method, path string, body any, headers ...string) *response {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, c.ts.URL+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1] // the client sends req.Host, never a Host header
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res := do(tb, http.DefaultClient, req)
	checkAgainstContract(tb, res)
	return res
}

// setUp creates the first admin directly, so that the set-up gate is open.
func (ts *testServer) setUp(tb testing.TB) *switchboard.User {
	tb.Helper()
	u, err := sqlstore.NewUserService(ts.db).CreateFirstAdmin(context.Background(), switchboard.NewUser{
		Email: "admin@example.com", Name: "Admin", Password: testPassword,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return u
}
