package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// The sets of a batch in one round trip. A batch of the task path makes
// its sets one after another (see writeBatch): completions, acceptances,
// new tasks. Each set's first statement needs nothing that another set's
// statements answer: the completions' update, the acceptances', the read
// of the new tasks' candidates. Sent one after another, each waits for the
// one before, a round trip each, and a round trip on a busy machine is
// the wake-up of two processes, more than the statement itself. While a
// batch makes its changes, every other change of the instance waits for
// the turn (see groupCommit.turn), so these round trips are the path that
// every change takes.
//
// On PostgreSQL the sets' first statements therefore go together, one
// pipeline of the extended protocol ending in one Sync. PostgreSQL runs
// them in their order, in the transaction, each seeing what those before
// it changed, as if they had come one after another. Each set runs in a
// goroutine of its own, one at a time, until it comes to its first
// statement (scanPrepared), which it hands over and waits; once every set
// has handed over its statement or ended, the sets go on one after
// another, in their order, the first answer sending the whole pipeline.
// What a set does after its first statement thus follows the first
// statements of the sets after it. The sets are written for that: their
// later statements take agents with SKIP LOCKED or lock rows that the
// same set locked already (routing queued work to the agents that
// completions freed), and an agent read as a candidate before another
// set's later statement gave it work is passed over by the reservation,
// which takes only agents with room.
//
// Any other statement that a set runs while statements wait to be sent
// (a queue read when the cache has none) sends them first: statements
// reach PostgreSQL in the order the sets run them.

// pipeline is the first statements of a batch's sets.
type pipeline struct {
	db         *DB
	statements []*pipedStatement
	sent       int // statements[:sent] are sent, and answered or failed
}

// pipedStatement is a statement of a pipeline, and its answer once sent.
type pipedStatement struct {
	p     *pipeline
	query string // with numbered placeholders
	args  []any
	rows  *answeredRows
	err   error
}

// pipeSlot is one set's place in the pipeline, in the context of its
// statements.
type pipeSlot struct {
	p    *pipeline
	used bool // the set has handed over its first statement
	// handed is closed when the set hands over its statement; resume
	// then gives it leave to read the answer (nil), or an error that
	// ends the set (another set failed before it).
	handed chan struct{}
	resume chan error
	done   chan error // the set's outcome
}

type pipeSlotKey struct{}

// pipedKey marks the context of the statement that reads a piped
// statement's answer.
type pipedKey struct{}

// errSetAbandoned ends a set that waits with its first statement when a
// set before it failed: the batch fails, and its changes run again alone.
var errSetAbandoned = errors.New("sqlstore: a set before this one failed")

// makeSets makes the sets of a batch, in their order, their first
// statements in one round trip on PostgreSQL (see pipeline), and returns
// the first error.
func (db *DB) makeSets(ctx context.Context, makes []func(ctx context.Context) error) error {
	if db.engine != Postgres || len(makes) < 2 {
		for _, makeSet := range makes {
			if err := makeSet(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	p := &pipeline{db: db}
	var waiting []*pipeSlot
	var failed error
	for _, makeSet := range makes {
		s := &pipeSlot{p: p, handed: make(chan struct{}), resume: make(chan error), done: make(chan error, 1)}
		go func() { s.done <- makeSet(context.WithValue(ctx, pipeSlotKey{}, s)) }()
		select {
		case <-s.handed:
			waiting = append(waiting, s)
		case failed = <-s.done:
		}
		if failed != nil {
			break // the sets after it are not begun
		}
	}
	for _, s := range waiting {
		if failed != nil {
			s.resume <- errSetAbandoned
			<-s.done
			continue
		}
		s.resume <- nil
		failed = <-s.done
	}
	return failed
}

// takeSlot returns the slot of a set whose first statement this is, or
// nil.
func takeSlot(ctx context.Context) *pipeSlot {
	s, ok := ctx.Value(pipeSlotKey{}).(*pipeSlot)
	if !ok || s.used {
		return nil
	}
	s.used = true
	return s
}

// hand adds a set's first statement to the pipeline and waits for its
// turn to read the answer; the context returned reads it.
func (s *pipeSlot) hand(ctx context.Context, query string, args []any) (context.Context, error) {
	st := &pipedStatement{p: s.p, query: query, args: args}
	s.p.statements = append(s.p.statements, st)
	close(s.handed)
	if err := <-s.resume; err != nil {
		return nil, err
	}
	return context.WithValue(ctx, pipedKey{}, st), nil
}

// pipelineAnswer is what the connection answers a statement whose context
// holds a pipeline: a piped statement's answer (ok), sent first if it was
// not; for another statement the statements waiting are sent first, and
// ok is false: the statement runs as usual.
func pipelineAnswer(ctx context.Context, conn *pgx.Conn) (rows driver.Rows, ok bool, err error) {
	if st, is := ctx.Value(pipedKey{}).(*pipedStatement); is {
		if st.rows == nil && st.err == nil {
			_ = st.p.send(ctx, conn) // failed, it gives st its error
		}
		if st.err != nil {
			return nil, true, st.err
		}
		return st.rows, true, nil
	}
	if s, is := ctx.Value(pipeSlotKey{}).(*pipeSlot); is {
		if err := s.p.send(ctx, conn); err != nil {
			return nil, false, err
		}
	}
	return nil, false, nil
}

// send sends the statements not yet sent in one round trip and keeps
// their answers, and returns the first error.
func (p *pipeline) send(ctx context.Context, conn *pgx.Conn) error {
	pending := p.statements[p.sent:]
	if len(pending) == 0 {
		return nil
	}
	p.sent = len(p.statements)
	fail := func(err error) error {
		for _, st := range pending {
			if st.rows == nil && st.err == nil {
				st.err = err
			}
		}
		return err
	}
	batch := &pgconn.Batch{}
	var params pgx.ExtendedQueryBuilder
	formats := make([][]int16, len(pending))
	for i, st := range pending {
		// Prepared once per connection, under its own text, as the
		// driver's statement cache would (see execAndCommit).
		sd, err := conn.Prepare(ctx, st.query, st.query)
		if err != nil {
			return fail(err)
		}
		if err := params.Build(conn.TypeMap(), sd, st.args); err != nil {
			return fail(err)
		}
		formats[i] = resultFormats(sd.Fields)
		batch.ExecStatement(sd, params.ParamValues, params.ParamFormats, formats[i])
	}
	results := conn.PgConn().ExecBatch(ctx, batch)
	p.db.pipelines.Add(1)
	p.db.piped.Add(int64(len(pending)))
	for i, st := range pending {
		if !results.NextResult() {
			break
		}
		st.rows, st.err = readAnswer(conn.TypeMap(), results.ResultReader(), formats[i])
		if st.err != nil {
			st.rows = nil
		}
	}
	err := results.Close()
	for _, st := range pending {
		switch {
		case err != nil:
		case st.err != nil:
			err = st.err // PostgreSQL ran none of the statements after it
		case st.rows == nil:
			err = errors.New("sqlstore: a piped statement went unanswered")
		}
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

// resultFormats asks for each column the format in which the driver reads
// it for database/sql: binary for the types it reads as Go values, text
// for the others, read as strings (see decoder).
func resultFormats(fields []pgconn.FieldDescription) []int16 {
	formats := make([]int16, len(fields))
	for i, f := range fields {
		if binaryColumn(f.DataTypeOID) {
			formats[i] = pgtype.BinaryFormatCode
		}
	}
	return formats
}

func binaryColumn(oid uint32) bool {
	switch oid {
	case pgtype.BoolOID, pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.Float4OID, pgtype.Float8OID,
		pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.DateOID, pgtype.ByteaOID:
		return true
	}
	return false
}

// decoder reads a column's value, in the format resultFormats asked for,
// as the value database/sql would get from the driver.
func decoder(m *pgtype.Map, oid uint32, format int16) func(src []byte) (driver.Value, error) {
	if format == pgtype.TextFormatCode {
		return func(src []byte) (driver.Value, error) { return string(src), nil }
	}
	switch oid {
	case pgtype.BoolOID:
		return scanAs[bool](m, oid)
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return scanAs[int64](m, oid)
	case pgtype.Float4OID, pgtype.Float8OID:
		return scanAs[float64](m, oid)
	case pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.DateOID:
		return scanAs[time.Time](m, oid)
	}
	return func(src []byte) (driver.Value, error) { return slices.Clone(src), nil } // bytea
}

func scanAs[T any](m *pgtype.Map, oid uint32) func(src []byte) (driver.Value, error) {
	var v T
	plan := m.PlanScan(oid, pgtype.BinaryFormatCode, &v)
	return func(src []byte) (driver.Value, error) {
		err := plan.Scan(src, &v)
		return v, err
	}
}

// readAnswer reads a statement's rows whole: the connection is free for
// the next statement, and the rows are few (a batch's).
func readAnswer(m *pgtype.Map, rr *pgconn.ResultReader, formats []int16) (*answeredRows, error) {
	fields := rr.FieldDescriptions()
	rows := &answeredRows{columns: make([]string, len(fields))}
	decoders := make([]func([]byte) (driver.Value, error), len(fields))
	for i, f := range fields {
		rows.columns[i] = f.Name
		decoders[i] = decoder(m, f.DataTypeOID, formats[i])
	}
	var err error
	for err == nil && rr.NextRow() {
		raw := rr.Values()
		row := make([]driver.Value, len(raw))
		for i, v := range raw {
			if v != nil {
				if row[i], err = decoders[i](v); err != nil {
					break
				}
			}
		}
		rows.values = append(rows.values, row)
	}
	if _, cerr := rr.Close(); err == nil {
		err = cerr
	}
	return rows, err
}

// answeredRows are a piped statement's rows, read whole.
type answeredRows struct {
	columns []string
	values  [][]driver.Value
	next    int
}

func (r *answeredRows) Columns() []string { return r.columns }
func (r *answeredRows) Close() error      { return nil }

func (r *answeredRows) Next(dest []driver.Value) error {
	if r.next >= len(r.values) {
		return io.EOF
	}
	copy(dest, r.values[r.next])
	r.next++
	return nil
}
