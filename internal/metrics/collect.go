package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/health"
)

// databaseCollector reads the database figures when scraped, at most once
// per cacheFor: scrapes in between, from any number of scrapers, get the
// figures already read. A scrape that finds them old reads them while the
// others wait for it, so there is never more than one read at a time.
type databaseCollector struct {
	source   switchboard.MetricsSource
	cacheFor time.Duration
	now      func() time.Time
	logger   *slog.Logger

	tasks, queueDepth, oldestWait, offers, agents, agentsByStatus, outbox *prometheus.Desc

	mu   sync.Mutex
	snap *switchboard.MetricsSnapshot
	err  error
	read time.Time
}

// snapshotTimeout bounds a read of the figures, below any scrape timeout.
const snapshotTimeout = 5 * time.Second

func newDatabaseCollector(source switchboard.MetricsSource, cacheFor time.Duration, now func() time.Time, logger *slog.Logger) *databaseCollector {
	queue := []string{"queue", "queue_name"}
	return &databaseCollector{
		source: source, cacheFor: cacheFor, now: now, logger: logger,
		tasks: prometheus.NewDesc("switchboard_tasks",
			"Unfinished tasks by queue (ID; queue_name is its current name) and status: queued, offered, assigned.",
			append(queue, "status"), nil),
		queueDepth: prometheus.NewDesc("switchboard_queue_depth",
			"Tasks waiting in a queue (status queued).", queue, nil),
		oldestWait: prometheus.NewDesc("switchboard_queue_oldest_wait_seconds",
			"How long the oldest queued task of a queue has waited since it was created; 0 when none waits.", queue, nil),
		offers: prometheus.NewDesc("switchboard_offers",
			"Offers by outcome; only pending ones are counted here. Answered offers are counted as they happen, "+
				"in switchboard_events_committed_total.", []string{"outcome"}, nil),
		agents: prometheus.NewDesc("switchboard_agents",
			"Active agents by presence.", []string{"presence"}, nil),
		agentsByStatus: prometheus.NewDesc("switchboard_agents_by_status",
			"Agents by lifecycle status.", []string{"status"}, nil),
		outbox: prometheus.NewDesc("switchboard_notifications_undelivered",
			"Notifications of the outbox not delivered, by channel and status: pending (not tried yet, or being "+
				"delivered), failed (to be tried again) and dead (given up; an admin may retry them).",
			[]string{"channel", "status"}, nil),
	}
}

func (c *databaseCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.tasks, c.queueDepth, c.oldestWait, c.offers, c.agents, c.agentsByStatus, c.outbox} {
		ch <- d
	}
}

func (c *databaseCollector) Collect(ch chan<- prometheus.Metric) {
	snap, err := c.snapshot()
	if err != nil {
		// The scrape still serves every other metric; this error shows in
		// the scrape log and makes the answer a 500 only if nothing else
		// could be served.
		ch <- prometheus.NewInvalidMetric(c.tasks, err)
		return
	}
	now := c.now()
	for _, q := range snap.Queues {
		for st, n := range q.Tasks {
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(n), q.ID, q.Name, string(st))
		}
		ch <- prometheus.MustNewConstMetric(c.queueDepth, prometheus.GaugeValue, float64(q.Tasks[switchboard.TaskQueued]), q.ID, q.Name)
		wait := 0.0
		if !q.OldestQueued.IsZero() {
			wait = max(now.Sub(q.OldestQueued).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.oldestWait, prometheus.GaugeValue, wait, q.ID, q.Name)
	}
	ch <- prometheus.MustNewConstMetric(c.offers, prometheus.GaugeValue, float64(snap.PendingOffers), string(switchboard.OfferPending))
	for p, n := range snap.Agents.ByPresence {
		ch <- prometheus.MustNewConstMetric(c.agents, prometheus.GaugeValue, float64(n), string(p))
	}
	for st, n := range snap.Agents.ByStatus {
		ch <- prometheus.MustNewConstMetric(c.agentsByStatus, prometheus.GaugeValue, float64(n), string(st))
	}
	for channel, byStatus := range snap.Outbox {
		for st, n := range byStatus {
			ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(n), string(channel), string(st))
		}
	}
}

// snapshot returns the figures, read anew when those at hand are older than
// cacheFor. A failed read is kept as long, so that a database in trouble is
// not asked again by every scrape.
func (c *databaseCollector) snapshot() (*switchboard.MetricsSnapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); c.read.IsZero() || now.Sub(c.read) >= c.cacheFor || now.Before(c.read) {
		ctx, cancel := context.WithTimeout(context.Background(), snapshotTimeout)
		defer cancel()
		c.snap, c.err = c.source.MetricsSnapshot(ctx)
		c.read = now
		if c.err != nil {
			c.logger.Warn("metrics: reading the database figures", "err", c.err.Error())
		}
	}
	return c.snap, c.err
}

// workerCollector reports whether each background loop is up.
type workerCollector struct {
	workers func() []health.Result
}

var workerUp = prometheus.NewDesc("switchboard_worker_up",
	"1 while a background loop passes as often as it should, 0 when it is stale or stopped (see /readyz).",
	[]string{"worker"}, nil)

func (c *workerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- workerUp }

func (c *workerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.workers() {
		up := 0.0
		if r.OK() {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(workerUp, prometheus.GaugeValue, up, r.Name)
	}
}
