package sqlstore

// Engine differences live in this file: locking clauses, case-insensitive
// matching, sequences.

import (
	"context"
	"database/sql"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

var errNoRows = sql.ErrNoRows

// forUpdate locks the selected rows until the transaction ends. SQLite has no
// row locks and needs none: a write transaction there holds the whole
// database (see _txlock=immediate).
func forUpdate(q *bun.SelectQuery) *bun.SelectQuery {
	if q.Dialect().Name() == dialect.SQLite {
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

// takePositions reserves n event positions and returns the last. The
// sequence row stays locked until the transaction ends, which is what
// orders writers' commits by position; an aborted transaction gives its
// positions back.
func (db *DB) takePositions(ctx context.Context, idb bun.IDB, n int) (int64, error) {
	var last int64
	switch db.engine {
	case MySQL:
		// MariaDB has no UPDATE … RETURNING; LAST_INSERT_ID(expr) keeps the
		// value for this connection.
		if _, err := idb.ExecContext(ctx, "UPDATE event_sequence SET position = LAST_INSERT_ID(position + ?) WHERE id = 1", n); err != nil {
			return 0, err
		}
		err := idb.QueryRowContext(ctx, "SELECT LAST_INSERT_ID()").Scan(&last)
		return last, err
	default:
		err := idb.QueryRowContext(ctx, "UPDATE event_sequence SET position = position + ? WHERE id = 1 RETURNING position", n).Scan(&last)
		return last, err
	}
}
