package sqlstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/notify/compose"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// BenchmarkRecord measures what recording events adds to a write: the same
// one-row update in a transaction with no event, with one, and with ten,
// on every engine the test variables reach. The difference between the
// cases is the cost of Record (the sequence row, the event and audit rows,
// and on PostgreSQL the notification). The offers cases record events that
// notify (a task offered to an agent who takes it by e-mail and in-app):
// their difference from the events cases is the cost of the triggers,
// which the events cases must not pay.
//
//	go test ./internal/sqlstore -run '^$' -bench Record -benchtime 2000x
func BenchmarkRecord(b *testing.B) {
	for _, engine := range sqlstoretest.Engines {
		b.Run(string(engine), func(b *testing.B) {
			db := sqlstoretest.Open(b, engine)
			db.Composer = compose.New(nil)
			ctx := switchboard.NewContextWithActor(context.Background(), switchboard.SystemActor("bench"))
			MustCreateUser(b, db, "ann@example.com", switchboard.RoleAgent)
			ann, _, err := sqlstore.NewAgentService(db).CreateAgent(ctx, switchboard.NewAgent{Name: "Ann", Kind: switchboard.HumanAgent,
				Email: "ann@example.com", Notify: []switchboard.Channel{switchboard.ChannelEmail, switchboard.ChannelInApp}})
			if err != nil {
				b.Fatal(err)
			}
			err = db.Write(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO settings (name, value, updated_at) VALUES ('bench', '0', ?)", tx.Now())
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			for _, events := range []int{0, 1, 10} {
				b.Run(fmt.Sprintf("events=%d", events), func(b *testing.B) {
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						err := db.Write(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
							if _, err := tx.ExecContext(ctx, "UPDATE settings SET value = ? WHERE name = 'bench'", fmt.Sprint(i)); err != nil {
								return err
							}
							for range events {
								tx.Record(switchboard.Event{Type: switchboard.AuditTeamUpdated,
									Subject: switchboard.EventSubject{Type: "team", ID: "t1", Name: "Bench"},
									Before:  map[string]any{"name": "a"}, After: map[string]any{"name": "b"}, TeamIDs: []string{"t1"}})
							}
							return nil
						})
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			for _, offers := range []int{1, 10} {
				b.Run(fmt.Sprintf("offers=%d", offers), func(b *testing.B) {
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						err := db.Write(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
							if _, err := tx.ExecContext(ctx, "UPDATE settings SET value = ? WHERE name = 'bench'", fmt.Sprint(i)); err != nil {
								return err
							}
							for range offers {
								tx.Record(switchboard.Event{Type: switchboard.AuditTaskOffered,
									Subject: switchboard.EventSubject{Type: "task", ID: "t1", Name: "Bench"}, AgentID: ann.ID})
							}
							return nil
						})
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
