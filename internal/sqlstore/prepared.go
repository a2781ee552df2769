package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
)

// Statements of the task path whose planning costs more than their
// execution. bun writes every value into a statement's text, so each call
// is a statement PostgreSQL has never seen: parsed and planned again, up
// to a millisecond for a query over agents, whose many indexes the planner
// weighs each time. These few are written with their values as
// parameters instead: on PostgreSQL the driver prepares each text once per
// connection, and the server plans it once or from a cached plan. Values
// that select a partial index (a status, a presence) stay in the text, so
// that a cached plan may use the index. The other engines run the same
// text through bun, as every other statement.

// scanPrepared runs a query of "?" placeholders and scans its rows into
// dest as bun would.
func (tx *Tx) scanPrepared(ctx context.Context, dest any, query string, args ...any) error {
	return tx.db.scanPrepared(ctx, tx, dest, query, args...)
}

// scanPrepared is Tx.scanPrepared in the transaction idb.
func (db *DB) scanPrepared(ctx context.Context, idb bun.IDB, dest any, query string, args ...any) error {
	sqlTx := sqlTxOf(idb)
	if db.engine != Postgres || sqlTx == nil {
		return idb.NewRaw(query, args...).Scan(ctx, dest)
	}
	db.ranPrepared(query)
	query = numberedPlaceholders(query)
	if s := takeSlot(ctx); s != nil {
		// A set's first statement, which goes with those of the
		// batch's other sets (see pipeline).
		var err error
		if ctx, err = s.hand(ctx, query, args); err != nil {
			return err
		}
	}
	// The connection's default mode sends statements unprepared (see
	// postgresDSN); these ask to be prepared and kept.
	args = append([]any{pgx.QueryExecModeCacheStatement}, args...)
	rows, err := sqlTx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return db.bun.ScanRows(ctx, rows, dest)
}

// ranPrepared tells afterPrepared, if set, of a statement run prepared.
func (db *DB) ranPrepared(query string) {
	if hook := db.afterPrepared.Load(); hook != nil {
		(*hook)(query)
	}
}

// numberedPlaceholders turns each "?" of a query into PostgreSQL's $1, $2,
// ... The statements given are written here, with no "?" in a literal.
func numberedPlaceholders(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// placeholders is n "?" separated by commas, for an IN list.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// quoted is a constant of the code as an SQL literal. Only constants go
// through it, never input.
func quoted[T ~string](values ...T) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = "'" + strings.ReplaceAll(string(v), "'", "''") + "'"
	}
	return strings.Join(parts, ", ")
}

// execTogether runs statements that change rows (UPDATE, INSERT and
// DELETE queries of bun). On PostgreSQL they go as one statement, each a
// data-modifying WITH clause: one round trip instead of one each, and a
// round trip is a dear part of a small change under load, when the
// server, the database and their clients share a few cores and each
// process must be woken and scheduled in turn. The clauses run on one
// snapshot, in no set order: the statements must change different rows,
// and none may need to see another's change. The other engines run them
// one after another, in the order given.
func (tx *Tx) execTogether(ctx context.Context, queries ...changeQuery) error {
	if tx.db.engine != Postgres || len(queries) == 1 {
		for _, q := range queries {
			if _, err := q.Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	gen := tx.db.bun.QueryGen()
	b := []byte("WITH ")
	for i, q := range queries {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, "s"+strconv.Itoa(i)+" AS ("...)
		var err error
		if b, err = q.AppendQuery(gen, b); err != nil {
			return err
		}
		b = append(b, ')')
	}
	// Every clause runs to completion whether or not this reads it.
	b = append(b, " SELECT 1"...)
	// Straight to the driver: the text is complete, its values written
	// in, and must not be formatted again.
	_, err := tx.Tx.Tx.ExecContext(ctx, string(b))
	return err
}

// changeQuery is what execTogether takes: bun's UPDATE, INSERT and DELETE
// queries.
type changeQuery interface {
	bun.Query
	Exec(ctx context.Context, dest ...any) (sql.Result, error)
}
