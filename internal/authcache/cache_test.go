package authcache

import (
	"context"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
)

// resolver is a token table in memory that counts its look-ups.
type resolver struct {
	mu      sync.Mutex
	actors  map[string]*switchboard.Actor
	expires map[string]*time.Time
	calls   int
	during  func() // runs while a look-up is in flight
}

func (r *resolver) ResolveToken(_ context.Context, secret string) (*switchboard.Actor, *time.Time, error) {
	r.mu.Lock()
	r.calls++
	a, exp, during := r.actors[secret], r.expires[secret], r.during
	r.mu.Unlock()
	if during != nil {
		during()
	}
	if a == nil {
		return nil, nil, &switchboard.Error{Code: switchboard.EUNAUTHORIZED, Message: "bad token"}
	}
	return a, exp, nil
}

func (r *resolver) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// broker hands out one subscription at a time, fed by the test.
type broker struct {
	subscribed chan *subscription
}

type subscription struct {
	c    chan []*switchboard.Event
	once sync.Once
}

func (b *broker) Subscribe() switchboard.EventSubscription {
	s := &subscription{c: make(chan []*switchboard.Event, 8)}
	b.subscribed <- s
	return s
}

func (s *subscription) C() <-chan []*switchboard.Event { return s.c }
func (s *subscription) Position() int64                { return 0 }
func (s *subscription) Err() error                     { return nil }
func (s *subscription) Close()                         {}
func (s *subscription) drop()                          { s.once.Do(func() { close(s.c) }) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	cache *Cache
	res   *resolver
	clock *clock
	sub   *subscription
	b     *broker
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		res: &resolver{actors: map[string]*switchboard.Actor{
			"user-token":  {TokenID: "t1", User: &switchboard.User{ID: "u1"}},
			"agent-token": {TokenID: "t2", Agent: &switchboard.Agent{ID: "a1"}},
			"other-agent": {TokenID: "t3", Agent: &switchboard.Agent{ID: "a2"}},
		}, expires: map[string]*time.Time{}},
		clock: &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		b:     &broker{subscribed: make(chan *subscription, 4)},
	}
	f.cache = New(f.res, time.Minute, f.clock.Now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.cache.Follow(ctx, f.b) }()
	t.Cleanup(func() { cancel(); <-done })
	f.sub = <-f.b.subscribed
	f.waitLive(t, true)
	return f
}

func (f *fixture) waitLive(t *testing.T, live bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		f.cache.mu.RLock()
		l := f.cache.live
		f.cache.mu.RUnlock()
		if l == live {
			return
		}
	}
	t.Fatalf("cache live never became %v", live)
}

// authenticate resolves secret and reports whether the database was asked.
func (f *fixture) authenticate(t *testing.T, secret string) (asked bool) {
	t.Helper()
	before := f.res.Calls()
	if _, err := f.cache.Authenticate(context.Background(), secret); err != nil {
		t.Fatalf("authenticate %s: %v", secret, err)
	}
	return f.res.Calls() > before
}

// send delivers events as the hub would and waits until they are applied.
func (f *fixture) send(t *testing.T, events ...*switchboard.Event) {
	t.Helper()
	f.cache.mu.RLock()
	gen := f.cache.gen
	f.cache.mu.RUnlock()
	f.sub.c <- events
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		f.cache.mu.RLock()
		moved := f.cache.gen != gen
		f.cache.mu.RUnlock()
		if moved {
			return
		}
	}
	t.Fatal("the events were never applied")
}

func event(typ, id string) *switchboard.Event {
	return &switchboard.Event{Type: typ + ".updated", Subject: switchboard.EventSubject{Type: typ, ID: id}}
}

func TestCache_HitsUntilTheTTL(t *testing.T) {
	f := newFixture(t)
	if !f.authenticate(t, "agent-token") {
		t.Fatal("first look-up did not reach the database")
	}
	if f.authenticate(t, "agent-token") {
		t.Fatal("second look-up reached the database")
	}
	f.clock.Advance(time.Minute)
	if !f.authenticate(t, "agent-token") {
		t.Fatal("look-up after the TTL did not reach the database")
	}
}

// entryOf returns the cached entry of secret, or nil.
func (f *fixture) entryOf(secret string) *entry {
	f.cache.mu.RLock()
	defer f.cache.mu.RUnlock()
	return f.cache.entries[sha256.Sum256([]byte(secret))]
}

// waitCalls waits until the resolver was asked n times in all.
func (f *fixture) waitCalls(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); f.res.Calls() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the resolver was asked %d times, want %d", f.res.Calls(), n)
		}
	}
}

// A steady client never waits for the database: three quarters through
// its life an entry still answers, and one look-up in the background
// replaces it. A token revoked meanwhile (with its event missed) is
// forgotten by that look-up, and the next call is refused.
func TestCache_RenewsAheadInTheBackground(t *testing.T) {
	f := newFixture(t)
	f.authenticate(t, "agent-token")
	first := f.entryOf("agent-token")
	if first == nil || first.renew.IsZero() || !first.renew.Before(first.expires) {
		t.Fatalf("entry %+v: no renewal before its expiry", first)
	}
	f.clock.Advance(first.renew.Sub(f.clock.Now()))
	for range 3 {
		if a, err := f.cache.Authenticate(context.Background(), "agent-token"); err != nil || a != first.actor {
			t.Fatalf("at the renewal: %v, %v", a, err)
		}
	}
	f.waitCalls(t, 2)
	for deadline := time.Now().Add(5 * time.Second); f.entryOf("agent-token") == first; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the renewal never replaced the entry")
		}
	}
	if second := f.entryOf("agent-token"); !second.expires.After(first.expires) {
		t.Errorf("renewed entry expires %v, the first %v", second.expires, first.expires)
	}
	if calls := f.res.Calls(); calls != 2 {
		t.Errorf("%d look-ups, want 2: one renewal for the three calls", calls)
	}

	f.res.mu.Lock()
	delete(f.res.actors, "agent-token")
	f.res.mu.Unlock()
	second := f.entryOf("agent-token")
	f.clock.Advance(second.renew.Sub(f.clock.Now()))
	if _, err := f.cache.Authenticate(context.Background(), "agent-token"); err != nil {
		t.Fatalf("before its renewal failed: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); f.entryOf("agent-token") != nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a failed renewal kept the entry")
		}
	}
	if _, err := f.cache.Authenticate(context.Background(), "agent-token"); switchboard.ErrorCode(err) != switchboard.EUNAUTHORIZED {
		t.Fatalf("after a failed renewal: %v, want EUNAUTHORIZED", err)
	}
}

func TestCache_TokenExpiryShortensTheEntry(t *testing.T) {
	f := newFixture(t)
	exp := f.clock.Now().Add(10 * time.Second)
	f.res.expires["user-token"] = &exp
	f.authenticate(t, "user-token")
	f.clock.Advance(9 * time.Second)
	if f.authenticate(t, "user-token") {
		t.Fatal("reached the database before the token's expiry")
	}
	f.clock.Advance(time.Second)
	if !f.authenticate(t, "user-token") {
		t.Fatal("an expired token was answered from memory")
	}
}

func TestCache_ErrorsAreNotKept(t *testing.T) {
	f := newFixture(t)
	for range 2 {
		before := f.res.Calls()
		if _, err := f.cache.Authenticate(context.Background(), "nope"); switchboard.ErrorCode(err) != switchboard.EUNAUTHORIZED {
			t.Fatalf("err = %v, want EUNAUTHORIZED", err)
		}
		if f.res.Calls() == before {
			t.Fatal("a refused token was answered from memory")
		}
	}
}

func TestCache_EventsDropWhatTheyConcern(t *testing.T) {
	for _, tc := range []struct {
		name    string
		event   *switchboard.Event
		dropped []string
	}{
		{"token", event("token", "t1"), []string{"user-token"}},
		{"agent", event("agent", "a1"), []string{"agent-token"}},
		{"user", event("user", "u1"), []string{"user-token"}},
		{"team", event("team", "x"), []string{"user-token", "agent-token", "other-agent"}},
		{"unrelated", event("task", "a1"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			secrets := []string{"user-token", "agent-token", "other-agent"}
			for _, s := range secrets {
				f.authenticate(t, s)
			}
			if tc.dropped == nil {
				f.cache.Invalidate([]*switchboard.Event{tc.event})
			} else {
				f.send(t, tc.event)
			}
			for _, s := range secrets {
				want := false
				for _, d := range tc.dropped {
					want = want || d == s
				}
				if got := f.authenticate(t, s); got != want {
					t.Errorf("%s: reached the database = %v, want %v", s, got, want)
				}
			}
		})
	}
}

// An invalidation while the database is read may concern the answer being
// read: it must not be kept.
func TestCache_InvalidationDuringALookUpWins(t *testing.T) {
	f := newFixture(t)
	f.res.during = func() { f.cache.Invalidate([]*switchboard.Event{event("token", "t2")}) }
	f.authenticate(t, "agent-token")
	f.res.during = nil
	if !f.authenticate(t, "agent-token") {
		t.Fatal("an answer read across an invalidation was kept")
	}
}

// Without a live feed of events nothing may be kept: a revocation could go
// unseen.
func TestCache_NothingKeptWithoutTheFeed(t *testing.T) {
	f := newFixture(t)
	f.authenticate(t, "agent-token")
	f.sub.drop()
	f.waitLive(t, false)
	if !f.authenticate(t, "agent-token") || !f.authenticate(t, "agent-token") {
		t.Fatal("answered from memory while the feed was down")
	}
	// It subscribes again and caches again.
	f.sub = <-f.b.subscribed
	f.waitLive(t, true)
	f.authenticate(t, "agent-token")
	if f.authenticate(t, "agent-token") {
		t.Fatal("not cached after the feed came back")
	}
}

func TestCache_NotFollowingCachesNothing(t *testing.T) {
	res := &resolver{actors: map[string]*switchboard.Actor{"s": {TokenID: "t"}}}
	c := New(res, 0, nil)
	for range 3 {
		if _, err := c.Authenticate(context.Background(), "s"); err != nil {
			t.Fatal(err)
		}
	}
	if res.Calls() != 3 || c.Len() != 0 {
		t.Fatalf("%d look-ups, %d entries; want 3 and 0", res.Calls(), c.Len())
	}
}
