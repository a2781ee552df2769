// Package authcache keeps the actors of recently seen bearer tokens in
// memory, so that an API call costs no database round trip to learn who
// makes it. Resolving a token takes two queries; an agent that heartbeats
// every few seconds, or a busy integration, would otherwise pay them on
// every request.
//
// A cached actor must never outlive a revocation for long. Entries live
// for a short time at most (the TTL), and the event log cuts them short:
// a revoked token, a changed or retired agent, a disabled user or a
// changed team drops the entries it concerns on every instance, as soon as
// the instance's event hub delivers the event (within a second with
// PostgreSQL NOTIFY, Redis or the hub's poll), and at once on the
// instance that made the change. While no event feed runs, nothing is
// cached at all.
package authcache

import (
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/events"
)

// Resolver finds the actor of a bearer secret in the database, and until
// when that answer may hold by itself (the token's expiry, if any).
type Resolver interface {
	ResolveToken(ctx context.Context, secret string) (*switchboard.Actor, *time.Time, error)
}

// DefaultTTL is how long an entry lives without an event ending it. An
// event is what ends an entry that became wrong, within a second, and an
// instance that loses the feed forgets every entry; the TTL only bounds
// the harm of an event missed all the same. It is long because each
// look-up costs the database several queries and a write: a fleet of
// 10,000 agents looks its tokens up about 50 times a second, where a TTL
// of 30 s made that 500 (and on PostgreSQL a fleet of 200 heartbeating
// agents saw its p99 latency rise by half).
const DefaultTTL = 5 * time.Minute

// maxEntries bounds the memory a flood of distinct tokens can take. Past
// it, the cache starts over rather than tracking ages.
const maxEntries = 100_000

type entry struct {
	actor   *switchboard.Actor
	expires time.Time
	// renew is when a hit starts a look-up in the background, which
	// replaces the entry before it expires (zero: never, the token
	// expires first); renewing marks the one that started.
	renew    time.Time
	renewing atomic.Bool
}

// Cache answers Authenticate from memory when it can.
type Cache struct {
	next Resolver
	ttl  time.Duration
	now  func() time.Time

	misses singleflight.Group

	mu      sync.RWMutex
	live    bool   // an event feed runs: entries can be invalidated
	gen     uint64 // bumped by every invalidation, so a slow miss never stores a stale answer
	entries map[[sha256.Size]byte]*entry
}

// New returns a cache in front of next. It caches nothing until Follow
// runs.
func New(next Resolver, ttl time.Duration, now func() time.Time) *Cache {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{next: next, ttl: ttl, now: now, entries: map[[sha256.Size]byte]*entry{}}
}

// Authenticate resolves a bearer secret to its actor. The actor returned
// may be shared with other requests: callers must not change it.
//
// A client that calls steadily never waits for the database: an entry
// three quarters through its life still answers, and a look-up in the
// background replaces it. Entries of a fleet that connected at once
// would otherwise expire together, and each of its calls in that moment
// would wait in line for the database.
func (c *Cache) Authenticate(ctx context.Context, secret string) (*switchboard.Actor, error) {
	key := sha256.Sum256([]byte(secret))
	now := c.now()
	c.mu.RLock()
	e := c.entries[key]
	c.mu.RUnlock()
	if e != nil && now.Before(e.expires) {
		if !e.renew.IsZero() && !now.Before(e.renew) && e.renewing.CompareAndSwap(false, true) {
			go func() {
				if _, err := c.resolve(context.WithoutCancel(ctx), key, secret); err != nil {
					c.forget(key, e) // the next call finds out, and says so
				}
			}()
		}
		return e.actor, nil
	}
	// Requests that miss on one token at once share one look-up: a busy
	// agent's calls would otherwise all go to the database together.
	v, err, _ := c.misses.Do(string(key[:]), func() (any, error) {
		// Not cut short by the first caller going away: the others wait
		// for the answer too.
		return c.resolve(context.WithoutCancel(ctx), key, secret)
	})
	if err != nil {
		return nil, err
	}
	return v.(*switchboard.Actor), nil
}

// resolve looks a secret up in the database and keeps the answer.
func (c *Cache) resolve(ctx context.Context, key [sha256.Size]byte, secret string) (*switchboard.Actor, error) {
	c.mu.RLock()
	live, gen := c.live, c.gen
	c.mu.RUnlock()
	actor, expiresAt, err := c.next.ResolveToken(ctx, secret)
	if err != nil || !live {
		return actor, err
	}
	now := c.now()
	// Entries made together (a fleet connecting at once) expire apart, so
	// that their look-ups do not come back all in the same instant.
	life := c.ttl - time.Duration(rand.Int64N(int64(c.ttl/4)+1))
	e := &entry{actor: actor, expires: now.Add(life), renew: now.Add(life * 3 / 4)}
	if expiresAt != nil && expiresAt.Before(e.expires) {
		e.expires, e.renew = *expiresAt, time.Time{}
	}
	c.mu.Lock()
	// An invalidation that came while the database was being read may
	// concern this very answer: then it is used once, not kept.
	if c.live && c.gen == gen {
		if len(c.entries) >= maxEntries {
			clear(c.entries)
		}
		c.entries[key] = e
	}
	c.mu.Unlock()
	return actor, nil
}

// forget drops the entry of key if it is still e.
func (c *Cache) forget(key [sha256.Size]byte, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[key] == e {
		delete(c.entries, key)
	}
}

// Len returns the number of cached entries.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// Invalidate drops the entries that events may have made wrong: those of
// a token, agent or user the events are about, and every entry when a
// team changed (an agent's teams are part of its actor). It is safe to
// call with any events, more than once.
func (c *Cache) Invalidate(events []*switchboard.Event) {
	var tokens, agents, users map[string]bool
	all := false
	for _, e := range events {
		switch e.Subject.Type {
		case "token":
			tokens = add(tokens, e.Subject.ID)
		case "agent":
			agents = add(agents, e.Subject.ID)
		case "user":
			users = add(users, e.Subject.ID)
		case "team":
			all = true
		}
	}
	if !all && tokens == nil && agents == nil && users == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if all {
		clear(c.entries)
		return
	}
	for k, e := range c.entries {
		a := e.actor
		if tokens[a.TokenID] || (a.Agent != nil && agents[a.Agent.ID]) || (a.User != nil && users[a.User.ID]) {
			delete(c.entries, k)
		}
	}
}

func add(set map[string]bool, id string) map[string]bool {
	if set == nil {
		set = map[string]bool{}
	}
	set[id] = true
	return set
}

// Follow keeps the cache in step with the event log through broker until
// ctx ends. Entries are kept only while it runs; when its subscription
// breaks (a lagging subscriber is dropped, the hub stops), everything is
// forgotten before it subscribes again, since the events in between are
// unknown.
func (c *Cache) Follow(ctx context.Context, broker switchboard.EventBroker) {
	events.Follow(ctx, broker, c.setLive, c.Invalidate)
}

// setLive turns caching on or off; either way it starts from nothing.
func (c *Cache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.gen++
	clear(c.entries)
}
