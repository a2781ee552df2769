package sqlstore

import (
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
)

// The orders cursors are decoded for: by text and by time, each way.
var fuzzOrders = []listOrder{
	newListOrder("name", "a.id", map[string]string{"name": "a.sort_name"}),
	newListOrder("-created_at", "a.id", map[string]string{"created_at": "a.created_at"}, "created_at"),
	newListOrder("-at", "ae.id", map[string]string{"at": "ae.at"}, "at"),
}

// FuzzDecodeCursor: a cursor comes back from the client, who may have
// altered it. Whatever it holds, decoding does not panic; it is refused
// with the EINVALID error on the cursor field, or it yields a UUID and a
// sort value every engine can compare (text without NUL, a time in range).
// And every cursor that nextCursor makes of a valid position decodes to
// that position.
func FuzzDecodeCursor(f *testing.F) {
	f.Fuzz(func(t *testing.T, text, value, id string) {
		for _, o := range fuzzOrders {
			v, gotID, err := o.decodeCursor(text)
			if err != nil {
				fields := switchboard.ErrorFields(err)
				if switchboard.ErrorCode(err) != switchboard.EINVALID || len(fields) != 1 || fields[0].Field != "cursor" {
					t.Fatalf("%s: error %v, want EINVALID on cursor", o.sort, err)
				}
			} else {
				checkPosition(t, o, v, gotID)
				if again := o.nextCursor(v, gotID); again != text {
					if v2, id2, err := o.decodeCursor(again); err != nil || !samePosition(v, v2) || id2 != gotID {
						t.Fatalf("%s: %v %q re-encoded as %q decodes to %v %q (%v)", o.sort, v, gotID, again, v2, id2, err)
					}
				}
			}

			// A position made from the fuzzer's value and ID.
			var position any = value
			if o.isTime {
				at, err := time.Parse(time.RFC3339Nano, value)
				if err != nil {
					continue
				}
				position = at
			}
			if !switchboard.ValidID(id) || !switchboard.ValidText(value) || (o.isTime && !switchboard.ValidTime(position.(time.Time))) {
				continue
			}
			v, gotID, err = o.decodeCursor(o.nextCursor(position, id))
			if err != nil || gotID != id || !samePosition(v, position) {
				t.Fatalf("%s: the cursor of %v %q decodes to %v %q (%v)", o.sort, position, id, v, gotID, err)
			}
		}
	})
}

func checkPosition(t *testing.T, o listOrder, v any, id string) {
	t.Helper()
	if !switchboard.ValidID(id) {
		t.Fatalf("%s: decoded ID %q", o.sort, id)
	}
	switch x := v.(type) {
	case time.Time:
		if !o.isTime || !switchboard.ValidTime(x) || x.Location() != time.UTC {
			t.Fatalf("%s: decoded time %v", o.sort, x)
		}
	case string:
		if o.isTime || !switchboard.ValidText(x) {
			t.Fatalf("%s: decoded text %q", o.sort, x)
		}
	default:
		t.Fatalf("%s: decoded %T", o.sort, v)
	}
}

func samePosition(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	return a == b
}
