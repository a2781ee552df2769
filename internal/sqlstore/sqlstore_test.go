package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// adminCtx returns a context acting as the system, which may do anything.
func systemCtx() context.Context {
	return switchboard.NewContextWithActor(context.Background(), switchboard.SystemActor("test"))
}

// asUser returns a context acting as u.
func asUser(u *switchboard.User) context.Context {
	return switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{User: u})
}

// MustCreateUser creates a user with a fixed password, failing the test on error.
func MustCreateUser(tb testing.TB, db *sqlstore.DB, email string, role switchboard.Role) *switchboard.User {
	tb.Helper()
	u, err := sqlstore.NewUserService(db).CreateUser(systemCtx(), switchboard.NewUser{
		Email: email, Name: "User " + email, Role: role, Password: "correct horse battery",
	})
	if err != nil {
		tb.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock(db *sqlstore.DB) *fakeClock {
	c := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	db.Now = c.Now
	return c
}

func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := switchboard.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestMigrate(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if len(applied) != 0 {
			t.Errorf("second Migrate applied %v, want nothing", applied)
		}
		states, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if !s.Applied {
				t.Errorf("migration %d %s not applied", s.Version, s.Name)
			}
		}
		if err := db.CheckMigrated(ctx); err != nil {
			t.Errorf("CheckMigrated: %v", err)
		}
	})
}

// openMigratedTo opens a new database of engine migrated up to version
// only, for tests of the migrations after it.
func openMigratedTo(t *testing.T, engine sqlstore.Engine, version int64) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), sqlstoretest.URL(t, engine), sqlstoretest.FastHasher{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.MigrateTo(context.Background(), version); err != nil {
		t.Fatal(err)
	}
	return db
}

// Migration 7 tells the agents whose user was created with them (one
// transaction, one time) from those an admin linked to an existing account,
// so that retiring the latter leaves the account alone.
func TestMigrate_AgentsOwningTheirUser(t *testing.T) {
	for _, engine := range sqlstoretest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openMigratedTo(t, engine, 6)
			then, later := time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC), time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			user := func(id string, at time.Time) {
				t.Helper()
				if err := db.Exec(ctx, "INSERT INTO users (id, email, name, role, status, password_hash, version, auth_version, created_at, updated_at) "+
					"VALUES (?, ?, 'U', 'agent', 'active', '', 1, 1, ?, ?)", id, id+"@example.com", at, at); err != nil {
					t.Fatal(err)
				}
			}
			agent := func(id string, userID any, at time.Time) {
				t.Helper()
				if err := db.Exec(ctx, "INSERT INTO agents (id, name, sort_name, kind, capacity, status, presence, user_id, attributes, notify, metadata, created_at, updated_at, version) "+
					"VALUES (?, 'A', 'a', 'human', 1, 'active', 'offline', ?, '{}', '[]', '{}', ?, ?, 1)", id, userID, at, at); err != nil {
					t.Fatal(err)
				}
			}
			user("invited", then)
			agent("made-with-its-user", "invited", then)
			user("existing", then)
			agent("linked-later", "existing", later)
			agent("machine", nil, then)
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			agents := sqlstore.NewAgentService(db)
			if _, err := agents.SetAgentStatus(systemCtx(), "made-with-its-user", switchboard.AgentRetired, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := agents.SetAgentStatus(systemCtx(), "linked-later", switchboard.AgentRetired, 0); err != nil {
				t.Fatal(err)
			}
			users := sqlstore.NewUserService(db)
			for id, want := range map[string]switchboard.UserStatus{"invited": switchboard.UserDisabled, "existing": switchboard.UserActive} {
				if u, err := users.FindUserByID(systemCtx(), id); err != nil || u.Status != want {
					t.Errorf("user %s after its agent retired: %+v, %v; want %s", id, u, err, want)
				}
			}
		})
	}
}

func asError(err error, target **switchboard.Error) bool { return errors.As(err, target) }

func TestSessionStore(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		store, stop := db.SessionStore(0, nil)
		defer stop()
		if err := store.Commit("live", []byte("data"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := store.Commit("dead", []byte("data"), time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		b, found, err := store.Find("live")
		if err != nil || !found || string(b) != "data" {
			t.Fatalf("Find(live) = %q, %v, %v", b, found, err)
		}
		if _, found, _ := store.Find("dead"); found {
			t.Error("an expired session was found")
		}
		if err := db.DeleteExpiredSessions(t.Context()); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.SQL().QueryRow("SELECT COUNT(*) FROM sessions").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%d sessions left, want the live one", n)
		}
	})
}

// TestSessionStore_HashesTokens: the sessions table holds no token a
// browser could present, only its SHA-256; the store still finds, renews and
// deletes sessions by the token.
func TestSessionStore_HashesTokens(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		store, stop := db.SessionStore(0, nil)
		defer stop()
		// A token as scs makes them: 32 random bytes, base64url.
		const token = "9Vh0yxUyZ2Lw0D9QIXyQhBv0K7yYzqfI3Rk8lG1b2wE"
		sum := sha256.Sum256([]byte(token))
		hashed := base64.RawURLEncoding.EncodeToString(sum[:])
		if err := store.Commit(token, []byte("one"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := store.Commit(token, []byte("two"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		var stored []string
		rows, err := db.SQL().Query("SELECT token FROM sessions")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			stored = append(stored, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(stored) != 1 || stored[0] != hashed {
			t.Fatalf("sessions table holds %q, want only the SHA-256 of the token, %q", stored, hashed)
		}
		// The hash itself, presented as a cookie, finds nothing.
		if _, found, err := store.Find(hashed); err != nil || found {
			t.Errorf("Find(stored hash) = %v, %v; want not found", found, err)
		}
		b, found, err := store.Find(token)
		if err != nil || !found || string(b) != "two" {
			t.Fatalf("Find(token) = %q, %v, %v", b, found, err)
		}
		if err := store.Delete(token); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := store.Find(token); found {
			t.Error("found after Delete")
		}
	})
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url, engine, driver, dsn, err string
	}{
		{url: "postgres://u:p@db:5432/sb?sslmode=disable", engine: "postgres", driver: "pgx",
			dsn: "postgres://u:p@db:5432/sb?default_query_exec_mode=exec&sslmode=disable"},
		// A mode the operator chose is kept.
		{url: "postgresql://db/sb?default_query_exec_mode=cache_describe", engine: "postgres", driver: "pgx",
			dsn: "postgresql://db/sb?default_query_exec_mode=cache_describe"},
		{url: "mysql://root@127.0.0.1:3306/sb", engine: "mysql", driver: "mysql"},
		{url: "sqlite:switchboard.db", engine: "sqlite", driver: "sqlite"},
		{url: "sqlite:", err: "needs a file path"},
		{url: "postgres://", err: "not a valid postgres:// URL"},
		{url: "oracle://db", err: `scheme "oracle" is not supported`},
		{url: "switchboard.db", err: "has no scheme"},
	} {
		engine, driver, dsn, err := sqlstore.ParseURL(tc.url)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil || string(engine) != tc.engine || driver != tc.driver || (tc.dsn != "" && dsn != tc.dsn) {
			t.Errorf("%s: %s %s %s %v", tc.url, engine, driver, dsn, err)
		}
	}
}
