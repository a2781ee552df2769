// Package sqlstore implements the domain's services on a relational database:
// SQLite (embedded, the default), PostgreSQL and MySQL/MariaDB. It owns the
// schema and its migrations, translates driver errors into domain error codes,
// and enforces object-level permissions in each service method.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/switchboardhq/switchboard"
)

// Engine names a supported database engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
	MySQL    Engine = "mysql"
)

// DB is a connection pool to one Switchboard database.
type DB struct {
	bun    *bun.DB
	engine Engine

	// Now is the clock; tests replace it to move time.
	Now func() time.Time
	// Hasher hashes and checks passwords.
	Hasher switchboard.PasswordHasher
	// Selector chooses the agent for a task among the candidates the
	// store finds: the routing engine.
	Selector switchboard.Selector
	// Composer, when set, writes the messages that changes send through
	// the outbox (an invitation's e-mail); without it none are written.
	Composer switchboard.Composer
	// OnEvents, when set, learns of the events of every change after its
	// commit: it wakes this instance's streams and tells the others. It
	// must not block.
	OnEvents func(events []*switchboard.Event)
	// WebhookURLCheck, when set, checks that a webhook's URL may be
	// reached, resolving its host; without it only a host written as an
	// address is checked (switchboard.CheckWebhookHost).
	WebhookURLCheck func(ctx context.Context, u *url.URL) error

	// beforeCommit, when set, runs after a change's events have their
	// positions and before it commits, for tests that hold a commit back.
	beforeCommit func(events []*switchboard.Event)
	// afterCandidates, when set, learns of the agents a set ranked for
	// its tasks before it takes them, for tests that change them in
	// between (see reserveSet).
	afterCandidates func(ranked []string)
	// afterPrepared, when set, learns of each statement run prepared,
	// past bun and its query hooks, for tests that count statements.
	afterPrepared atomic.Pointer[func(query string)]
	// instance names this process's pool in the notifications it sends
	// (see NotifyEvents).
	instance string
	// commitsTogether counts the transactions whose last statement
	// carried the commit (see commitTogether), for tests.
	commitsTogether atomic.Int64
	// beganAhead counts the transactions a committer began before their
	// changes came (see beginAhead), for tests.
	beganAhead atomic.Int64
	// piped counts the statements sent in pipelines (see pipeline), and
	// pipelines the round trips that sent them, for tests.
	piped, pipelines atomic.Int64
	// turnLimitForTests replaces maxTurn when not 0.
	turnLimitForTests atomic.Int64

	groupOnce   sync.Once
	groupCommit *groupCommit

	// webhooks are the active webhook endpoints, for the fan-out.
	webhooks webhookCache
	// queues are the queues of the task path (see routingQueue).
	queues queueCache
	// arrays are how the rows of each table go in as arrays, on
	// PostgreSQL.
	arrays arrayInserts
	// statsTail is what the dashboards counted of the events the pass has
	// not counted yet.
	statsTail statsTail
	// routingStats counts the memberships added since the last analysis
	// of the tables routing reads (see membershipsAdded).
	routingStats routingStatistics
}

// Open connects to the database named by a URL: sqlite:PATH,
// postgres://... (or postgresql://...) or mysql://user:pass@host:port/db. It
// checks that the server answers but does not migrate.
func Open(ctx context.Context, databaseURL string, hasher switchboard.PasswordHasher) (*DB, error) {
	engine, driver, dsn, err := ParseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	var sqldb *sql.DB
	if engine == SQLite {
		if err := createSQLiteFile(databaseURL); err != nil {
			return nil, err
		}
		if sqldb, err = sql.Open(driver, dsn); err != nil {
			return nil, fmt.Errorf("open %s database: %w", engine, err)
		}
	} else {
		connector, err := newConnector(engine, dsn)
		if err != nil {
			return nil, fmt.Errorf("open %s database: %w", engine, err)
		}
		sqldb = sql.OpenDB(connector)
	}
	db := &DB{engine: engine, Hasher: hasher, Now: func() time.Time { return time.Now().UTC() }, instance: newInstanceID()}
	switch engine {
	case SQLite:
		// One writer at a time is all SQLite allows; readers proceed in
		// parallel under WAL. A small pool keeps readers concurrent without
		// piling up connections that each hold a page cache.
		sqldb.SetMaxOpenConns(8)
		sqldb.SetMaxIdleConns(8)
		sqldb.SetConnMaxLifetime(0)
		db.bun = bun.NewDB(sqldb, sqlitedialect.New())
	case Postgres:
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		db.bun = bun.NewDB(sqldb, pgdialect.New())
	case MySQL:
		sqldb.SetConnMaxLifetime(30 * time.Minute)
		db.bun = bun.NewDB(sqldb, mysqldialect.New())
	}
	db.LimitConnections(DefaultConnections)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqldb.PingContext(pingCtx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("connect to %s database: %w", engine, err)
	}
	return db, nil
}

// ParseURL validates a database URL and returns the engine, the database/sql
// driver name and the driver's DSN.
func ParseURL(databaseURL string) (engine Engine, driver, dsn string, err error) {
	scheme, rest, ok := strings.Cut(databaseURL, ":")
	if !ok {
		return "", "", "", fmt.Errorf("database URL %q has no scheme: use sqlite:PATH, postgres://… or mysql://…", redactURL(databaseURL))
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		return SQLite, "sqlite", sqliteDSN(rest), sqlitePathError(rest)
	case "postgres", "postgresql":
		u, err := url.Parse(databaseURL)
		if err != nil || u.Host == "" {
			return "", "", "", fmt.Errorf("database URL %q is not a valid postgres:// URL", redactURL(databaseURL))
		}
		return Postgres, "pgx", postgresDSN(u), nil
	case "mysql", "mariadb":
		dsn, err := mysqlDSN(databaseURL)
		return MySQL, "mysql", dsn, err
	}
	return "", "", "", fmt.Errorf("database URL scheme %q is not supported: use sqlite:PATH, postgres://… or mysql://…", scheme)
}

// postgresDSN sends every query with pgx's "exec" mode unless the URL
// chooses another: bun writes the arguments into the SQL itself, so nearly
// every statement is new text, and pgx's default (prepare each new
// statement, then run it) costs a second round trip and a cache entry for
// each, a quarter of a bulk import's time.
func postgresDSN(u *url.URL) string {
	q := u.Query()
	if q.Get("default_query_exec_mode") == "" {
		q.Set("default_query_exec_mode", "exec")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func sqlitePathError(path string) error {
	path = strings.TrimPrefix(path, "//")
	if p, _, _ := strings.Cut(path, "?"); p == "" {
		return errors.New("database URL sqlite: needs a file path, like sqlite:switchboard.db")
	}
	return nil
}

// sqliteDSN turns the part after "sqlite:" into a modernc.org/sqlite DSN with
// the pragmas every connection needs. _txlock=immediate takes the write lock
// at BEGIN, so a transaction that reads and then writes cannot fail half way
// with SQLITE_BUSY when another writer got there first.
func sqliteDSN(path string) string {
	path = strings.TrimPrefix(path, "//")
	path, query, _ := strings.Cut(path, "?")
	params := url.Values{}
	if query != "" {
		params, _ = url.ParseQuery(query)
	}
	for _, pragma := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		params.Add("_pragma", pragma)
	}
	params.Set("_txlock", "immediate")
	return "file:" + path + "?" + params.Encode()
}

// createSQLiteFile creates the database file of a sqlite: URL, if it does
// not exist yet, readable and writable by its owner only: it holds password
// hashes and sessions, and SQLite would create it with the process's umask,
// 0644 as a rule. SQLite gives the -wal and -shm files next to it the mode
// of the database file whatever the umask, so they are private too. An
// existing file keeps the mode its owner gave it.
func createSQLiteFile(databaseURL string) error {
	_, rest, _ := strings.Cut(databaseURL, ":")
	path, query, _ := strings.Cut(strings.TrimPrefix(rest, "//"), "?")
	if params, _ := url.ParseQuery(query); path == ":memory:" || params.Get("mode") == "memory" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create the SQLite database: %w", err)
	}
	// The umask can only take bits away, but it may take the owner's.
	err = f.Chmod(0o600)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create the SQLite database: %w", err)
	}
	return nil
}

// mysqlDSN turns mysql://user:pass@host:port/db?params into the driver's
// user:pass@tcp(host:port)/db?params, with UTC times parsed into time.Time.
func mysqlDSN(databaseURL string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("database URL %q is not a valid mysql://user:pass@host:port/db URL", redactURL(databaseURL))
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		return "", fmt.Errorf("database URL %q names no database: add /dbname", redactURL(databaseURL))
	}
	// The driver parses its own options from the query string; user and
	// password come from the URL so that they may hold any character.
	cfg, err := mysql.ParseDSN("tcp(" + u.Host + ")/" + db + "?" + u.RawQuery)
	if err != nil {
		return "", fmt.Errorf("database URL %q: %v", redactURL(databaseURL), err)
	}
	if u.Port() == "" {
		cfg.Addr = u.Host + ":3306"
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.MultiStatements = true // a migration file holds several statements
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	return cfg.FormatDSN(), nil
}

// redactURL hides a password in a URL so that it can be shown in errors.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable>"
	}
	return u.Redacted()
}

// Engine reports which database engine db talks to.
func (db *DB) Engine() Engine { return db.engine }

// SQL returns the underlying pool, for tools and tests that need plain SQL.
func (db *DB) SQL() *sql.DB { return db.bun.DB }

// DefaultConnections is the most connections to a PostgreSQL or MySQL
// server that a DB keeps open unless told otherwise (LimitConnections).
const DefaultConnections = 32

// LimitConnections sets the most connections the DB keeps open to a
// PostgreSQL or MySQL server. Every instance opens up to this many, and
// the server refuses connections past its own limit (PostgreSQL's
// max_connections is 100 unless set, MySQL's max_connections 151): a
// request that then needs a new connection fails. SQLite's pool, which is
// about readers of one file, is its own.
func (db *DB) LimitConnections(n int) {
	sqldb := db.bun.DB
	switch db.engine {
	case Postgres:
		sqldb.SetMaxOpenConns(n)
		sqldb.SetMaxIdleConns(n)
	case MySQL:
		// Half kept idle: MySQL ends idle connections itself
		// (wait_timeout), and each costs the server a thread.
		sqldb.SetMaxOpenConns(n)
		sqldb.SetMaxIdleConns(max(n/2, 1))
	}
}

// Ping checks that the database answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error { return db.bun.PingContext(ctx) }

// Close closes the pool.
func (db *DB) Close() error {
	if db.groupCommit != nil {
		db.groupCommit.stop()
	}
	db.routingStats.stop()
	return db.bun.Close()
}

// now returns the current time from db's clock, in UTC and at the microsecond
// precision every engine stores.
func (db *DB) now() time.Time { return db.Now().UTC().Truncate(time.Microsecond) }
