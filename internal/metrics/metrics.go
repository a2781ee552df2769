// Package metrics owns Switchboard's Prometheus metrics, all named
// switchboard_*: HTTP requests by route pattern, heartbeats, events
// committed, live stream subscribers, the background loops' health, and
// figures read from the database at scrape time (tasks, queues, offers,
// agents), cached so that frequent scrapes or several scrapers cannot load
// the database. It keeps its own registry, never the global one, with the
// Go runtime and process collectors.
//
// Every method works on a nil *Metrics and does nothing, so that code
// built without metrics (tests, tools) needs no checks.
package metrics

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/health"
)

// Options are what the metrics read from the rest of the process. A nil
// field leaves its metrics out.
type Options struct {
	// Source gives the database figures.
	Source switchboard.MetricsSource
	// CacheFor is how long database figures are served again before they
	// are read anew. Default 5s.
	CacheFor time.Duration
	// Workers reports the background loops.
	Workers func() []health.Result
	Logger  *slog.Logger
	// Now is the clock (time.Now in production).
	Now func() time.Time
}

// Metrics are the metrics of one process.
type Metrics struct {
	registry *prometheus.Registry
	handler  http.Handler

	requests      *prometheus.CounterVec
	durations     *prometheus.HistogramVec
	hbReceived    prometheus.Counter
	hbFlushed     prometheus.Counter
	flushDuration prometheus.Histogram
	events        *prometheus.CounterVec
}

// New registers every metric on a new registry.
func New(opts Options) *Metrics {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheFor <= 0 {
		opts.CacheFor = 5 * time.Second
	}
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_http_requests_total",
			Help: "HTTP requests served, by method, route pattern (\"unmatched\" for none) and status code.",
		}, []string{"method", "route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by method and route pattern. Live streams count once they end.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		hbReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_heartbeats_received_total",
			Help: "Agent heartbeats received by this instance.",
		}),
		hbFlushed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_heartbeats_flushed_total",
			Help: "Buffered heartbeats written to the database by this instance.",
		}),
		flushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_heartbeat_flush_duration_seconds",
			Help:    "Time to write a batch of buffered heartbeats to the database.",
			Buckets: prometheus.DefBuckets,
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_events_committed_total",
			Help: "Events committed by this instance, by type: offer outcomes (offer.rejected, offer.timed_out), " +
				"assignments (task.assigned), completions (task.completed) and every other change.",
		}, []string{"type"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.durations, m.hbReceived, m.hbFlushed, m.flushDuration, m.events,
	)
	if opts.Workers != nil {
		reg.MustRegister(&workerCollector{workers: opts.Workers})
	}
	if opts.Source != nil {
		reg.MustRegister(newDatabaseCollector(opts.Source, opts.CacheFor, opts.Now, opts.Logger))
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		// Scrapes beyond these wait for nothing: they are refused (503),
		// so that a flood of them cannot pile up on the process.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
	return m
}

// WatchSubscribers exports count, the number of open live event
// subscriptions, as switchboard_event_subscribers. It is apart from New
// because the event hub is made after the metrics, which count its commits.
func (m *Metrics) WatchSubscribers(count func() int) {
	if m == nil {
		return
	}
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "switchboard_event_subscribers",
		Help: "Subscriptions to this instance's event hub: its live streams, and one for its token cache.",
	}, func() float64 { return float64(count()) }))
}

// Handler serves the metrics in the Prometheus text format (or OpenMetrics
// or protobuf, as the scraper asks).
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return m.handler
}

// Registry is where the metrics are registered, for more of them; nil
// without metrics.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.registry
}

// ObserveRequest counts a served request. route is the pattern that
// matched ("" for none): never the path, so that the number of series
// stays bounded whatever clients request.
func (m *Metrics) ObserveRequest(method, route string, status int, took time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	method = methodLabel(method)
	m.requests.WithLabelValues(method, route, codeLabel(status)).Inc()
	m.durations.WithLabelValues(method, route).Observe(took.Seconds())
}

// HeartbeatReceived counts one heartbeat taken into the buffer.
func (m *Metrics) HeartbeatReceived() {
	if m != nil {
		m.hbReceived.Inc()
	}
}

// HeartbeatsFlushed counts n heartbeats written to the database in one
// flush that took this long.
func (m *Metrics) HeartbeatsFlushed(n int, took time.Duration) {
	if m == nil {
		return
	}
	m.hbFlushed.Add(float64(n))
	m.flushDuration.Observe(took.Seconds())
}

// EventsCommitted counts events this instance committed. Counting them as
// they are committed is what makes offer outcomes cheap to follow: counting
// answered offers in the database would read them all on every scrape.
func (m *Metrics) EventsCommitted(evs []*switchboard.Event) {
	if m == nil {
		return
	}
	for _, e := range evs {
		m.events.WithLabelValues(e.Type).Inc()
	}
}

// methodLabel keeps the method label to the known methods: a client can
// send any word there.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// codeLabels are the status codes as labels, made once rather than on
// every request.
var codeLabels = func() (labels [600]string) {
	for i := range labels {
		labels[i] = strconv.Itoa(i)
	}
	return labels
}()

func codeLabel(status int) string {
	if status <= 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	if status >= len(codeLabels) {
		return "other"
	}
	return codeLabels[status]
}
