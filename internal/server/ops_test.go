package server_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/health"
	"github.com/switchboardhq/switchboard/internal/metrics"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// movingClock is a clock that tests move by hand while handlers read it.
type movingClock struct{ offset atomic.Int64 }

func (c *movingClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *movingClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// withMetrics gives the server metrics over its database and the checks.
func withMetrics(db *sqlstore.DB, checks *health.Checks) func(*server.Deps) {
	return func(d *server.Deps) {
		d.Health = checks
		d.Metrics = metrics.New(metrics.Options{Source: db, Workers: checks.Workers, Logger: d.Logger})
	}
}

func TestMetricsEndpoint(t *testing.T) {
	db := sqlstoretest.Open(t, sqlstore.SQLite)
	checks := health.New(nil)
	checks.Worker("timeouts", time.Second).Pass()
	ts := newTestServerOn(t, db, serverOptions(), withMetrics(db, checks))
	ts.setUp(t)

	// An ID that cannot be one is refused, still under its route.
	ts.api("").call(t, http.MethodGet, "/api/v1/tasks/t_123", nil).wantStatus(t, http.StatusNotFound)
	ts.api("").call(t, http.MethodGet, "/no/such/page-with-an-id-42", nil).wantStatus(t, http.StatusNotFound)
	ts.api("").call(t, http.MethodGet, "/metrics", nil).wantStatus(t, http.StatusOK).
		wantContains(t,
			`switchboard_http_requests_total{code="404",method="GET",route="/api/v1/tasks/{id}"} 1`,
			`switchboard_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
			`switchboard_agents_by_status{status="active"} 0`,
			`switchboard_offers{outcome="pending"} 0`,
			`switchboard_notifications_undelivered{channel="email",status="dead"} 0`,
			`switchboard_worker_up{worker="timeouts"} 1`,
		).
		wantNotContains(t, "page-with-an-id-42", "t_123")
	// The scrape itself is counted, by its route, once it is over.
	ts.api("").call(t, http.MethodGet, "/metrics", nil).
		wantContains(t, `switchboard_http_requests_total{code="200",method="GET",route="/metrics"} 1`)

	t.Run("HostNotKnownWithoutAToken", func(t *testing.T) {
		ts.api("").call(t, http.MethodGet, "/metrics", nil, "Host", "prometheus.example").wantStatus(t, http.StatusMisdirectedRequest)
	})
}

func TestMetricsEndpoint_Token(t *testing.T) {
	const token = "metrics-secret-0123456789"
	db := sqlstoretest.Open(t, sqlstore.SQLite)
	opts := serverOptions()
	opts.MetricsToken = token
	ts := newTestServerOn(t, db, opts, withMetrics(db, health.New(nil)))

	for _, tc := range []struct{ name, authorization string }{
		{"ErrNoToken", ""},
		{"ErrWrongToken", "Bearer metrics-secret-0123456788"},
		{"ErrPrefixOfToken", "Bearer metrics-secret"},
		{"ErrBasic", "Basic " + token},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ts.api("").call(t, http.MethodGet, "/metrics", nil, "Authorization", tc.authorization).wantStatus(t, http.StatusUnauthorized)
			res.problem(t)
			if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer ") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
			}
			if strings.Contains(string(res.body), "switchboard_") {
				t.Error("a refused scrape shows metrics")
			}
		})
	}
	t.Run("OK", func(t *testing.T) {
		ts.api(token).call(t, http.MethodGet, "/metrics", nil).wantStatus(t, http.StatusOK).
			wantContains(t, `switchboard_http_requests_total{code="401",method="GET",route="/metrics"} 4`)
	})
	// Scrapers address targets by names of their own; with the token
	// required, a rebinding page gains nothing from that.
	t.Run("OKWhateverTheHost", func(t *testing.T) {
		ts.api(token).call(t, http.MethodGet, "/metrics", nil, "Host", "prometheus.example").wantStatus(t, http.StatusOK)
	})
	if strings.Contains(ts.logs.String(), token) {
		t.Error("the metrics token is in the log")
	}
}

// TestMetricsEndpoint_None: a server built without metrics has no /metrics.
func TestMetricsEndpoint_None(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.api("").call(t, http.MethodGet, "/metrics", nil).wantStatus(t, http.StatusNotFound)
}

func TestReadiness_Workers(t *testing.T) {
	db := sqlstoretest.Open(t, sqlstore.SQLite)
	clock := &movingClock{}
	checks := health.New(clock.Now)
	timeouts := checks.Worker("timeouts", time.Second)
	events := checks.Worker("events", time.Second)
	timeouts.Pass()
	events.Pass()
	ts := newTestServerOn(t, db, serverOptions(), withMetrics(db, checks))

	var ready struct {
		Status string
		Checks []health.Result
	}
	ts.api("").call(t, http.MethodGet, "/readyz", nil).wantStatus(t, http.StatusOK).decode(t, &ready)
	var names []string
	for _, c := range ready.Checks {
		names = append(names, c.Name+" "+c.Status)
	}
	if got := strings.Join(names, ", "); ready.Status != "ok" || got != "database ok, timeouts ok, events ok" {
		t.Fatalf("ready: %s with %s", ready.Status, got)
	}

	t.Run("ErrStaleWorker", func(t *testing.T) {
		clock.Advance(health.MinStale + time.Second)
		events.Pass() // the event stream goes on; the timeouts stalled
		p := ts.api("").call(t, http.MethodGet, "/readyz", nil).wantStatus(t, http.StatusServiceUnavailable).problem(t)
		if !strings.Contains(p.Detail, "timeouts") || strings.Contains(p.Detail, "events") ||
			len(p.Errors) != 1 || p.Errors[0].Location != "timeouts" || p.Errors[0].Message != "stale" {
			t.Fatalf("problem %q with %+v, want timeouts named as stale", p.Detail, p.Errors)
		}
		ts.api("").call(t, http.MethodGet, "/metrics", nil).
			wantContains(t, `switchboard_worker_up{worker="timeouts"} 0`, `switchboard_worker_up{worker="events"} 1`)
	})
	t.Run("ErrStoppedAndDatabase", func(t *testing.T) {
		timeouts.Pass()
		events.Stop()
		db.Close()
		p := ts.api("").call(t, http.MethodGet, "/readyz", nil).wantStatus(t, http.StatusServiceUnavailable).problem(t)
		if len(p.Errors) != 2 || p.Errors[0].Location != "database" || p.Errors[1].Location != "events" || p.Errors[1].Message != "stopped" {
			t.Fatalf("problem %q with %+v, want database and events", p.Detail, p.Errors)
		}
		// The reasons, which name hosts and files, are in the log only.
		if strings.Contains(p.Detail, "closed") || !strings.Contains(ts.logs.String(), "not ready") {
			t.Errorf("detail %q; log %q", p.Detail, ts.logs.String())
		}
	})
}
