package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"

	"github.com/switchboardhq/switchboard/internal/auth"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/routing"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// openDatabase connects to the configured database and brings its schema up
// to date (or, with migrations off, checks that it is).
func openDatabase(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*sqlstore.DB, error) {
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL, auth.NewArgon2id(2*runtime.NumCPU()))
	if err != nil {
		return nil, err
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

// newLogger returns the structured logger the configuration asks for.
func newLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
