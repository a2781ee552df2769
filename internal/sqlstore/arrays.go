package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
)

// Rows as arrays, on PostgreSQL. bun writes a multi-row INSERT with every
// value in its text, so each batch's insert is a statement PostgreSQL has
// never seen, parsed and planned afresh: under load, the inserts of the
// task path's history, events and audit entries spent more time in the
// planner than in the executor. Sent instead as one array per column,
// INSERT … SELECT * FROM unnest($1::type[], $2::type[], …), the text is the
// same whatever the number of rows: the driver prepares it once per
// connection and the server plans it once. The other engines, which have
// no arrays, keep bun's statements.

// arrayInsert is how the rows of one table go in as arrays.
type arrayInsert struct {
	fields []*arrayField
	query  string // with "?" placeholders, one per field
}

type arrayField struct {
	name     string       // the column's
	sqlName  string       // the column's, quoted
	index    []int        // in the row's struct
	typ      reflect.Type // the struct field's
	sqlArray string       // the column's type, as an array
}

// arrayInserts are the arrayInserts of the tables written so far, by the
// type of their rows; nil when a type's rows cannot go as arrays.
type arrayInserts struct {
	mu     sync.Mutex
	byType map[reflect.Type]*arrayInsert
}

// insertAsArrays returns the statement that inserts rows, a slice (or a
// pointer to one) of bun models or of pointers to them, as arrays, and its
// arguments. ok is false when the rows must go through bun: on another
// engine than PostgreSQL, out of a transaction, or rows of a type whose
// fields bun writes in a way of its own (a default, a zero as NULL, a
// value bun encodes).
func (db *DB) insertAsArrays(ctx context.Context, idb bun.IDB, rows any) (query string, args []any, ok bool, err error) {
	if db.engine != Postgres || sqlTxOf(idb) == nil {
		return "", nil, false, nil
	}
	slice := reflect.Indirect(reflect.ValueOf(rows))
	ins, err := db.arrayInsertOf(ctx, idb, slice.Type().Elem())
	if ins == nil || err != nil {
		return "", nil, false, err
	}
	return ins.query, ins.columns(slice), true, nil
}

// columns are the rows of slice as arrays, one per field: the arguments
// of the insert's placeholders.
func (ins *arrayInsert) columns(slice reflect.Value) []any {
	args := make([]any, len(ins.fields))
	for i, f := range ins.fields {
		column := reflect.MakeSlice(reflect.SliceOf(f.typ), slice.Len(), slice.Len())
		for r := range slice.Len() {
			column.Index(r).Set(reflect.Indirect(slice.Index(r)).FieldByIndex(f.index))
		}
		args[i] = column.Interface()
	}
	return args
}

// arrayInsertOf is how rows of type typ (a bun model, or a pointer to
// one) go in as arrays, nil when they cannot. The columns' types are read
// from the catalog once.
func (db *DB) arrayInsertOf(ctx context.Context, idb bun.IDB, typ reflect.Type) (*arrayInsert, error) {
	db.arrays.mu.Lock()
	ins, known := db.arrays.byType[typ]
	db.arrays.mu.Unlock()
	if known {
		return ins, nil
	}
	model := typ
	if model.Kind() == reflect.Pointer {
		model = model.Elem()
	}
	table := db.bun.Table(model)
	var columns []struct {
		Name string `bun:"name"`
		Type string `bun:"type"`
	}
	// Types without their modifiers: an array cast to varchar(36)[] would
	// cut a longer value where the INSERT must refuse it. character
	// without a length is character(1): its values go as text.
	if err := idb.NewRaw("SELECT attname AS name, CASE WHEN atttypid = 'bpchar'::regtype THEN 'text' ELSE format_type(atttypid, NULL) END AS type FROM pg_attribute "+
		"WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped", table.Name).Scan(ctx, &columns); err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", table.Name, err)
	}
	types := map[string]string{}
	for _, c := range columns {
		types[c.Name] = c.Type
	}
	ins = &arrayInsert{}
	names := make([]string, 0, len(table.Fields))
	arrays := make([]string, 0, len(table.Fields))
	for _, f := range table.Fields {
		sqlType, ok := types[f.Name]
		if !ok || f.NullZero || f.SQLDefault != "" || !plainValue(f.IndirectType) {
			ins = nil
			break
		}
		field := &arrayField{name: f.Name, sqlName: string(f.SQLName), index: f.Index, typ: f.StructField.Type, sqlArray: sqlType + "[]"}
		ins.fields = append(ins.fields, field)
		names = append(names, field.sqlName)
		arrays = append(arrays, "?::"+field.sqlArray)
	}
	if ins != nil {
		ins.query = "INSERT INTO " + table.Name + " (" + strings.Join(names, ", ") + ") SELECT * FROM unnest(" + strings.Join(arrays, ", ") + ")"
	}
	db.arrays.mu.Lock()
	if db.arrays.byType == nil {
		db.arrays.byType = map[reflect.Type]*arrayInsert{}
	}
	db.arrays.byType[typ] = ins
	db.arrays.mu.Unlock()
	return ins, nil
}

// plainValue reports whether the driver writes values of typ as bun
// would: strings, numbers, booleans and times.
func plainValue(typ reflect.Type) bool {
	switch typ.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int16, reflect.Int32, reflect.Int64:
		return typ.PkgPath() == "" // not a type of its own, which bun may encode its way
	case reflect.Struct:
		return typ.String() == "time.Time"
	}
	return false
}

// execPrepared runs a statement of "?" placeholders that changes rows, on
// PostgreSQL prepared once per connection (see scanPrepared).
func (db *DB) execPrepared(ctx context.Context, idb bun.IDB, query string, args ...any) error {
	sqlTx := sqlTxOf(idb)
	if db.engine != Postgres || sqlTx == nil {
		_, err := idb.NewRaw(query, args...).Exec(ctx)
		return err
	}
	db.ranPrepared(query)
	_, err := sqlTx.ExecContext(ctx, numberedPlaceholders(query), append([]any{pgx.QueryExecModeCacheStatement}, args...)...)
	return err
}

// sqlTxOf is the database/sql transaction under idb, nil when idb is not
// one.
func sqlTxOf(idb bun.IDB) *sql.Tx {
	switch t := idb.(type) {
	case bun.Tx:
		return t.Tx
	case *Tx:
		return t.Tx.Tx
	}
	return nil
}

// insertTogether inserts sets of rows, each a pointer to a slice of bun
// models or of pointers to them, in the transaction idb; an empty one is
// passed over. On PostgreSQL they go as one statement, each set's INSERT
// of arrays a data-modifying WITH clause (see execTogether): one round
// trip, and one text for any number of rows.
func (db *DB) insertTogether(ctx context.Context, idb bun.IDB, sets ...any) error {
	arrays, args, others, err := db.setsAsArrays(ctx, idb, sets)
	if err != nil {
		return err
	}
	if len(arrays) > 0 {
		query := arrays[len(arrays)-1]
		if len(arrays) > 1 {
			with := make([]string, len(arrays)-1)
			for i, q := range arrays[:len(arrays)-1] {
				with[i] = "s" + strconv.Itoa(i) + " AS (" + q + ")"
			}
			query = "WITH " + strings.Join(with, ", ") + " " + query
		}
		if err := db.execPrepared(ctx, idb, query, args...); err != nil {
			return err
		}
	}
	queries := make([]changeQuery, len(others))
	for i, rows := range others {
		// RETURNING NULL: bun would otherwise read back keys nobody needs.
		queries[i] = idb.NewInsert().Model(rows).Returning("NULL")
	}
	if tx, ok := idb.(*Tx); ok && len(queries) > 0 {
		return tx.execTogether(ctx, queries...)
	}
	for _, q := range queries {
		if _, err := q.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// setsAsArrays returns the INSERT of arrays of each set of rows (see
// insertTogether) that can go as arrays, with their arguments in order,
// and the sets that cannot; empty sets are passed over.
func (db *DB) setsAsArrays(ctx context.Context, idb bun.IDB, sets []any) (queries []string, args []any, others []any, err error) {
	for _, rows := range sets {
		if reflect.ValueOf(rows).Elem().Len() == 0 {
			continue
		}
		query, rowArgs, ok, err := db.insertAsArrays(ctx, idb, rows)
		if err != nil {
			return nil, nil, nil, err
		}
		if !ok {
			others = append(others, rows)
			continue
		}
		queries, args = append(queries, query), append(args, rowArgs...)
	}
	return queries, args, others, nil
}

// insertEventsAtNextPositions takes the next len(events) positions of the
// event sequence and writes the events at them, in one statement: the
// sequence's row stays locked until the commit, and this saves a round trip
// under its lock. events[i] must have position i+1; the statement returns
// the last position taken. The sets of rows first (each a pointer to a
// slice, as insertTogether takes them) go in before, by the same
// statement when they can go as arrays: each set's INSERT is a WITH clause
// that the sequence's update reads only through a condition without a
// column of its rows, which PostgreSQL runs once, before the update reads
// its row (see completeAndRelease). The rows are written before the lock
// is taken, as by a statement of their own, one round trip less. It is
// the last statement of its transaction, and commits it when it can (see
// takePositionsLast). PostgreSQL only.
func (db *DB) insertEventsAtNextPositions(ctx context.Context, idb bun.IDB, events []*eventRow, first ...any) (int64, error) {
	ins, err := db.arrayInsertOf(ctx, idb, reflect.TypeOf(events).Elem())
	if err != nil {
		return 0, err
	}
	if ins == nil {
		return 0, errors.New("sqlstore: events cannot be written as arrays")
	}
	inserts, args, others, err := db.setsAsArrays(ctx, idb, first)
	if err != nil {
		return 0, err
	}
	if len(others) > 0 {
		if err := db.insertTogether(ctx, idb, others...); err != nil {
			return 0, err
		}
	}
	var with, written []string
	for i, query := range inserts {
		name := "w" + strconv.Itoa(i)
		with = append(with, name+" AS ("+query+" RETURNING 1)")
		written = append(written, "(SELECT count(*) FROM "+name+")")
	}
	after := ""
	if len(written) > 0 {
		after = " AND " + strings.Join(written, " + ") + " >= 0"
	}
	names := make([]string, len(ins.fields))
	values := make([]string, len(ins.fields))
	arrays := make([]string, len(ins.fields))
	for i, f := range ins.fields {
		names[i] = f.sqlName
		values[i] = "u.c" + strconv.Itoa(i)
		if f.name == "position" {
			values[i] = "seq.position - ? + " + values[i] // the row's offset, from the last position taken
		}
		arrays[i] = "?::" + f.sqlArray
	}
	with = append(with, "seq AS (UPDATE event_sequence SET position = position + ? WHERE id = 1"+after+" RETURNING position)",
		"ev AS (INSERT INTO events ("+strings.Join(names, ", ")+") SELECT "+strings.Join(values, ", ")+
			" FROM seq, unnest("+strings.Join(arrays, ", ")+") AS u("+strings.Join(columnNames(len(arrays)), ", ")+"))")
	// One row whatever happens: were the sequence's row missing, the
	// statement fails (a division by a count of 0) rather than return no
	// row, for the COMMIT that goes with it must then not be made.
	query := "WITH " + strings.Join(with, ", ") + " SELECT max(position) + 0 * (1 / count(*)) FROM seq"
	args = append(append(args, len(events), len(events)), ins.columns(reflect.ValueOf(events))...)
	return db.takePositionsLast(ctx, idb, query, args...)
}

// columnNames are c0, c1, … c(n-1): the columns of unnest's rows.
func columnNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = "c" + strconv.Itoa(i)
	}
	return names
}
