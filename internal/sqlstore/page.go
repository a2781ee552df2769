package sqlstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// listOrder is the order of a keyset-paginated list: one column, ascending or
// descending, with the row ID breaking ties so that every row has a unique
// place and no row is skipped or repeated between pages, whatever is inserted
// meanwhile.
type listOrder struct {
	sort   string // the API's name of the order, e.g. "-created_at"
	column string // the column behind it, e.g. "u.created_at"
	id     string // the ID column, e.g. "u.id"
	desc   bool
	isTime bool
	isInt  bool
}

// newListOrder reads a sort name like "name" or "-created_at"; columns maps
// sort names to columns, and timeColumns says which of them hold times.
func newListOrder(sort, id string, columns map[string]string, timeColumns ...string) listOrder {
	name := strings.TrimPrefix(sort, "-")
	o := listOrder{sort: sort, column: columns[name], id: id, desc: strings.HasPrefix(sort, "-")}
	for _, c := range timeColumns {
		o.isTime = o.isTime || c == name
	}
	return o
}

// cursor is what a page's NextCursor encodes: the order it belongs to and the
// last row's sort value and ID.
type cursor struct {
	Sort  string `json:"s"`
	Value string `json:"v"`
	ID    string `json:"i"`
}

// apply adds the order, the position after the cursor and the limit to q. It
// fetches one row more than limit, which tells whether a next page exists.
func (o listOrder) apply(q *bun.SelectQuery, cursorText string, limit int) (*bun.SelectQuery, error) {
	dir := " ASC"
	op := ">"
	if o.desc {
		dir, op = " DESC", "<"
	}
	if cursorText != "" {
		value, id, err := o.decodeCursor(cursorText)
		if err != nil {
			return nil, err
		}
		// "column >= value AND (column > value OR id > last ID)": the same
		// rows as "column > value OR (column = value AND id > last ID)",
		// but its first half gives every engine a range to seek to in the
		// list's index, where PostgreSQL would otherwise read the index
		// from its start.
		q = q.Where("("+o.column+" "+op+"= ? AND ("+o.column+" "+op+" ? OR "+o.id+" "+op+" ?))", value, value, id)
	}
	return q.OrderExpr(o.column + dir).OrderExpr(o.id + dir).Limit(int64(limit + 1)), nil
}

// nextCursor encodes the position after the row with the sort value and ID.
func (o listOrder) nextCursor(value any, id string) string {
	c := cursor{Sort: o.sort, ID: id}
	switch v := value.(type) {
	case time.Time:
		c.Value = v.UTC().Format(time.RFC3339Nano)
	case string:
		c.Value = v
	case int:
		c.Value = strconv.Itoa(v)
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// listPage runs q in the order o, from cursor, for one page of limit items:
// it scans the rows, computes the next cursor from the sort value and ID
// that key reads off the page's last row (as stored, so that the cursor
// matches the order exactly), and turns the page's rows into domain values
// with load (one call for the whole page, so that related rows can be
// fetched in one query).
func listPage[R, D any](ctx context.Context, q *bun.SelectQuery, rows *[]R, o listOrder, cursor string, limit int,
	load func([]R) ([]D, error), key func(R) (any, string)) (*switchboard.Page[D], error) {
	q, err := o.apply(q, cursor, limit)
	if err != nil {
		return nil, err
	}
	if err := q.Scan(ctx); err != nil {
		return nil, translate(err)
	}
	kept, next := *rows, ""
	if len(kept) > limit {
		kept = kept[:limit]
		next = o.nextCursor(key(kept[limit-1]))
	}
	items, err := load(kept)
	if err != nil {
		return nil, translate(err)
	}
	if items == nil {
		items = []D{}
	}
	return &switchboard.Page[D]{Items: items, NextCursor: next}, nil
}

// each converts rows one by one, for listPage.
func each[R, D any](convert func(R) D) func([]R) ([]D, error) {
	return func(rows []R) ([]D, error) {
		out := make([]D, len(rows))
		for i, r := range rows {
			out[i] = convert(r)
		}
		return out, nil
	}
}

// errBadCursor is the answer to a cursor that decodeCursor refuses.
func errBadCursor() error {
	return &switchboard.Error{Code: switchboard.EINVALID, Message: "The cursor is not valid for this list; start again without it.",
		Fields: []switchboard.FieldError{{Field: "cursor", Message: "The cursor is not valid for this list."}}}
}

// decodeCursor reads a cursor of the order o: the sort value of the last row
// of the previous page (a time, for orders by time) and its ID. Cursors come
// back from clients, who may have altered them: anything but what
// nextCursor makes for o (not base64 JSON, another order's cursor, an ID
// that is not a UUID, text with NUL, a time outside what every engine
// stores) is EINVALID, and reaches no database.
func (o listOrder) decodeCursor(s string) (value any, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, "", errBadCursor()
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Sort != o.sort || !switchboard.ValidID(c.ID) || !switchboard.ValidText(c.Value) {
		return nil, "", errBadCursor()
	}
	if o.isInt {
		n, err := strconv.Atoi(c.Value)
		if err != nil {
			return nil, "", errBadCursor()
		}
		return n, c.ID, nil
	}
	if !o.isTime {
		return c.Value, c.ID, nil
	}
	t, err := time.Parse(time.RFC3339Nano, c.Value)
	if err != nil || !switchboard.ValidTime(t) {
		return nil, "", errBadCursor()
	}
	return t.UTC(), c.ID, nil
}

// likePattern returns a LIKE pattern matching s anywhere, with LIKE's own
// wildcards in s escaped by '!' (every engine accepts ESCAPE '!', unlike a
// backslash, whose meaning in string literals differs between engines).
func likePattern(s string) string { return "%" + likeEscaper.Replace(s) + "%" }

// prefixPattern returns a LIKE pattern matching strings that start with s.
func prefixPattern(s string) string { return likeEscaper.Replace(s) + "%" }

var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
