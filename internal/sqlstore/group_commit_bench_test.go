package sqlstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// BenchmarkConcurrentWrites measures small changes (one row updated, one
// event recorded) made by 64 concurrent writers, each change in its own
// transaction ("alone") and through group commit ("group"), on every
// engine the test variables reach:
//
//	go test ./internal/sqlstore -run '^$' -bench ConcurrentWrites -benchtime 3000x -count 6 | benchstat -col /commit -
func BenchmarkConcurrentWrites(b *testing.B) {
	for _, engine := range sqlstoretest.Engines {
		b.Run(string(engine), func(b *testing.B) {
			db := sqlstoretest.Open(b, engine)
			ctx := switchboard.NewContextWithActor(context.Background(), switchboard.SystemActor("bench"))
			const rows = 256 // writers rarely wait for one another's row
			for i := range rows {
				err := db.Write(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
					_, err := tx.ExecContext(ctx, "INSERT INTO settings (name, value, updated_at) VALUES (?, '0', ?)", fmt.Sprint("bench-", i), tx.Now())
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			for _, mode := range []struct {
				name  string
				write func(context.Context, func(context.Context, *sqlstore.Tx) error) error
			}{{"alone", db.WriteAlone}, {"group", db.Write}} {
				b.Run("commit="+mode.name, func(b *testing.B) {
					var n atomic.Int64
					b.SetParallelism(32) // 64 writers on 2 cores
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							i := n.Add(1)
							err := mode.write(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
								if _, err := tx.ExecContext(ctx, "UPDATE settings SET value = ? WHERE name = ?", fmt.Sprint(i), fmt.Sprint("bench-", i%rows)); err != nil {
									return err
								}
								tx.Record(switchboard.Event{Type: switchboard.AuditTeamUpdated, Subject: switchboard.EventSubject{Type: "team", ID: "t1", Name: "Bench"}})
								return nil
							})
							if err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		})
	}
}
