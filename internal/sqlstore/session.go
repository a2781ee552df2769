package sqlstore

import (
	"context"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
)

// SessionStore returns a store for browser sessions in db's sessions table,
// so that every instance sees every session. Unless cleanup is zero, a
// goroutine deletes expired sessions (and idle throttle buckets) at that
// interval, reporting failures to onError, until the returned stop function
// is called.
//
// The stores' own clean-up goroutines are not used: the MySQL one creates
// its stop channel inside the goroutine, which races with stopping it.
func (db *DB) SessionStore(cleanup time.Duration, onError func(error)) (scs.Store, func()) {
	var store scs.Store
	switch db.engine {
	case Postgres:
		store = postgresstore.NewWithCleanupInterval(db.bun.DB, 0)
	case MySQL:
		store = mysqlstore.NewWithCleanupInterval(db.bun.DB, 0)
	default:
		store = sqlite3store.NewWithCleanupInterval(db.bun.DB, 0)
	}
	if cleanup <= 0 {
		return store, func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(cleanup)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				for _, clean := range []func(context.Context) error{db.DeleteExpiredSessions, db.DeleteIdleThrottles} {
					if err := clean(ctx); err != nil && ctx.Err() == nil && onError != nil {
						onError(err)
					}
				}
			}
		}
	}()
	return store, func() { cancel(); <-done }
}

// DeleteExpiredSessions removes sessions past their expiry, in the form each
// store writes it.
func (db *DB) DeleteExpiredSessions(ctx context.Context) error {
	query := "DELETE FROM sessions WHERE expiry < julianday('now')"
	switch db.engine {
	case Postgres:
		query = "DELETE FROM sessions WHERE expiry < current_timestamp"
	case MySQL:
		query = "DELETE FROM sessions WHERE expiry < UTC_TIMESTAMP(6)"
	}
	_, err := db.bun.DB.ExecContext(ctx, query)
	return err
}
