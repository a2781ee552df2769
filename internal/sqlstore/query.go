package sqlstore

import (
	"database/sql"

	"github.com/uptrace/bun"
)

var errNoRows = sql.ErrNoRows

// forUpdate locks the selected rows until the transaction ends. SQLite has no
// row locks and needs none: a write transaction there holds the whole
// database (see _txlock=immediate).
func (db *DB) forUpdate(q *bun.SelectQuery) *bun.SelectQuery {
	if db.engine == SQLite {
		return q
	}
	return q.For("UPDATE")
}

// ilike returns a case-insensitive LIKE condition on column with one
// placeholder for a pattern made by likePattern. SQLite's LIKE and MySQL's
// *_ci collations already ignore case; PostgreSQL needs ILIKE.
func (db *DB) ilike(column string) string {
	if db.engine == Postgres {
		return column + " ILIKE ? ESCAPE '!'"
	}
	return column + " LIKE ? ESCAPE '!'"
}
