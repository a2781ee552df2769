package sqlstoretest

import (
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// Clock is a database's clock that a test moves by hand, safe to read from
// the goroutines of the code under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock makes db's clock one the test moves, starting at 09:00 UTC on
// 1 March 2026.
func NewClock(db *sqlstore.DB) *Clock {
	c := &Clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	db.Now = c.Now
	return c
}

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
