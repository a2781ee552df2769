// Package sqlstoretest gives tests a fresh, migrated database on every engine
// they can reach: SQLite always, PostgreSQL when SWITCHBOARD_TEST_POSTGRES_URL
// is set and MariaDB/MySQL when SWITCHBOARD_TEST_MYSQL_URL is set. Each call
// makes its own schema (PostgreSQL) or database (MySQL) and drops it when the
// test ends, so tests may run in parallel.
//
// Outside CI a test skips an engine whose URL is unset or whose server does not
// answer, saying what to set. With CI=true it fails instead: CI must never
// pass by testing less.
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"

	"github.com/switchboardhq/switchboard/internal/auth"
	"github.com/switchboardhq/switchboard/internal/routing"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// Environment variables naming the test servers.
const (
	PostgresURLEnv = "SWITCHBOARD_TEST_POSTGRES_URL"
	MySQLURLEnv    = "SWITCHBOARD_TEST_MYSQL_URL"
)

// Engines lists every engine, in the order tests run them.
var Engines = []sqlstore.Engine{sqlstore.SQLite, sqlstore.Postgres, sqlstore.MySQL}

// ForEachEngine runs fn as a subtest per engine, named after the engine, each
// with a fresh database.
func ForEachEngine(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	for _, engine := range Engines {
		t.Run(string(engine), func(t *testing.T) {
			db := Open(t, engine)
			fn(t, db)
		})
	}
}

// Open returns a migrated database on engine that lives until the test ends.
// Its clock is real; set db.Now to move time.
func Open(tb testing.TB, engine sqlstore.Engine) *sqlstore.DB {
	tb.Helper()
	url := URL(tb, engine)
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url, FastHasher{})
	if err != nil {
		tb.Fatalf("open %s: %v", engine, err)
	}
	db.Selector = routing.Engine{}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatalf("migrate %s: %v", engine, err)
	}
	return db
}

// URL returns the URL of a fresh, empty database on engine, dropped when the
// test ends.
func URL(tb testing.TB, engine sqlstore.Engine) string {
	tb.Helper()
	switch engine {
	case sqlstore.SQLite:
		return "sqlite:" + filepath.Join(tb.TempDir(), "switchboard.db")
	case sqlstore.Postgres:
		return freshPostgres(tb, serverURL(tb, PostgresURLEnv))
	case sqlstore.MySQL:
		return freshMySQL(tb, serverURL(tb, MySQLURLEnv))
	}
	tb.Fatalf("unknown engine %q", engine)
	return ""
}

// InCI reports whether tests run in CI, where unreachable servers are fatal.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

func serverURL(tb testing.TB, env string) string {
	tb.Helper()
	u := os.Getenv(env)
	if u == "" {
		unavailable(tb, "%s is not set; set it to a server URL to run this test on that engine", env)
	}
	return u
}

// unavailable skips the test, or fails it in CI.
func unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("CI=true: "+format, args...)
	}
	tb.Skipf(format, args...)
}

func uniqueName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "sbtest_" + hex.EncodeToString(b)
}

// freshPostgres creates a schema and returns base with search_path pointing
// at it. A schema is much cheaper than a database and just as isolated for
// unqualified table names.
func freshPostgres(tb testing.TB, base string) string {
	tb.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("%s: %v", PostgresURLEnv, err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		unavailable(tb, "PostgreSQL at %s does not answer: %v", PostgresURLEnv, err)
	}
	schema := uniqueName()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Logf("drop schema %s: %v", schema, err)
		}
	})
	return withQuery(tb, base, "search_path", schema)
}

// freshMySQL creates a database and returns base pointing at it.
func freshMySQL(tb testing.TB, base string) string {
	tb.Helper()
	_, _, dsn, err := sqlstore.ParseURL(base)
	if err != nil {
		tb.Fatalf("%s: %v", MySQLURLEnv, err)
	}
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		tb.Fatalf("%s: %v", MySQLURLEnv, err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		unavailable(tb, "MySQL at %s does not answer: %v", MySQLURLEnv, err)
	}
	name := uniqueName()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE " + name); err != nil {
			tb.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func withQuery(tb testing.TB, base, key, value string) string {
	tb.Helper()
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// FastHasher is argon2id at test strength: the real format and code path,
// with parameters small enough that suites creating many users stay quick.
type FastHasher struct{}

// Hash hashes with minimal argon2id parameters.
func (FastHasher) Hash(password string) (string, error) { return auth.HashWith(password, 64, 1) }

// Verify checks like the real hasher; the parameters are read from the hash.
func (FastHasher) Verify(hash, password string) (bool, error) {
	return (*auth.Argon2id)(nil).Verify(hash, password)
}

// inAppRow is an in-app notification as the outbox stores it, written the
// way a change's transaction writes it: sent as soon as it exists.
type inAppRow struct {
	bun.BaseModel `bun:"table:notifications"`

	ID             string    `bun:"id,pk"`
	Channel        string    `bun:"channel"`
	Recipient      string    `bun:"recipient"`
	UserID         string    `bun:"user_id"`
	EventType      string    `bun:"event_type"`
	EventID        string    `bun:"event_id"`
	Subject        string    `bun:"subject"`
	BodyText       string    `bun:"body_text"`
	BodyHTML       string    `bun:"body_html"`
	Status         string    `bun:"status"`
	NextAttemptAt  time.Time `bun:"next_attempt_at"`
	IdempotencyKey string    `bun:"idempotency_key"`
	CreatedAt      time.Time `bun:"created_at"`
	SentAt         time.Time `bun:"sent_at"`
	Link           *string   `bun:"link"`
}

// MustNotifyInApp writes an in-app notification to a user, as the changes
// that tell people of themselves do, for tests of what shows it; it
// returns its ID. at orders it in the inbox (the database's clock when
// zero).
func MustNotifyInApp(tb testing.TB, db *sqlstore.DB, userID, subject, text, link string, at time.Time) string {
	tb.Helper()
	if at.IsZero() {
		at = db.Now()
	}
	at = at.UTC().Truncate(time.Microsecond)
	var dialect schema.Dialect
	switch db.Engine() {
	case sqlstore.Postgres:
		dialect = pgdialect.New()
	case sqlstore.MySQL:
		dialect = mysqldialect.New()
	default:
		dialect = sqlitedialect.New()
	}
	row := &inAppRow{ID: uuid.Must(uuid.NewV7()).String(), Channel: "inapp", Recipient: userID, UserID: userID,
		EventType: "test.notified", EventID: uuid.Must(uuid.NewV7()).String(), Subject: subject, BodyText: text,
		Status: "sent", NextAttemptAt: at, IdempotencyKey: uuid.NewString(), CreatedAt: at, SentAt: at}
	if link != "" {
		row.Link = &link
	}
	if _, err := bun.NewDB(db.SQL(), dialect).NewInsert().Model(row).Exec(context.Background()); err != nil {
		tb.Fatalf("write an in-app notification: %v", err)
	}
	return row.ID
}
