package sqlstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations
var migrations embed.FS

// MigrationState is one migration and whether it has been applied.
type MigrationState struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// Migrate applies every pending migration and returns the versions applied.
// Several instances may start at once: a database lock lets one migrate
// while the others wait.
func (db *DB) Migrate(ctx context.Context) ([]int64, error) {
	p, err := db.migrationProvider(ctx, true)
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate %s database: %w", db.engine, err)
	}
	// The agents of a database migrated with agents in it are counted
	// once, by the first migration that finds them uncounted (00020).
	if err := db.countAgentsIfNeeded(ctx); err != nil {
		return nil, fmt.Errorf("count the agents of the %s database: %w", db.engine, err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// MigrationStatus lists every migration this binary knows, applied or not.
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	p, err := db.migrationProvider(ctx, false)
	if err != nil {
		return nil, err
	}
	statuses, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status of %s database: %w", db.engine, err)
	}
	states := make([]MigrationState, 0, len(statuses))
	for _, s := range statuses {
		states = append(states, MigrationState{
			Version:   s.Source.Version,
			Name:      s.Source.Path,
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return states, nil
}

// ErrPendingMigrations is returned by CheckMigrated when the schema is behind.
var ErrPendingMigrations = errors.New("the database has pending migrations: run `switchboard migrate up`, or start the server with migrations enabled")

// CheckMigrated returns ErrPendingMigrations unless the schema is current.
func (db *DB) CheckMigrated(ctx context.Context) error {
	p, err := db.migrationProvider(ctx, false)
	if err != nil {
		return err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("check migrations of %s database: %w", db.engine, err)
	}
	if pending {
		return ErrPendingMigrations
	}
	return nil
}

func (db *DB) migrationProvider(ctx context.Context, locked bool) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations/"+string(db.engine))
	if err != nil {
		return nil, err
	}
	var dialect goose.Dialect
	var opts []goose.ProviderOption
	switch db.engine {
	case SQLite:
		// SQLite's write lock already serialises migrators.
		dialect = goose.DialectSQLite3
	case Postgres:
		dialect = goose.DialectPostgres
		if locked {
			// The advisory lock is per server, so its ID is derived from the
			// database and schema: unrelated databases never wait on each other.
			var where string
			if err := db.bun.QueryRowContext(ctx, "SELECT current_database() || '.' || current_schema()").Scan(&where); err != nil {
				return nil, fmt.Errorf("migrate: %w", err)
			}
			locker, err := lock.NewPostgresSessionLocker(
				lock.WithLockID(int64(crc32.ChecksumIEEE([]byte("switchboard:"+where)))),
				lock.WithLockTimeout(1, 300))
			if err != nil {
				return nil, err
			}
			opts = append(opts, goose.WithSessionLocker(locker))
		}
	case MySQL:
		dialect = goose.DialectMySQL
		if locked {
			locker, err := lock.NewMySQLTableLocker(
				lock.WithTableName("goose_lock"),
				lock.WithTableLockTimeout(time.Second, 300))
			if err != nil {
				return nil, err
			}
			opts = append(opts, goose.WithLocker(locker))
		}
	}
	return goose.NewProvider(dialect, db.bun.DB, fsys, opts...)
}
