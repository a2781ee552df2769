package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// A database server that restarts, fails over, or ends sessions by hand
// leaves the pool full of connections that look alive until they are used.
// database/sql already retries an operation on another connection when the
// driver answers driver.ErrBadConn, but drivers say so only when they know
// the statement was never sent; pgx, for one, reports a connection the
// server ended as the server's FATAL message, so each dead connection cost
// a request its answer.
//
// retryConnector closes that gap for the operations that are safe to run
// twice: a SELECT outside a transaction, and the BEGIN of a transaction.
// When either fails because the connection is gone, the error is marked as
// ErrBadConn, and database/sql drops the connection and runs the operation
// again on another one (fresh, once the idle ones are spent). Other
// statements fail as before: a write whose connection broke may or may not
// have happened, and only its caller can tell whether to try again.
type retryConnector struct {
	driver.Connector
}

// newConnector returns the connector for a network engine's DSN.
func newConnector(engine Engine, dsn string) (driver.Connector, error) {
	var c driver.Connector
	switch engine {
	case Postgres:
		var err error
		if c, err = stdlib.GetDefaultDriver().(driver.DriverContext).OpenConnector(dsn); err != nil {
			return nil, err
		}
	case MySQL:
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, err
		}
		if c, err = mysql.NewConnector(cfg); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("no connector for engine %q", engine)
	}
	return retryConnector{c}, nil
}

func (c retryConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &retryConn{Conn: conn}, nil
}

// retryConn passes everything to the driver's connection, and marks the
// errors of retryable operations on a lost connection as ErrBadConn. It
// implements every optional interface database/sql looks for, forwarding to
// the driver's or answering as database/sql does in its absence, so that
// wrapping changes nothing else, but for two things: on PostgreSQL it runs
// the last statement of a transaction with its COMMIT when asked to (see
// commitTogether), and the first statements of a batch's sets together
// (see pipeline).
type retryConn struct {
	driver.Conn
	inTx bool // a transaction is open: its statements cannot be moved to another connection
	// committedTogether is set when a statement carried its
	// transaction's commit (see commitTogether): the transaction's Commit
	// has nothing left to send.
	committedTogether bool
	// cancelSent is set when a cancel request may reach the server
	// late, and cancel another statement: the connection is not used
	// again.
	cancelSent bool
}

// errCommittedAlready is the error of a statement run in a transaction
// that its last statement committed (see commitTogether).
var errCommittedAlready = errors.New("sqlstore: a statement after the transaction's commit")

var (
	_ driver.ConnBeginTx        = (*retryConn)(nil)
	_ driver.ConnPrepareContext = (*retryConn)(nil)
	_ driver.ExecerContext      = (*retryConn)(nil)
	_ driver.QueryerContext     = (*retryConn)(nil)
	_ driver.Pinger             = (*retryConn)(nil)
	_ driver.SessionResetter    = (*retryConn)(nil)
	_ driver.Validator          = (*retryConn)(nil)
	_ driver.NamedValueChecker  = (*retryConn)(nil)
)

func (c *retryConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.committedTogether {
		return nil, errCommittedAlready
	}
	if conn := pgxConnOf(c.Conn); conn != nil && c.inTx {
		if rows, ok, err := pipelineAnswer(ctx, conn); ok || err != nil {
			return rows, err
		}
	}
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := q.QueryContext(ctx, query, args)
	if err != nil && !c.inTx && isRead(query) {
		err = markLost(ctx, err)
	}
	return rows, err
}

func (c *retryConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var tx driver.Tx
	var err error
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		tx, err = c.Conn.Begin() // as database/sql does for such drivers
	}
	if err != nil {
		return nil, markLost(ctx, err)
	}
	c.inTx = true
	return &retryTx{Tx: tx, conn: c}, nil
}

func (c *retryConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.committedTogether {
		return nil, errCommittedAlready
	}
	if conn := pgxConnOf(c.Conn); conn != nil && c.inTx {
		if _, _, err := pipelineAnswer(ctx, conn); err != nil {
			return nil, err
		}
		if ct, ok := ctx.Value(commitTogetherKey{}).(*commitTogether); ok && ct.dest != nil {
			return c.execAndCommit(ctx, conn, ct, query, args)
		}
	}
	if e, ok := c.Conn.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *retryConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Conn.Prepare(query)
}

func (c *retryConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *retryConn) ResetSession(ctx context.Context) error {
	if c.cancelSent {
		return driver.ErrBadConn
	}
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *retryConn) IsValid() bool {
	if c.cancelSent {
		return false
	}
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *retryConn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.Conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// retryTx notes the end of a transaction on its connection.
type retryTx struct {
	driver.Tx
	conn *retryConn
}

func (tx *retryTx) Commit() error {
	if tx.ended() {
		return nil
	}
	return tx.Tx.Commit()
}

func (tx *retryTx) Rollback() error {
	if tx.ended() {
		return nil
	}
	return tx.Tx.Rollback()
}

// ended notes the end of the transaction, and reports whether its last
// statement committed it already (see commitTogether).
func (tx *retryTx) ended() bool {
	committed := tx.conn.committedTogether
	tx.conn.inTx, tx.conn.committedTogether = false, false
	return committed
}

// markLost marks err as ErrBadConn, keeping the driver's error for the
// log, when it says that the connection is gone, unless the caller gave up:
// a cancelled request must not be run again.
func markLost(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, driver.ErrBadConn) || !isLostConnection(err) {
		return err
	}
	return fmt.Errorf("%w: %w", driver.ErrBadConn, err)
}

// isLostConnection reports whether err says that the connection to the
// server is gone, rather than that the statement failed.
func isLostConnection(err error) bool {
	var pgErr *pgconn.PgError
	var myErr *mysql.MySQLError
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &pgErr):
		// Class 08 is connection exceptions; 57P01 to 57P03 end a
		// session: admin_shutdown (pg_terminate_backend, a fast
		// shutdown), crash_shutdown, cannot_connect_now.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	case errors.As(err, &myErr):
		// ER_SERVER_SHUTDOWN, and MariaDB's ER_CONNECTION_KILLED.
		return myErr.Number == 1053 || myErr.Number == 1927
	}
	return false
}

// isRead reports whether a statement is a SELECT, which can run twice
// without effect. Leading white space and comments are skipped.
func isRead(query string) bool {
	for {
		query = strings.TrimLeft(query, " \t\r\n")
		switch {
		case strings.HasPrefix(query, "--"):
			_, query, _ = strings.Cut(query, "\n")
		case strings.HasPrefix(query, "/*"):
			_, query, _ = strings.Cut(query, "*/")
		default:
			if len(query) < len("SELECT ") || !strings.EqualFold(query[:len("SELECT")], "SELECT") {
				return false
			}
			next := query[len("SELECT")]
			return next == ' ' || next == '\t' || next == '\r' || next == '\n' || next == '(' || next == '*'
		}
	}
}
