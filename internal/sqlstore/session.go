package sqlstore

import (
	"time"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
)

// SessionStore returns a store for browser sessions in db's sessions table,
// so that every instance sees every session, and a function that stops its
// background clean-up of expired sessions.
func (db *DB) SessionStore(cleanup time.Duration) (scs.Store, func()) {
	switch db.engine {
	case Postgres:
		s := postgresstore.NewWithCleanupInterval(db.bun.DB, cleanup)
		return s, s.StopCleanup
	case MySQL:
		s := mysqlstore.NewWithCleanupInterval(db.bun.DB, cleanup)
		return s, s.StopCleanup
	default:
		s := sqlite3store.NewWithCleanupInterval(db.bun.DB, cleanup)
		return s, s.StopCleanup
	}
}
