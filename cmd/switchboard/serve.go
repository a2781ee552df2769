package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

func runServe(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("serve", help{
		usage: "switchboard serve [flags]",
		description: "Runs the server: the web UI, the REST API under /api/v1, /healthz and /readyz.\n" +
			"With no configuration it listens on 127.0.0.1:8080 and keeps its data in\n" +
			"switchboard.db (SQLite) in the working directory, migrating it as needed.",
		settings: config.ServerSettings,
	}, e.stdout)
	binding := config.Bind(fs, config.ServerSettings)
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := binding.Load(e.getenv)
	if err != nil {
		return usagef("serve: %v", err)
	}
	logger := newLogger(e.stderr, cfg)

	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()

	store, stopCleanup := db.SessionStore(5*time.Minute, func(err error) {
		logger.Warn("deleting expired sessions", "err", err.Error())
	})
	defer stopCleanup()
	srv := server.New(server.Deps{
		Users:        sqlstore.NewUserService(db),
		Tokens:       sqlstore.NewTokenService(db),
		Agents:       sqlstore.NewAgentService(db),
		Teams:        sqlstore.NewTeamService(db),
		Enrollment:   sqlstore.NewEnrollmentService(db),
		Audit:        sqlstore.NewAuditService(db),
		SessionStore: store,
		Throttle:     db.Throttle,
		Ready:        db.Ping,
		Logger:       logger,
	}, server.Options{
		Version:            version(),
		BaseURL:            cfg.BaseURL,
		TLS:                cfg.TLS(),
		SessionIdleTimeout: cfg.SessionIdleTimeout,
		SessionLifetime:    cfg.SessionLifetime,
		TrustedProxies:     cfg.TrustedProxies,
	})

	httpServer := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if cfg.TLS() {
		httpServer.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	scheme := "http"
	if cfg.TLS() {
		scheme = "https"
	}
	if cfg.BaseURL == nil && !isLoopback(ln.Addr()) {
		logger.Warn("no --base-url: links in invitations use the host each request came to; set SWITCHBOARD_BASE_URL to the public URL")
	}
	logger.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String(),
		"database", string(db.Engine()), "version", version())

	served := make(chan error, 1)
	go func() {
		if cfg.TLS() {
			served <- httpServer.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			served <- httpServer.Serve(ln)
		}
	}()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Stop accepting, let requests in flight finish, then close the pool.
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// isLoopback reports whether the server listens on this machine only, where
// links built from the request's host are right.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
