package sqlstore

import (
	"context"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/events"
)

// The queues of the task path. Creating, accepting and completing a task
// each need the task's queue with its teams: two reads in every change,
// for settings that change a few times a day. They are kept in memory
// while an event feed tells this instance of every change to queues and
// teams, the way the token cache is kept (see FollowQueueChanges):
//
//   - this instance's own changes drop what they concern when they commit,
//     before their callers hear of it, and when they fail (a change may
//     have read another's uncommitted queue in a shared transaction);
//   - other instances' changes drop it when the feed delivers them, within
//     a second;
//   - an entry lives queueCacheTTL at most, which bounds the harm of an
//     event the feed missed;
//   - a read that a change overtook is not kept (the generation).
//
// Without a feed nothing is kept, and every change reads its queue.

// queueCacheTTL is the longest an entry lives without an event ending it.
const queueCacheTTL = 5 * time.Second

// maxCachedQueues bounds the memory of the cache; past it, it starts over.
const maxCachedQueues = 10_000

type queueCache struct {
	mu      sync.Mutex
	live    bool
	gen     uint64
	entries map[string]cachedQueue
}

type cachedQueue struct {
	queue    *switchboard.Queue
	loadedAt time.Time
}

// routingQueue returns the queue of a task being changed in tx: from
// memory when it can, or read in tx.
func (db *DB) routingQueue(ctx context.Context, tx *Tx, id string) (*switchboard.Queue, error) {
	c := &db.queues
	now := db.now()
	c.mu.Lock()
	live, gen := c.live, c.gen
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Sub(e.loadedAt) < queueCacheTTL && !now.Before(e.loadedAt) {
		return copyQueue(e.queue), nil
	}
	queue, err := db.readQueue(ctx, tx, switchboard.Scope{All: true}, id)
	if err != nil {
		return nil, err
	}
	if live {
		c.mu.Lock()
		if c.live && c.gen == gen {
			if c.entries == nil || len(c.entries) >= maxCachedQueues {
				c.entries = map[string]cachedQueue{}
			}
			c.entries[id] = cachedQueue{queue: copyQueue(queue), loadedAt: now}
		}
		c.mu.Unlock()
	}
	return queue, nil
}

// copyQueue is a queue its caller may change without changing the cache's.
func copyQueue(q *switchboard.Queue) *switchboard.Queue {
	c := *q
	return &c
}

// forgetQueues drops the queues that events concern: a queue's own
// changes, and for a team's, every queue (a deleted team leaves its
// queues without it, with no event of theirs).
func (c *queueCache) forgetQueues(events []*switchboard.Event) {
	var ids []string
	all := false
	for _, e := range events {
		switch e.Subject.Type {
		case "queue":
			ids = append(ids, e.Subject.ID)
		case "team":
			all = true
		}
	}
	if !all && ids == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if all {
		clear(c.entries)
		return
	}
	for _, id := range ids {
		delete(c.entries, id)
	}
}

// setLive turns keeping queues on or off; either way it starts from
// nothing.
func (c *queueCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live, c.gen = live, c.gen+1
	clear(c.entries)
}

// FollowQueueChanges keeps queues in memory for the task path while it
// runs, dropping each as the broker delivers the events of its changes,
// whichever instance made them. It returns when ctx ends.
func (db *DB) FollowQueueChanges(ctx context.Context, broker switchboard.EventBroker) {
	events.Follow(ctx, broker, db.queues.setLive, db.queues.forgetQueues)
}

// taskQueue returns the queue a new task goes to, if the scope reaches it:
// an admin's from memory when it can; a supervisor's is read, for the
// database to say whether it routes to one of their teams.
func (db *DB) taskQueue(ctx context.Context, tx *Tx, sc switchboard.Scope, id string) (*switchboard.Queue, error) {
	if sc.All {
		return db.routingQueue(ctx, tx, id)
	}
	return db.readQueue(ctx, tx, sc, id)
}

// readQueue reads a queue within scope, with its teams, in tx.
func (db *DB) readQueue(ctx context.Context, tx *Tx, sc switchboard.Scope, id string) (*switchboard.Queue, error) {
	qrow, err := findQueueRow(ctx, tx, sc, id, false)
	if err != nil {
		return nil, err
	}
	queues, err := db.loadQueues(ctx, tx, []*queueRow{qrow})
	if err != nil {
		return nil, err
	}
	return queues[0], nil
}
