package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestLostConnections: when the database server drops every pooled
// connection (a restart, a failover, an operator's pg_terminate_backend),
// reads still answer, and writes and sessions still go through, instead of
// failing once per dead connection in the pool.
func TestLostConnections(t *testing.T) {
	for _, engine := range []sqlstore.Engine{sqlstore.Postgres, sqlstore.MySQL} {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			url := sqlstoretest.URL(t, engine)
			db, err := sqlstore.Open(t.Context(), url, sqlstoretest.FastHasher{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			users := sqlstore.NewUserService(db)
			admin := MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin)
			sessions, stop := db.SessionStore(0, nil)
			defer stop()

			const pooled = 4
			for round := range 2 {
				killPool(t, db, url, pooled)
				for i := range pooled + 1 {
					if _, err := users.FindUserByID(systemCtx(), admin.ID); err != nil {
						t.Fatalf("round %d, read %d after the connections were killed: %v", round, i, err)
					}
				}
				killPool(t, db, url, pooled)
				if _, err := users.CreateUser(systemCtx(), switchboard.NewUser{
					Email: fmt.Sprintf("new%d@example.com", round), Name: "New", Role: switchboard.RoleAgent, Password: "correct horse battery",
				}); err != nil {
					t.Fatalf("round %d, write after the connections were killed: %v", round, err)
				}
				// Saving a browser session is an upsert, safe to repeat.
				killPool(t, db, url, pooled)
				if err := sessions.Commit(fmt.Sprint("token", round), []byte("data"), time.Now().Add(time.Hour)); err != nil {
					t.Fatalf("round %d, session saved after the connections were killed: %v", round, err)
				}
			}
		})
	}
}

// killPool fills db's pool with n idle connections and has the server end
// each of them, as an administrator or a failover would, from a separate
// connection. It returns once the server has closed them, before their
// clients can have noticed.
func killPool(t *testing.T, db *sqlstore.DB, url string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	pool := db.SQL()
	var ids []int64
	var conns []*sql.Conn
	idQuery, aliveQuery, kill := "SELECT pg_backend_pid()",
		"SELECT COUNT(*) FROM pg_stat_activity WHERE pid = $1", "SELECT pg_terminate_backend($1)"
	if db.Engine() == sqlstore.MySQL {
		idQuery, aliveQuery, kill = "SELECT CONNECTION_ID()",
			"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", "KILL ?"
	}
	// Two passes, as on a busy server: the second finds the connections
	// the first left in the pool, so the driver has just vouched for each
	// and will not check again before the next query.
	for range 2 {
		ids, conns = ids[:0], conns[:0]
		for len(conns) < n {
			c, err := pool.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var id int64
			if err := c.QueryRowContext(ctx, idQuery).Scan(&id); err != nil {
				// Killed in an earlier round and not yet noticed:
				// drop it.
				_ = c.Raw(func(any) error { return driver.ErrBadConn })
				c.Close()
				continue
			}
			ids, conns = append(ids, id), append(conns, c)
		}
		for _, c := range conns {
			c.Close()
		}
	}
	// The killer is a connection of its own, outside the pool.
	_, driver, dsn, err := sqlstore.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	killer, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close()
	for _, id := range ids {
		if _, err := killer.ExecContext(ctx, kill, id); err != nil {
			t.Fatalf("kill connection %d: %v", id, err)
		}
	}
	for _, id := range ids {
		for {
			var alive int
			if err := killer.QueryRowContext(ctx, aliveQuery, id).Scan(&alive); err != nil {
				t.Fatal(err)
			}
			if alive == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestIsRead pins which statements are run again after a lost connection:
// SELECTs only, whatever comments or spaces come first.
func TestIsRead(t *testing.T) {
	for query, want := range map[string]bool{
		"SELECT 1":                           true,
		"select * from users":                true,
		"\n\t SELECT(1)":                     true,
		"-- ping\nSELECT data FROM sessions": true,
		"/* a */ SELECT 1":                   true,
		"SELECTED":                           false,
		"SELECT":                             false,
		"INSERT INTO t SELECT 1":             false,
		"UPDATE t SET a = 1 RETURNING a":     false,
		"WITH d AS (DELETE FROM t) SELECT 1": false,
		"-- SELECT\nDELETE FROM sessions":    false,
		"/* SELECT */ DELETE FROM sessions":  false,
		"BEGIN":                              false,
		"":                                   false,
	} {
		if got := sqlstore.IsRead(query); got != want {
			t.Errorf("IsRead(%q) = %v, want %v", query, got, want)
		}
	}
}

// TestLimitConnections: the limit holds on the server engines, which
// refuse connections past their own; SQLite keeps its pool of readers.
func TestLimitConnections(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		want := sqlstore.DefaultConnections
		if db.Engine() == sqlstore.SQLite {
			want = db.SQL().Stats().MaxOpenConnections
		}
		if got := db.SQL().Stats().MaxOpenConnections; got != want {
			t.Errorf("by default %d connections at most, want %d", got, want)
		}
		db.LimitConnections(5)
		if db.Engine() != sqlstore.SQLite {
			want = 5
		}
		if got := db.SQL().Stats().MaxOpenConnections; got != want {
			t.Errorf("limited to 5: %d connections at most, want %d", got, want)
		}
	})
}
