package events

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reconnection back-off of the PostgreSQL listener.
const (
	pgMinBackoff = 250 * time.Millisecond
	pgMaxBackoff = 30 * time.Second
)

// ListenPostgres holds a connection of its own (a pooled one cannot LISTEN)
// that listens on channel and calls wake for every notification, with the
// position it tells of (see sqlstore's NotifyEvents), until ctx ends; then
// it returns nil. Notifications sent by self (a payload of "POSITION
// SENDER") are passed over: the instance's own commits reach its streams
// directly. When the connection is lost it logs, reconnects with back-off and
// calls wake(0) once listening again, since notifications sent meanwhile
// are lost. It returns an error only for a URL it cannot parse.
func ListenPostgres(ctx context.Context, databaseURL, channel, self string, wake func(position int64), logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	config, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("events: postgres listener: %w", err)
	}
	// A host that drops packets would otherwise hold each attempt for the
	// kernel's connect timeout, minutes, before the back-off even starts.
	// A server that vanishes under an open connection is found by Go's
	// default TCP keep-alive in about two and a half minutes; the Hub's
	// safety-net poll covers the gap, so no pings of our own.
	if config.ConnectTimeout == 0 {
		config.ConnectTimeout = 10 * time.Second
	}

	logger = logger.With("channel", channel)
	backoff := pgMinBackoff
	for reconnect := false; ; reconnect = true {
		start := time.Now()
		err := listenPostgres(ctx, config, channel, self, wake, func() {
			if reconnect {
				logger.Info("events: postgres listener reconnected")
			}
		})
		if ctx.Err() != nil {
			return nil
		}
		// A connection that held for a while earns a fast retry; one that
		// keeps failing backs off further each time.
		if time.Since(start) > pgMaxBackoff {
			backoff = pgMinBackoff
		}
		logger.Warn("events: postgres listener is not listening; reconnecting", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, pgMaxBackoff)
	}
}

// listenPostgres runs one connection until it fails or ctx ends.
func listenPostgres(ctx context.Context, config *pgx.ConnConfig, channel, self string, wake func(position int64), listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, config)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	listening()
	// Events may have been committed while no connection was listening.
	wake(0)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		position, sender := notified(n.Payload)
		if self != "" && sender == self {
			continue
		}
		wake(position)
	}
}

// notified is the position a notification tells of, 0 when it tells of
// none, and its sender, if named.
func notified(payload string) (position int64, sender string) {
	payload, sender, _ = strings.Cut(payload, " ")
	position, err := strconv.ParseInt(payload, 10, 64)
	if err != nil || position < 0 {
		return 0, sender
	}
	return position, sender
}
