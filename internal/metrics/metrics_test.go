package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/health"
	"github.com/switchboardhq/switchboard/internal/metrics"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// fakeSource counts its reads and answers with snap, or err.
type fakeSource struct {
	snap  *switchboard.MetricsSnapshot
	err   error
	reads atomic.Int32
}

func (s *fakeSource) MetricsSnapshot(context.Context) (*switchboard.MetricsSnapshot, error) {
	s.reads.Add(1)
	return s.snap, s.err
}

// scrape returns the text exposition of m.
func scrape(tb testing.TB, m *metrics.Metrics) string {
	tb.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

// wantSeries fails unless the exposition has each line, series and value.
func wantSeries(tb testing.TB, exposition string, lines ...string) {
	tb.Helper()
	have := map[string]bool{}
	for _, l := range strings.Split(exposition, "\n") {
		have[l] = true
	}
	for _, l := range lines {
		if !have[l] {
			tb.Errorf("missing %q", l)
		}
	}
}

func TestMetrics_Requests(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.ObserveRequest(http.MethodGet, "/api/v1/tasks/{id}", 200, 30*time.Millisecond)
	m.ObserveRequest(http.MethodGet, "/api/v1/tasks/{id}", 404, 2*time.Millisecond)
	m.ObserveRequest(http.MethodGet, "/api/v1/tasks/{id}", 200, 3*time.Second)
	m.ObserveRequest("BREW", "", 0, time.Millisecond)
	got := scrape(t, m)
	wantSeries(t, got,
		`switchboard_http_requests_total{code="200",method="GET",route="/api/v1/tasks/{id}"} 2`,
		`switchboard_http_requests_total{code="404",method="GET",route="/api/v1/tasks/{id}"} 1`,
		`switchboard_http_requests_total{code="200",method="other",route="unmatched"} 1`,
		`switchboard_http_request_duration_seconds_bucket{method="GET",route="/api/v1/tasks/{id}",le="0.005"} 1`,
		`switchboard_http_request_duration_seconds_bucket{method="GET",route="/api/v1/tasks/{id}",le="0.05"} 2`,
		`switchboard_http_request_duration_seconds_bucket{method="GET",route="/api/v1/tasks/{id}",le="+Inf"} 3`,
		`switchboard_http_request_duration_seconds_count{method="GET",route="/api/v1/tasks/{id}"} 3`,
	)
	for _, family := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(got, "\n"+family+" ") {
			t.Errorf("no %s: the Go and process collectors are missing", family)
		}
	}
}

func TestMetrics_Heartbeats(t *testing.T) {
	m := metrics.New(metrics.Options{})
	for range 5 {
		m.HeartbeatReceived()
	}
	m.HeartbeatsFlushed(3, 20*time.Millisecond)
	m.HeartbeatsFlushed(2, 200*time.Millisecond)
	wantSeries(t, scrape(t, m),
		`switchboard_heartbeats_received_total 5`,
		`switchboard_heartbeats_flushed_total 5`,
		`switchboard_heartbeat_flush_duration_seconds_count 2`,
		`switchboard_heartbeat_flush_duration_seconds_bucket{le="0.025"} 1`,
		`switchboard_heartbeat_flush_duration_seconds_sum 0.22`,
	)
}

func TestMetrics_EventsAndSubscribersAndWorkers(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	checks := health.New(c.Now)
	checks.Worker("timeouts", time.Second).Pass()
	stopped := checks.Worker("events", time.Second)
	stopped.Stop()
	m := metrics.New(metrics.Options{Workers: checks.Workers})
	m.WatchSubscribers(func() int { return 7 })
	m.EventsCommitted([]*switchboard.Event{{Type: "offer.rejected"}, {Type: "offer.rejected"}, {Type: "task.assigned"}})
	wantSeries(t, scrape(t, m),
		`switchboard_events_committed_total{type="offer.rejected"} 2`,
		`switchboard_events_committed_total{type="task.assigned"} 1`,
		`switchboard_event_subscribers 7`,
		`switchboard_worker_up{worker="timeouts"} 1`,
		`switchboard_worker_up{worker="events"} 0`,
	)
}

func TestMetrics_Database(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	src := &fakeSource{snap: &switchboard.MetricsSnapshot{
		Queues: []switchboard.QueueMetrics{
			{ID: "q1", Name: "Billing", OldestQueued: c.Now().Add(-90 * time.Second),
				Tasks: map[switchboard.TaskStatus]int{switchboard.TaskQueued: 4, switchboard.TaskOffered: 1, switchboard.TaskAssigned: 2}},
			{ID: "q2", Name: "Idle", Tasks: map[switchboard.TaskStatus]int{switchboard.TaskQueued: 0, switchboard.TaskOffered: 0, switchboard.TaskAssigned: 0}},
		},
		PendingOffers: 1,
		Agents: switchboard.AgentCounts{Total: 5,
			ByStatus:   map[switchboard.AgentStatus]int{switchboard.AgentActive: 4, switchboard.AgentPending: 1},
			ByPresence: map[switchboard.Presence]int{switchboard.PresenceAvailable: 3, switchboard.PresenceOffline: 1}},
		Outbox: map[switchboard.Channel]map[switchboard.NotificationStatus]int{
			switchboard.ChannelEmail: {switchboard.NotificationPending: 2, switchboard.NotificationFailed: 1, switchboard.NotificationDead: 3},
			switchboard.ChannelSMS:   {switchboard.NotificationPending: 0, switchboard.NotificationFailed: 0, switchboard.NotificationDead: 0},
		},
	}}
	m := metrics.New(metrics.Options{Source: src, Now: c.Now})
	wantSeries(t, scrape(t, m),
		`switchboard_tasks{queue="q1",queue_name="Billing",status="queued"} 4`,
		`switchboard_tasks{queue="q1",queue_name="Billing",status="offered"} 1`,
		`switchboard_tasks{queue="q1",queue_name="Billing",status="assigned"} 2`,
		`switchboard_tasks{queue="q2",queue_name="Idle",status="queued"} 0`,
		`switchboard_queue_depth{queue="q1",queue_name="Billing"} 4`,
		`switchboard_queue_depth{queue="q2",queue_name="Idle"} 0`,
		`switchboard_queue_oldest_wait_seconds{queue="q1",queue_name="Billing"} 90`,
		`switchboard_queue_oldest_wait_seconds{queue="q2",queue_name="Idle"} 0`,
		`switchboard_offers{outcome="pending"} 1`,
		`switchboard_agents{presence="available"} 3`,
		`switchboard_agents{presence="offline"} 1`,
		`switchboard_agents_by_status{status="active"} 4`,
		`switchboard_agents_by_status{status="pending"} 1`,
		`switchboard_notifications_undelivered{channel="email",status="pending"} 2`,
		`switchboard_notifications_undelivered{channel="email",status="failed"} 1`,
		`switchboard_notifications_undelivered{channel="email",status="dead"} 3`,
		`switchboard_notifications_undelivered{channel="sms",status="dead"} 0`,
	)

	t.Run("CachedBetweenScrapes", func(t *testing.T) {
		c.Advance(4 * time.Second)
		got := scrape(t, m)
		scrape(t, m)
		if n := src.reads.Load(); n != 1 {
			t.Fatalf("%d reads for three scrapes within 5s, want 1", n)
		}
		// The wait grows with the clock, between reads too.
		wantSeries(t, got, `switchboard_queue_oldest_wait_seconds{queue="q1",queue_name="Billing"} 94`)
		c.Advance(time.Second)
		scrape(t, m)
		if n := src.reads.Load(); n != 2 {
			t.Fatalf("%d reads after 5s, want 2", n)
		}
	})

	t.Run("FailedReadServesTheRest", func(t *testing.T) {
		src.err = errors.New("database is down")
		c.Advance(5 * time.Second)
		rec := httptest.NewRecorder()
		m.ObserveRequest(http.MethodGet, "/healthz", 200, time.Millisecond)
		m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, "switchboard_http_requests_total") || strings.Contains(body, "switchboard_tasks{") {
			t.Fatalf("scrape with the database down: %d\n%s", rec.Code, body)
		}
		scrape(t, m)
		if n := src.reads.Load(); n != 3 {
			t.Fatalf("%d reads, want 3: a failure is kept as long as figures are", n)
		}
	})
}

// TestMetrics_Nil: code built without metrics calls them all the same.
func TestMetrics_Nil(t *testing.T) {
	var m *metrics.Metrics
	m.ObserveRequest(http.MethodGet, "/", 200, time.Millisecond)
	m.HeartbeatReceived()
	m.HeartbeatsFlushed(1, time.Millisecond)
	m.EventsCommitted([]*switchboard.Event{{Type: "task.created"}})
	m.WatchSubscribers(func() int { return 0 })
}

// BenchmarkObserveRequest is the cost the middleware adds to every request.
func BenchmarkObserveRequest(b *testing.B) {
	m := metrics.New(metrics.Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest(http.MethodPost, "/api/v1/agent/heartbeat", 204, 300*time.Microsecond)
		}
	})
}
