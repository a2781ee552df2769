package sqlstore_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestRecordHeartbeats writes a batch larger than one statement's chunk:
// last-seen times move forward only, and metadata is replaced only by a
// heartbeat that carries some.
func TestRecordHeartbeats(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		agents := sqlstore.NewAgentService(db)
		const n = 600
		ids := make([]string, n)
		for i := range ids {
			a, _, err := agents.CreateAgent(f.admin, switchboard.NewAgent{Name: fmt.Sprintf("Worker %03d", i), Kind: "machine", Capacity: 1})
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = a.ID
		}
		at := time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)
		var beats []switchboard.Heartbeat
		for i, id := range ids {
			h := switchboard.Heartbeat{AgentID: id, At: at}
			if i%2 == 0 {
				h.Metadata = json.RawMessage(fmt.Sprintf(`{"version":"1.2.3","n":%d}`, i))
			}
			beats = append(beats, h)
		}
		if deferred, err := db.RecordHeartbeats(systemCtx(), beats); err != nil || len(deferred) > 0 {
			t.Fatal(err, deferred)
		}
		// An older heartbeat arriving late changes nothing.
		late := []switchboard.Heartbeat{{AgentID: ids[0], At: at.Add(-time.Minute), Metadata: json.RawMessage(`{"version":"old"}`)}}
		if _, err := db.RecordHeartbeats(systemCtx(), late); err != nil {
			t.Fatal(err)
		}
		// A newer one without metadata keeps the metadata.
		newer := []switchboard.Heartbeat{{AgentID: ids[2], At: at.Add(time.Second)}}
		if _, err := db.RecordHeartbeats(systemCtx(), newer); err != nil {
			t.Fatal(err)
		}
		for i, id := range []string{ids[0], ids[1], ids[2], ids[n-1]} {
			a, err := agents.FindAgentByID(f.admin, id)
			if err != nil {
				t.Fatal(err)
			}
			want := at
			if i == 2 {
				want = at.Add(time.Second)
			}
			if a.LastSeenAt == nil || !a.LastSeenAt.Equal(want) {
				t.Errorf("agent %d last seen %v, want %v", i, a.LastSeenAt, want)
			}
			switch i {
			case 0, 2:
				if a.Metadata["version"] != "1.2.3" {
					t.Errorf("agent %d metadata %v, want version 1.2.3", i, a.Metadata)
				}
			default:
				if len(a.Metadata) != 0 {
					t.Errorf("agent %d metadata %v, want none", i, a.Metadata)
				}
			}
		}
		if _, err := db.RecordHeartbeats(systemCtx(), nil); err != nil {
			t.Fatal(err)
		}
	})
}
