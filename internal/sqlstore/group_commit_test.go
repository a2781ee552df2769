package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// Concurrent changes share transactions; one that fails must neither take
// the others with it nor leave anything of its own, and each caller must
// get its own answer.
func TestWrite_ConcurrentChangesCommitTogetherAndFailAlone(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := switchboard.NewContextWithActor(context.Background(), switchboard.SystemActor("test"))
		var mu sync.Mutex
		delivered := map[string]int{}
		db.OnEvents = func(events []*switchboard.Event) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range events {
				delivered[e.Subject.ID]++
			}
		}
		errRefused := errors.New("refused")
		const n = 200
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = db.Write(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
					name := fmt.Sprintf("setting-%d", i)
					if _, err := tx.ExecContext(ctx, "INSERT INTO settings (name, value, updated_at) VALUES (?, 'x', ?)", name, tx.Now()); err != nil {
						return err
					}
					tx.Record(switchboard.Event{Type: switchboard.AuditTeamUpdated, Subject: switchboard.EventSubject{Type: "team", ID: name, Name: name}})
					if i%10 == 7 {
						return errRefused // after writing: none of it may stay
					}
					return nil
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if want := i%10 == 7; want != errors.Is(err, errRefused) || (!want && err != nil) {
				t.Errorf("change %d: err = %v", i, err)
			}
		}
		events, err := db.EventsAfter(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]int{}
		positions := map[int64]bool{}
		for _, e := range events {
			stored[e.Subject.ID]++
			if positions[e.Position] {
				t.Errorf("position %d given twice", e.Position)
			}
			positions[e.Position] = true
		}
		for i := range n {
			name, want := fmt.Sprintf("setting-%d", i), 1
			if i%10 == 7 {
				want = 0
			}
			if stored[name] != want || delivered[name] != want {
				t.Errorf("%s: %d events stored and %d delivered, want %d", name, stored[name], delivered[name], want)
			}
		}
		var rows int
		if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM settings WHERE name LIKE 'setting-%'").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != n-n/10 {
			t.Errorf("%d settings stored, want %d", rows, n-n/10)
		}
		if db.SharedCommits() == 0 {
			t.Error("no change shared a commit: the test did not test group commit")
		}
	})
}
