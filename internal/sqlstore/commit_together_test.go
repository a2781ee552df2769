package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// A transaction's last statement commits it on PostgreSQL, in the same
// round trip; when that statement fails, nothing of the transaction stays,
// and the connection serves the next one.
func TestInTx_LastStatementCarriesTheCommit(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		db.LimitConnections(1) // the failed transaction's connection serves the next
		mustCreateProbe(t, db)
		rows := func() int { return probeRows(t, db) }

		if _, err := db.InTxEndingWith(ctx, "INSERT INTO probe (n) VALUES (1)", "SELECT n FROM no_such_table"); err == nil {
			t.Fatal("a last statement that fails: no error")
		}
		if n := rows(); n != 0 {
			t.Fatalf("after a last statement that failed, %d rows stayed, want 0", n)
		}
		if got := db.CommitsTogether(); got != 0 {
			t.Errorf("commits together after a failure = %d, want 0", got)
		}

		n, err := db.InTxEndingWith(ctx, "INSERT INTO probe (n) VALUES (2)", "SELECT 7 AS n")
		if err != nil || n != 7 {
			t.Fatalf("InTxEndingWith = %d, %v; want 7", n, err)
		}
		if n := rows(); n != 1 {
			t.Fatalf("after a commit, %d rows, want 1", n)
		}
		want := int64(0)
		if db.Engine() == sqlstore.Postgres {
			want = 1
		}
		if got := db.CommitsTogether(); got != want {
			t.Errorf("commits together = %d, want %d", got, want)
		}
	})
}

// The notification of commits tells the position and its sender, whose
// own listener passes it over.
func TestNotifyEvents_NamesItsSender(t *testing.T) {
	url := sqlstoretest.URL(t, sqlstore.Postgres)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlstore.Open(ctx, url, sqlstoretest.FastHasher{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	listener, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(context.Background())
	if _, err := listener.Exec(ctx, "LISTEN "+sqlstore.PostgresEventChannel); err != nil {
		t.Fatal(err)
	}
	if err := db.NotifyEvents(ctx, 42); err != nil {
		t.Fatal(err)
	}
	n, err := listener.WaitForNotification(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := "42 " + db.InstanceID(); n.Payload != want {
		t.Errorf("notified %q, want the position and the sender, %q", n.Payload, want)
	}
}

// A change whose last statement waits for a lock when its caller gives up
// is not made: the statement is cancelled before the COMMIT sent with it.
// Were the connection only dropped, PostgreSQL would run the statement once
// the lock is free, and the COMMIT after it.
func TestInTx_GivingUpBeforeTheCommitMakesNothing(t *testing.T) {
	db := sqlstoretest.Open(t, sqlstore.Postgres)
	ctx := context.Background()
	mustCreateProbe(t, db)
	holder, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, "SELECT position FROM event_sequence WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	giveUp, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := db.InTxEndingWith(giveUp, "INSERT INTO probe (n) VALUES (1)",
			"UPDATE event_sequence SET position = position WHERE id = 1 RETURNING position")
		done <- err
	}()
	for waiting := 0; waiting == 0; {
		if err := db.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a transaction given up while its last statement waited: no error")
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	// Had the COMMIT been made once the lock was free, the row would
	// show by now: wait for every other session of the database to be
	// idle first.
	for busy := 1; busy > 0; {
		if err := db.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state <> 'idle' AND pid <> pg_backend_pid()").Scan(&busy); err != nil {
			t.Fatal(err)
		}
	}
	if n := probeRows(t, db); n != 0 {
		t.Fatalf("%d rows of a transaction given up before its commit, want 0", n)
	}
}

// Without a row to take positions from, a change fails and leaves nothing:
// the statement that would take them fails instead of returning no row,
// and the COMMIT sent with it is not made.
func TestWrite_WithoutTheSequenceRowMakesNothing(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		mustCreateProbe(t, db)
		if err := db.Exec(ctx, "DELETE FROM event_sequence"); err != nil {
			t.Fatal(err)
		}
		err := db.Write(systemCtx(), func(ctx context.Context, tx *sqlstore.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO probe (n) VALUES (1)"); err != nil {
				return err
			}
			tx.Record(switchboard.Event{Type: "test.happened", Subject: switchboard.EventSubject{Type: "test", ID: "1"}})
			return nil
		})
		if err == nil {
			t.Fatal("a change without the sequence's row: no error")
		}
		if n := probeRows(t, db); n != 0 {
			t.Fatalf("%d rows of a failed change, want 0", n)
		}
	})
}

// mustCreateProbe creates the table probe, whose rows show what a
// transaction left.
func mustCreateProbe(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	if err := db.Exec(context.Background(), "CREATE TABLE probe (n INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
}

// probeRows is how many rows probe holds.
func probeRows(t *testing.T, db *sqlstore.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), "SELECT count(*) FROM probe").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
