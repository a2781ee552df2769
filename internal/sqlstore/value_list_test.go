package sqlstore

import (
	"fmt"
	"slices"
	"testing"
)

// Lists of IDs go as values, padded with the last ID to a power of two, so
// that a prepared statement sees few lengths; beyond maxValueList, as an
// array.
func TestAnyOf(t *testing.T) {
	ids := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprint("id", i)
		}
		return s
	}
	for _, tt := range []struct {
		n        int
		cond     string
		wantArgs []any
	}{
		{0, "id = ANY(?::text[])", []any{ids(0)}},
		{1, "id = ?", []any{"id0"}},
		{2, "id IN (?, ?)", []any{"id0", "id1"}},
		{3, "id IN (?, ?, ?, ?)", []any{"id0", "id1", "id2", "id2"}},
		{4, "id IN (?, ?, ?, ?)", []any{"id0", "id1", "id2", "id3"}},
		{maxValueList + 1, "id = ANY(?::text[])", []any{ids(maxValueList + 1)}},
	} {
		cond, args := anyOf("id", ids(tt.n))
		if cond != tt.cond || fmt.Sprint(args) != fmt.Sprint(tt.wantArgs) {
			t.Errorf("anyOf(%d IDs) = %q %v, want %q %v", tt.n, cond, args, tt.cond, tt.wantArgs)
		}
	}
	if cond, args := anyOf("id", ids(maxValueList)); len(args) != maxValueList || cond != "id IN ("+placeholders(maxValueList)+")" {
		t.Errorf("anyOf(%d IDs) = %d values, want as many", maxValueList, len(args))
	}
}

func TestInPairs_Postgres(t *testing.T) {
	db := &DB{engine: Postgres}
	pairs := [][2]string{{"t1", "a1"}, {"t2", "a2"}, {"t3", "a1"}}
	cond, args := db.inPairs("id, agent_id", []any{"before"}, pairs)
	want := "id IN (?, ?, ?, ?) AND (id, agent_id) IN ((?, ?), (?, ?), (?, ?), (?, ?))"
	wantArgs := []any{"before", "t1", "t2", "t3", "t3", "t1", "a1", "t2", "a2", "t3", "a1", "t3", "a1"}
	if cond != want || !slices.Equal(args, wantArgs) {
		t.Errorf("inPairs = %q %v, want %q %v", cond, args, want, wantArgs)
	}
	if cond, args := db.inPairs("id, agent_id", nil, pairs[:1]); cond != "id = ? AND agent_id = ?" || len(args) != 2 {
		t.Errorf("inPairs(one pair) = %q %v", cond, args)
	}
}
