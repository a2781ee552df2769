package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestListenPostgres(t *testing.T) {
	t.Run("WakesOnNotify", func(t *testing.T) {
		url := testServerURL(t, postgresURLEnv)
		channel := uniqueChannel("switchboard_test_")
		wakes := MustListenPostgres(t, url, channel)
		// It wakes once listening, knowing of no position.
		if got := wakes.MustWake(t, "after LISTEN"); got != 0 {
			t.Errorf("woke with position %d after LISTEN, want 0", got)
		}

		notifier := MustConnectPostgres(t, url)
		for _, n := range []struct {
			payload string
			want    int64
		}{{"42", 42}, {"x", 0}, {"-1", 0}, {"43 other", 43}, {"44 " + listenerSelf, -1}, {"45", 45}} {
			if _, err := notifier.Exec(context.Background(), "SELECT pg_notify($1, $2)", channel, n.payload); err != nil {
				t.Fatal(err)
			}
			if n.want < 0 {
				continue // its own: the next payload's wake comes first
			}
			if got := wakes.MustWake(t, "after pg_notify"); got != n.want {
				t.Errorf("woke with position %d for the payload %q, want %d", got, n.payload, n.want)
			}
		}
	})

	t.Run("WakesAfterReconnect", func(t *testing.T) {
		url := testServerURL(t, postgresURLEnv)
		channel := uniqueChannel("switchboard_test_")
		wakes := MustListenPostgres(t, url, channel)
		wakes.MustWake(t, "after LISTEN")

		// The server ends the listener's session, as a restart or a
		// failover would.
		admin := MustConnectPostgres(t, url)
		var killed int
		err := admin.QueryRow(context.Background(),
			"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = $1",
			"LISTEN "+pgx.Identifier{channel}.Sanitize()).Scan(&killed)
		if err != nil {
			t.Fatal(err)
		}
		if killed != 1 {
			t.Fatalf("terminated %d listener sessions, want 1", killed)
		}
		wakes.MustWake(t, "after reconnecting")

		if _, err := admin.Exec(context.Background(), "SELECT pg_notify($1, 'x')", channel); err != nil {
			t.Fatal(err)
		}
		wakes.MustWake(t, "after pg_notify on the new connection")
	})

	t.Run("ErrBadURL", func(t *testing.T) {
		err := ListenPostgres(context.Background(), "postgres://%zz", "switchboard_events", listenerSelf, func(int64) {}, testLogger(t))
		if err == nil {
			t.Fatal("ListenPostgres() = nil for a malformed URL, want an error")
		}
	})
}

// listenerSelf is the sender that the listeners of the tests pass over.
const listenerSelf = "self1"

// MustListenPostgres runs ListenPostgres until the test ends, and checks
// that it then returns nil.
func MustListenPostgres(t *testing.T, url, channel string) wakeRecorder {
	t.Helper()
	wakes := newWakeRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ListenPostgres(ctx, url, channel, listenerSelf, wakes.wake, testLogger(t)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ListenPostgres() = %v after cancel, want nil", err)
			}
		case <-time.After(wait):
			t.Errorf("ListenPostgres still running %v after cancel", wait)
		}
	})
	return wakes
}

func MustConnectPostgres(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("connect to %s: %v", postgresURLEnv, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func uniqueChannel(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s%s", prefix, hex.EncodeToString(b))
}
