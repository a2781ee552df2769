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

// lowerLike returns a LIKE condition on a column stored in lower case, with
// one placeholder for a likePattern of lower-case text. Go does the case
// folding on both sides, so every engine matches the same (SQLite's LIKE
// folds ASCII only, MySQL's *_ci collations also ignore accents) and the
// comparison is a plain one, several times cheaper than ILIKE or a *_ci
// collation on a scan.
func (db *DB) lowerLike(column string) string {
	if db.engine == MySQL {
		return column + " COLLATE utf8mb4_bin LIKE ? ESCAPE '!'"
	}
	return column + " LIKE ? ESCAPE '!'"
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
