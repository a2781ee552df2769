package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/switchboardhq/switchboard/internal/auth"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/routing"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// openDatabase connects to the configured database and brings its schema up
// to date (or, with migrations off, checks that it is).
func openDatabase(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*sqlstore.DB, error) {
	db, err := connect(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if cfg.DatabaseConnections > 0 {
		db.LimitConnections(cfg.DatabaseConnections)
	}
	db.Selector = routing.Engine{}
	if !cfg.AutoMigrate {
		if err := db.CheckMigrated(ctx); err != nil {
			db.Close()
			return nil, err
		}
		return db, nil
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if len(applied) > 0 {
		logger.Info("database migrated", "engine", string(db.Engine()), "applied", fmt.Sprint(applied))
	}
	return db, nil
}

// connect opens the database. A PostgreSQL or MySQL server that does not
// answer may be starting alongside this one (a host booting, containers
// started together), so it is tried again with growing pauses for up to
// cfg.DatabaseWait, each failure logged, before giving up.
func connect(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*sqlstore.DB, error) {
	hasher := auth.NewArgon2id(2 * runtime.NumCPU())
	engine, _, _, err := sqlstore.ParseURL(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if engine == sqlstore.SQLite || cfg.DatabaseWait <= 0 {
		return sqlstore.Open(ctx, cfg.DatabaseURL, hasher)
	}
	deadline := time.Now().Add(cfg.DatabaseWait)
	pause := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		db, err := sqlstore.Open(ctx, cfg.DatabaseURL, hasher)
		if err == nil {
			if attempt > 1 {
				logger.Info("database reached", "engine", string(engine), "attempts", attempt)
			}
			return db, nil
		}
		left := time.Until(deadline)
		if ctx.Err() != nil || left <= 0 {
			return nil, fmt.Errorf("%w (gave up after %d attempts in %s; --database-wait sets how long to try)",
				err, attempt, cfg.DatabaseWait)
		}
		pause = min(pause, left)
		logger.Warn("database not reachable yet", "engine", string(engine), "attempt", attempt,
			"retry_in", pause.Round(time.Millisecond).String(), "err", err.Error())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// newLogger returns the structured logger the configuration asks for.
func newLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
