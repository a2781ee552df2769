package sqlstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// On PostgreSQL, batches write their rows as arrays, one per column, where
// bun writes each value into the statement: the rows must come back as
// they were given, and a value too long for its column must be refused,
// never cut (an array cast to varchar(n)[] would cut it).
func TestRowsWrittenAsArrays(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := systemCtx()
		at := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)
		entry := func(id, target string) *switchboard.AuditEntry {
			return &switchboard.AuditEntry{ID: id, At: at, ActorType: "user", ActorID: "u1", ActorName: "Ann 'O' \"Q\" ?",
				Action: "test.arrays", TargetType: "test", TargetID: target, TargetName: strings.Repeat("é", 254), IP: "::1", RequestID: "r1"}
		}
		full := entry("a1", "full")
		full.Before, full.After = map[string]any{"n": 1.0, "s": "x,y"}, map[string]any{"list": []any{"a", nil}}
		empty := entry("a2", "empty") // no before nor after: NULL
		if err := db.InsertAuditEntries(ctx, full, empty); err != nil {
			t.Fatal(err)
		}
		page, err := sqlstore.NewAuditService(db).FindAuditEntries(ctx, switchboard.AuditFilter{Action: "test.arrays", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]*switchboard.AuditEntry{}
		for _, e := range page.Items {
			got[e.ID] = e
		}
		if len(got) != 2 {
			t.Fatalf("read %d entries, want 2", len(got))
		}
		for _, want := range []*switchboard.AuditEntry{full, empty} {
			e := got[want.ID]
			if e == nil || !e.At.Equal(want.At.Truncate(time.Microsecond)) || e.ActorName != want.ActorName || e.TargetName != want.TargetName ||
				e.TargetID != want.TargetID || len(e.Before) != len(want.Before) || len(e.After) != len(want.After) {
				t.Errorf("read %+v, want %+v", e, want)
			}
		}
		if s, _ := got["a1"].Before["s"].(string); s != "x,y" {
			t.Errorf("before = %v, want s x,y", got["a1"].Before)
		}
		if db.Engine() == sqlstore.SQLite {
			return // which holds any length in any column
		}
		tooLong := entry("a3", strings.Repeat("x", 65)) // target_id is VARCHAR(64)
		if err := db.InsertAuditEntries(ctx, tooLong); err == nil {
			t.Error("a value too long for its column was written")
		}
	})
}
