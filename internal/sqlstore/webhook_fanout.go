package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard"
)

// Webhook fan-out. Every change that records events may owe deliveries to
// the endpoints that subscribe to them, written in its transaction like
// every other outbox row. Reading the endpoints in every transaction would
// cost every change a query for a table that is nearly always empty and
// rarely changes, so the active endpoints are kept in memory: loaded when
// first needed, again at once after this instance commits a change to
// them, and at least every webhookReload otherwise, which is how the
// changes other instances make arrive. An endpoint created or changed on
// another instance thus starts (or stops) receiving events here within
// webhookReload; one deleted there has its deliveries given up by the
// sender. With no endpoint, the fan-out costs one look at an empty list
// per transaction, and that query every webhookReload.

// webhookReload bounds how long a change to endpoints made by another
// instance takes to reach this one's fan-out.
const webhookReload = 5 * time.Second

// activeWebhook is what the fan-out needs of an endpoint.
type activeWebhook struct {
	id, url string
	events  []string
}

// webhookCache holds the active endpoints of the database.
type webhookCache struct {
	// loading is held by the one transaction that reloads; the others go
	// on with the endpoints as they were, unless there are none loaded
	// yet.
	loading  sync.Mutex
	snapshot atomic.Pointer[webhookSnapshot]
	stale    atomic.Bool
}

type webhookSnapshot struct {
	loadedAt  time.Time
	endpoints []activeWebhook
}

// invalidate makes the next fan-out read the endpoints again: this
// instance has just committed a change to them.
func (c *webhookCache) invalidate() { c.stale.Store(true) }

// LoadWebhooks reads the active endpoints before the first change needs
// them. Until they are loaded once, every change waits for the one that
// loads them, each holding a connection, while the loader needs one more:
// with the pool used up, none would go on. Once loaded, changes never wait
// for a reload.
func (db *DB) LoadWebhooks(ctx context.Context) error {
	_, err := db.activeWebhooks(ctx)
	return err
}

// activeWebhooks returns the active endpoints, reading them again when
// they are due.
func (db *DB) activeWebhooks(ctx context.Context) ([]activeWebhook, error) {
	c := &db.webhooks
	now := db.Now()
	snap := c.snapshot.Load()
	fresh := func(s *webhookSnapshot) bool {
		return s != nil && !c.stale.Load() && now.Sub(s.loadedAt) < webhookReload && !now.Before(s.loadedAt)
	}
	if fresh(snap) {
		return snap.endpoints, nil
	}
	if snap == nil {
		c.loading.Lock()
	} else if !c.loading.TryLock() {
		return snap.endpoints, nil
	}
	defer c.loading.Unlock()
	if s := c.snapshot.Load(); s != snap && fresh(s) {
		return s.endpoints, nil // another transaction loaded them meanwhile
	}
	// Cleared before reading, so that a change committed during the read
	// marks the cache stale again.
	c.stale.Store(false)
	var rows []*webhookRow
	// Read outside the change's transaction: what it reads must not
	// include an endpoint that the change itself creates and may yet roll
	// back.
	if err := db.bun.NewSelect().Model(&rows).Column("id", "url", "events").Where("wh.active = ? AND wh.deleted_at IS NULL", true).Scan(ctx); err != nil {
		c.stale.Store(true)
		return nil, err
	}
	endpoints := make([]activeWebhook, len(rows))
	for i, r := range rows {
		endpoints[i] = activeWebhook{id: r.ID, url: r.URL, events: r.domain().Events}
	}
	c.snapshot.Store(&webhookSnapshot{loadedAt: now, endpoints: endpoints})
	return endpoints, nil
}

// fanOutWebhooks adds to the outbox rows of a transaction a delivery of
// each of its events to each active endpoint that subscribes to it. The
// body of an event is made once, whatever the number of endpoints.
func (db *DB) fanOutWebhooks(ctx context.Context, rows []*notificationRow, events []*switchboard.Event) ([]*notificationRow, error) {
	if len(events) == 0 {
		return rows, nil
	}
	endpoints, err := db.activeWebhooks(ctx)
	if err != nil || len(endpoints) == 0 {
		return rows, err
	}
	for _, e := range events {
		var body string
		for _, w := range endpoints {
			if !switchboard.MatchWebhookEvents(w.events, e.Type) ||
				// The list may not know yet that this very change deleted
				// the endpoint.
				(e.Type == switchboard.AuditWebhookDeleted && e.Subject.ID == w.id) {
				continue
			}
			if body == "" {
				b, err := switchboard.WebhookBody(e)
				if err != nil {
					return nil, err
				}
				body = string(b)
			}
			rows = append(rows, newWebhookDelivery(e, w, body))
		}
	}
	return rows, nil
}
