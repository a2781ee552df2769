package sqlstore

// Engine differences live in this file: locking clauses, case-insensitive
// matching, upserts, statistics, the event sequence.

import (
	"context"
	"database/sql"
	"errors"
	"strings"

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

// forUpdateSkipLocked locks the selected rows that no other transaction
// holds, skipping the others instead of waiting for them: routers on
// several instances then share out queued tasks without queuing behind each
// other. SQLite's one writer needs no row locks.
func (db *DB) forUpdateSkipLocked(q *bun.SelectQuery) *bun.SelectQuery {
	if db.engine == SQLite {
		return q
	}
	return q.For("UPDATE SKIP LOCKED")
}

// sweepAgents names the agents table (aliased a) for the sweeper's look for
// present agents not seen lately, held to agents_presence_mark_idx. The
// planners of SQLite and MySQL know only how many agents share a presence
// on average (after an import: all of them, offline) and would read every
// agent, every second, where the index answers from a few entries.
func (db *DB) sweepAgents() string {
	switch db.engine {
	case SQLite:
		return "agents AS a INDEXED BY agents_presence_mark_idx"
	case MySQL:
		return "agents AS a FORCE INDEX (agents_presence_mark_idx)"
	}
	return "agents AS a"
}

// secondsBefore returns a condition with one placeholder, for a time: that
// the time column, plus the number of seconds in the seconds column, is not
// after it.
func (db *DB) secondsBefore(timeColumn, secondsColumn string) string {
	switch db.engine {
	case Postgres:
		return timeColumn + " + " + secondsColumn + " * INTERVAL '1 second' <= ?"
	case MySQL:
		return "DATE_ADD(" + timeColumn + ", INTERVAL " + secondsColumn + " SECOND) <= ?"
	}
	return "julianday(" + timeColumn + ") + " + secondsColumn + " / 86400.0 <= julianday(?)"
}

// joinTasksInStatuses left-joins to q, a select over queues aliased q, the
// tasks (aliased tk) of each queue in any of statuses, for a count grouped by
// queue and status, and returns the expression of the status to group by.
// Every engine must seek each (queue, status) pair in tasks_queue_next_idx
// (queue_id, status, ...), reading the unfinished tasks only, however many
// finished ones there are. MariaDB's joins use only the equality prefix of
// an index: with status IN (...) it reads every task of each queue (2.4 s
// against 0.15 s at a million tasks), so there the statuses come as a
// derived table, joined by equality. PostgreSQL estimates that form badly
// and plans a parallel scan (100 ms against 16 ms), so PostgreSQL and SQLite
// keep the IN list.
func (db *DB) joinTasksInStatuses(q *bun.SelectQuery, statuses []string) string {
	if db.engine != MySQL {
		q.Join("LEFT JOIN tasks AS tk ON tk.queue_id = q.id AND tk.status IN (?)", bun.List(statuses))
		return "tk.status"
	}
	union := make([]string, len(statuses))
	args := make([]any, len(statuses))
	for i, st := range statuses {
		union[i], args[i] = "SELECT ?", st
	}
	union[0] += " AS status"
	q.Join("CROSS JOIN ("+strings.Join(union, " UNION ALL ")+") AS st", args...).
		Join("LEFT JOIN tasks AS tk ON tk.queue_id = q.id AND tk.status = st.status")
	return "st.status"
}

// insertLockingExisting makes an INSERT that does nothing when a row with
// its key exists. On MySQL, INSERT IGNORE would share-lock the existing row
// and two transactions would deadlock upgrading that lock to the one they
// take next; a no-op update of the key column locks it exclusively at once.
func (db *DB) insertLockingExisting(q *bun.InsertQuery, keyColumn string) *bun.InsertQuery {
	if db.engine == MySQL {
		return q.On("DUPLICATE KEY UPDATE " + keyColumn + " = " + keyColumn)
	}
	return q.Ignore()
}

// asKey makes a text column comparable with a key column (an ID) through
// the key's index. MySQL keeps IDs in ASCII and free text such as
// events.subject_id in utf8mb4, and compares the two in the wider
// character set, which no index of the key is in: a join from the events
// to the tasks then scanned the whole table of tasks (280 s for 5,000
// events among 1,000,000 tasks, against 0.4 s through the key).
func (db *DB) asKey(column string) string {
	if db.engine == MySQL {
		return "CONVERT(" + column + " USING ascii) COLLATE ascii_bin"
	}
	return column
}

// analyze refreshes the planner's statistics of tables; SQLite keeps none
// unless asked.
func (db *DB) analyze(ctx context.Context, tables ...string) error {
	var err error
	switch db.engine {
	case Postgres:
		_, err = db.bun.ExecContext(ctx, "ANALYZE "+strings.Join(tables, ", "))
	case MySQL:
		_, err = db.bun.ExecContext(ctx, "ANALYZE TABLE "+strings.Join(tables, ", "))
	}
	return err
}

// takePositions reserves n event positions and returns the last. The
// sequence row stays locked until the transaction ends, which is what
// orders writers' commits by position; an aborted transaction gives its
// positions back. Each engine does it in one round trip: MariaDB has no
// UPDATE … RETURNING, but LAST_INSERT_ID(expr) hands the
// value back in the statement's result.
func (db *DB) takePositions(ctx context.Context, idb bun.IDB, n int) (int64, error) {
	var last int64
	switch db.engine {
	case MySQL:
		res, err := idb.ExecContext(ctx, "UPDATE event_sequence SET position = LAST_INSERT_ID(position + ?) WHERE id = 1", n)
		if err != nil {
			return 0, err
		}
		// A row changes when positions are taken (MySQL counts the
		// rows changed, not those found).
		if changed, err := res.RowsAffected(); err == nil && changed == 0 && n > 0 {
			return 0, errNoSequence
		}
		return res.LastInsertId()
	case Postgres:
		// Prepared once per connection: it runs with every change.
		return db.scanPosition(ctx, idb, "UPDATE event_sequence SET position = position + ? WHERE id = 1 RETURNING position", n)
	default:
		err := idb.QueryRowContext(ctx, "UPDATE event_sequence SET position = position + ? WHERE id = 1 RETURNING position", n).Scan(&last)
		return last, err
	}
}

// scanPosition runs a statement that takes positions, prepared (see
// scanPrepared), and returns the last position it took.
func (db *DB) scanPosition(ctx context.Context, idb bun.IDB, query string, args ...any) (int64, error) {
	var rows []int64
	if err := db.scanPrepared(ctx, idb, &rows, query, args...); err != nil {
		return 0, err
	}
	if len(rows) != 1 {
		return 0, errNoSequence
	}
	return rows[0], nil
}

// errNoSequence is the error of a statement that found no row to take
// positions from.
var errNoSequence = errors.New("sqlstore: the event sequence has no row")

// insertEventRows writes a change's events and audit entries. On a server
// engine the two inserts travel as one statement (a data-modifying WITH of
// arrays on PostgreSQL, two statements in one call on MySQL), saving a
// round trip on every write; elsewhere a bulk change goes in chunks.
func (db *DB) insertEventRows(ctx context.Context, tx bun.IDB, events []*eventRow, audits []*auditRow) error {
	if db.engine == Postgres {
		return db.insertTogether(ctx, tx, &events, &audits)
	}
	if db.engine == SQLite || len(events) > insertChunk || len(audits) > insertChunk || len(audits) == 0 {
		if err := insertChunks(ctx, db, tx, events); err != nil {
			return err
		}
		return insertChunks(ctx, db, tx, audits)
	}
	eventsSQL := tx.NewInsert().Model(&events).Returning("NULL").String()
	auditsSQL := tx.NewInsert().Model(&audits).Returning("NULL").String()
	var query string
	if db.engine == Postgres {
		query = "WITH ev AS (" + eventsSQL + ") " + auditsSQL
	} else {
		query = eventsSQL + ";\n" + auditsSQL
	}
	// No arguments: the statements are complete, and a "?" in a value must
	// not be read as a placeholder.
	_, err := tx.ExecContext(ctx, query)
	return err
}

// upsert makes an INSERT update the row that has its key instead: adding
// the new values of cols to the old ones when add is set, replacing them
// otherwise. The model's table alias must be the table's name.
func (db *DB) upsert(q *bun.InsertQuery, key string, cols []string, add bool) *bun.InsertQuery {
	table := q.GetTableName()
	if db.engine == MySQL {
		q = q.On("DUPLICATE KEY UPDATE")
	} else {
		q = q.On("CONFLICT (" + key + ") DO UPDATE")
	}
	for _, c := range cols {
		value := "EXCLUDED." + c
		if db.engine == MySQL {
			value = "VALUES(" + c + ")"
		}
		if add {
			value = table + "." + c + " + " + value
		}
		q = q.Set(c + " = " + value)
	}
	return q
}
