package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
)

// A change's transaction ends with the statement that writes its events,
// then the COMMIT: two round trips, of the four or five that a change made
// alone takes on PostgreSQL. Under light load each round trip wakes the
// server's process and the database's in turn, and those wake-ups, more
// than the statements, are what a change costs. So on PostgreSQL the last
// statement and the COMMIT travel together, one pipeline of the extended
// protocol ending in one Sync: when the statement fails, PostgreSQL skips
// the COMMIT, and the transaction is rolled back as before.
//
// database/sql has no such call: a transaction asks for it through the
// context of its last statement (commitTogether), which the connection
// (retryConn) reads, and the transaction's own Commit then sends nothing.

// commitTogether is a transaction's request that its last statement carry
// the commit, and the outcome.
type commitTogether struct {
	// dest receives the statement's one row (takePositionsLast).
	dest []any
	// committed is set once the commit succeeded: the transaction is
	// over, whatever its Commit later says (see DB.inTx).
	committed bool
}

type commitTogetherKey struct{}

// inTx runs fn in a transaction and commits it, as bun's RunInTx does,
// letting fn's last statement carry the commit (see takePositionsLast):
// fn must run no statement after that one.
func (db *DB) inTx(ctx context.Context, fn func(ctx context.Context, btx bun.Tx) error) error {
	ct := &commitTogether{}
	ctx = context.WithValue(ctx, commitTogetherKey{}, ct)
	btx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done { // fn panicked
			_ = btx.Rollback()
		}
	}()
	// Once committed, the change is made, and must not be made again:
	// an error after that (of Commit, database/sql's own for a context
	// that ended since) does not undo it.
	if err := fn(ctx, btx); err != nil && !ct.committed {
		done = true
		_ = btx.Rollback()
		return err
	}
	done = true
	if err := btx.Commit(); err != nil && !ct.committed {
		return err
	}
	if ct.committed {
		db.commitsTogether.Add(1)
	}
	return nil
}

// takePositionsLast runs query, a statement that takes positions of the
// event sequence and returns the last one taken (see takePositions), as
// the last statement of the transaction idb, and commits the transaction
// with it when it can (see commitTogether): on PostgreSQL, in a
// transaction of inTx, unless a test holds changes back before their
// commit. Otherwise it runs as scanPosition runs it, and the transaction
// commits as usual.
func (db *DB) takePositionsLast(ctx context.Context, idb bun.IDB, query string, args ...any) (int64, error) {
	ct, _ := ctx.Value(commitTogetherKey{}).(*commitTogether)
	sqlTx := sqlTxOf(idb)
	if db.engine != Postgres || ct == nil || sqlTx == nil || db.beforeCommit != nil {
		return db.scanPosition(ctx, idb, query, args...)
	}
	db.ranPrepared(query)
	var n int64
	ct.dest = []any{&n}
	defer func() { ct.dest = nil }() // no other statement carries the commit
	if _, err := sqlTx.ExecContext(ctx, numberedPlaceholders(query), args...); err != nil {
		return 0, err
	}
	if !ct.committed {
		return 0, errors.New("sqlstore: the last statement of a transaction ran without its commit")
	}
	return n, nil
}

// execAndCommit runs a transaction's last statement and its COMMIT in one
// round trip, for commitTogether. The statement is prepared once per
// connection, under its own text, as the driver's statement cache would.
//
// Once sent, the two are not abandoned: a COMMIT already on its way may be
// made whether or not its sender is still waiting, and a change reported
// failed though made would be made again. When ctx ends first, PostgreSQL
// is asked to cancel the statement, and the answer tells which came first:
// a statement cancelled (nothing was made) or a COMMIT made. Only a lost
// connection leaves the outcome unknown, as it does any COMMIT.
func (c *retryConn) execAndCommit(ctx context.Context, conn *pgx.Conn, ct *commitTogether, query string, args []driver.NamedValue) (driver.Result, error) {
	if _, err := conn.Prepare(ctx, query, query); err != nil {
		return nil, err
	}
	values := make([]any, len(args))
	for i, a := range args {
		values[i] = a.Value
	}
	batch := &pgx.Batch{}
	batch.Queue(query, values...)
	batch.Queue("COMMIT")
	stopCancelling := context.AfterFunc(ctx, func() {
		cctx, cancel := context.WithTimeout(context.Background(), cancelRequestTimeout)
		defer cancel()
		_ = conn.PgConn().CancelRequest(cctx)
	})
	results := conn.SendBatch(context.WithoutCancel(ctx), batch)
	err := results.QueryRow().Scan(ct.dest...)
	if err == nil {
		if tag, cerr := results.Exec(); cerr != nil {
			err = cerr
		} else if tag.String() != "COMMIT" {
			// PostgreSQL answers a COMMIT of a failed transaction
			// with ROLLBACK, and no error.
			err = fmt.Errorf("sqlstore: the commit was answered %q", tag)
		} else {
			ct.committed = true
			c.committedTogether = true
		}
	}
	if cerr := results.Close(); err == nil && !ct.committed {
		err = cerr
	}
	if !stopCancelling() {
		// A cancel request was sent, and may reach the server after
		// the statement it was meant for: this connection serves no
		// other (see IsValid).
		c.cancelSent = true
	}
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(1), nil
}

// cancelRequestTimeout bounds the connection that carries a cancel request.
const cancelRequestTimeout = 5 * time.Second

// pgxConnOf is the pgx connection under a driver connection, if it is one.
func pgxConnOf(conn driver.Conn) *pgx.Conn {
	if c, ok := conn.(*stdlib.Conn); ok {
		return c.Conn()
	}
	return nil
}
