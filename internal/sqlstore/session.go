package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
)

// SessionStore returns a store for browser sessions in db's sessions table,
// so that every instance sees every session. Sessions are stored under a
// hash of their token (see hashedStore). Unless cleanup is zero, a
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
	store = hashedStore{store: store, db: db}
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

// hashedStore keeps each session under the SHA-256 of its token, as API
// tokens are kept, so that whoever reads the sessions table (a backup, a
// replica, a leaked dump) finds no cookie that signs them in. The hash is
// base64url without padding: 43 characters, like the tokens scs makes, so it
// fits the stores' column as they are.
//
// Saving and deleting a session are idempotent (an upsert, a delete by key),
// so unlike other writes they are tried again when the server dropped the
// connection: a request should not fail on the pool's dead connections
// after a database restart, and reads already do not.
type hashedStore struct {
	store scs.Store
	db    *DB
}

func hashSessionToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (s hashedStore) Find(token string) ([]byte, bool, error) {
	return s.store.Find(hashSessionToken(token))
}

func (s hashedStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.retry(func() error { return s.store.Commit(hashSessionToken(token), b, expiry) })
}

func (s hashedStore) Delete(token string) error {
	return s.retry(func() error { return s.store.Delete(hashSessionToken(token)) })
}

// retry runs an idempotent write, and runs it again while it fails on a
// lost connection. Each failure takes one dead connection out of the pool
// (the pool sets a failed connection aside on its next use), so there are
// never more attempts than the pool had connections, plus one.
func (s hashedStore) retry(write func() error) error {
	err := write()
	if err == nil || !isLostConnection(err) {
		return err
	}
	for range s.db.bun.DB.Stats().OpenConnections + 1 {
		if err = write(); err == nil || !isLostConnection(err) {
			break
		}
	}
	return err
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
