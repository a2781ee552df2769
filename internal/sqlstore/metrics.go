package sqlstore

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

var _ switchboard.MetricsSource = (*DB)(nil)

// unfinishedTasks are the statuses a task waits or is worked on in: the
// few tasks that metrics count, out of the many finished ones.
var unfinishedTasks = []string{string(switchboard.TaskQueued), string(switchboard.TaskOffered), string(switchboard.TaskAssigned)}

// MetricsSnapshot reads the figures that /metrics exports, one grouped
// query each, every one answered from an index: the unfinished tasks of
// each queue (tasks_queue_next_idx, a seek per queue and status, however
// many finished tasks there are), the pending offers (offers_pending_idx),
// the agents by status and presence (agents_status_presence_idx,
// without reading their rows), and the undelivered notifications
// (notifications_due_idx, whose leading status skips the sent ones).
func (db *DB) MetricsSnapshot(ctx context.Context) (*switchboard.MetricsSnapshot, error) {
	var groups []struct {
		ID     string       `bun:"id"`
		Name   string       `bun:"name"`
		Status *string      `bun:"status"` // nil for a queue without unfinished tasks
		N      int          `bun:"n"`
		Oldest bun.NullTime `bun:"oldest"`
	}
	q := db.bun.NewSelect().Model((*queueRow)(nil))
	status := db.joinTasksInStatuses(q, unfinishedTasks)
	err := q.ColumnExpr("q.id, q.name, "+status+" AS status, COUNT(tk.id) AS n, MIN(tk.created_at) AS oldest").
		GroupExpr("q.id, q.name, "+status).
		OrderExpr("q.id").
		Scan(ctx, &groups)
	if err != nil {
		return nil, fmt.Errorf("metrics: tasks by queue: %w", translate(err))
	}
	snap := &switchboard.MetricsSnapshot{}
	for _, g := range groups {
		if n := len(snap.Queues); n == 0 || snap.Queues[n-1].ID != g.ID {
			tasks := make(map[switchboard.TaskStatus]int, len(unfinishedTasks))
			for _, st := range unfinishedTasks {
				tasks[switchboard.TaskStatus(st)] = 0
			}
			snap.Queues = append(snap.Queues, switchboard.QueueMetrics{ID: g.ID, Name: g.Name, Tasks: tasks})
		}
		if g.Status == nil {
			continue
		}
		q := &snap.Queues[len(snap.Queues)-1]
		q.Tasks[switchboard.TaskStatus(*g.Status)] = g.N
		if *g.Status == string(switchboard.TaskQueued) && !g.Oldest.IsZero() {
			q.OldestQueued = g.Oldest.Time.UTC()
		}
	}

	n, err := db.bun.NewSelect().Model((*offerRow)(nil)).Where("o.status = ?", string(switchboard.OfferPending)).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("metrics: pending offers: %w", translate(err))
	}
	snap.PendingOffers = int(n)

	var agents []struct {
		Status   string `bun:"status"`
		Presence string `bun:"presence"`
		N        int    `bun:"n"`
	}
	err = db.bun.NewSelect().Model((*agentRow)(nil)).ColumnExpr("a.status, a.presence, COUNT(*) AS n").
		Group("a.status", "a.presence").Scan(ctx, &agents)
	if err != nil {
		return nil, fmt.Errorf("metrics: agents: %w", translate(err))
	}
	snap.Agents = switchboard.AgentCounts{ByStatus: map[switchboard.AgentStatus]int{}, ByPresence: map[switchboard.Presence]int{}}
	for _, st := range switchboard.AgentStatuses {
		snap.Agents.ByStatus[st] = 0
	}
	for _, p := range switchboard.Presences {
		snap.Agents.ByPresence[p] = 0
	}
	for _, g := range agents {
		snap.Agents.Total += g.N
		snap.Agents.ByStatus[switchboard.AgentStatus(g.Status)] += g.N
		if g.Status == string(switchboard.AgentActive) {
			snap.Agents.ByPresence[switchboard.Presence(g.Presence)] += g.N
		}
	}
	if snap.Outbox, err = db.outboxDepth(ctx); err != nil {
		return nil, err
	}
	return snap, nil
}

// outboxDepth counts the notifications of the outbox that are not sent, by
// channel and status.
func (db *DB) outboxDepth(ctx context.Context) (map[switchboard.Channel]map[switchboard.NotificationStatus]int, error) {
	statuses := make([]string, len(switchboard.OutboxStatuses))
	for i, st := range switchboard.OutboxStatuses {
		statuses[i] = string(st)
	}
	var groups []struct {
		Channel string `bun:"channel"`
		Status  string `bun:"status"`
		N       int    `bun:"n"`
	}
	err := db.bun.NewSelect().Model((*notificationRow)(nil)).ColumnExpr("n.channel, n.status, COUNT(*) AS n").
		Where("n.status IN (?)", bun.In(statuses)).Group("n.channel", "n.status").Scan(ctx, &groups)
	if err != nil {
		return nil, fmt.Errorf("metrics: outbox: %w", translate(err))
	}
	depth := make(map[switchboard.Channel]map[switchboard.NotificationStatus]int, len(switchboard.Channels))
	for _, ch := range switchboard.Channels {
		depth[ch] = make(map[switchboard.NotificationStatus]int, len(statuses))
		for _, st := range switchboard.OutboxStatuses {
			depth[ch][st] = 0
		}
	}
	for _, g := range groups {
		if byStatus, ok := depth[switchboard.Channel(g.Channel)]; ok {
			byStatus[switchboard.NotificationStatus(g.Status)] = g.N
		}
	}
	return depth, nil
}
