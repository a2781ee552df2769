package auth

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter throttles attempts per key (a client address) with a token bucket
// each. Buckets that have refilled completely are forgotten, so memory stays
// bounded by the number of recently active clients.
type Limiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

// NewLimiter allows burst attempts at once per key, refilled at one every
// interval. now is the clock (time.Now in production).
func NewLimiter(burst int, interval time.Duration, now func() time.Time) *Limiter {
	return &Limiter{
		rate:    rate.Every(interval),
		burst:   burst,
		now:     now,
		buckets: make(map[string]*bucket),
	}
}

// Allow takes one attempt from key's bucket. When the bucket is empty it
// returns false and how long until the next attempt is allowed.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)

	b := l.buckets[key]
	if b == nil {
		b = &bucket{limiter: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.lastSeen = now
	r := b.limiter.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// sweep drops buckets idle long enough to be full again, at most once per
// refill period so that Allow stays O(1) amortised.
func (l *Limiter) sweep(now time.Time) {
	full := time.Duration(float64(l.burst) / float64(l.rate) * float64(time.Second))
	if l.rate == 0 || math.IsInf(float64(l.rate), 0) {
		full = time.Minute
	}
	if now.Sub(l.lastSweep) < full {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.lastSeen) >= full {
			delete(l.buckets, k)
		}
	}
}

// Len returns the number of keys being tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
