package switchboard

import (
	"context"
	"time"
)

// MetricsSnapshot is what the database says about the work at one moment,
// for monitoring. It holds only figures that indexes answer without reading
// every row: unfinished tasks, pending offers and agents, never the ever
// growing count of finished tasks or answered offers (with a million of
// those, counting them would cost a scan on every scrape).
type MetricsSnapshot struct {
	// Queues are every queue, with its unfinished tasks.
	Queues []QueueMetrics
	// PendingOffers are the offers waiting for an answer.
	PendingOffers int
	// Agents counts agents by status, and active agents by presence.
	Agents AgentCounts
	// Outbox counts the notifications not delivered, by channel and
	// status: pending, failed and dead (never the sent ones, which only
	// grow). Every channel and status is present, 0 when none.
	Outbox map[Channel]map[NotificationStatus]int
}

// OutboxStatuses are the statuses of the notifications Outbox counts.
var OutboxStatuses = []NotificationStatus{NotificationPending, NotificationFailed, NotificationDead}

// QueueMetrics are one queue's unfinished tasks.
type QueueMetrics struct {
	ID   string
	Name string
	// Tasks counts the queue's tasks by unfinished status (queued, offered,
	// assigned); a status without tasks is 0.
	Tasks map[TaskStatus]int
	// OldestQueued is when the queued task that has waited longest was
	// created; zero when none is queued.
	OldestQueued time.Time
}

// MetricsSource takes MetricsSnapshots. It checks no permission: its
// figures go to the monitoring endpoint, which is guarded apart.
type MetricsSource interface {
	// MetricsSnapshot reads the figures now. Errors are internal.
	MetricsSnapshot(ctx context.Context) (*MetricsSnapshot, error)
}
