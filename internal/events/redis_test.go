package events

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"
)

func TestRedis(t *testing.T) {
	t.Run("PublishWakesListen", func(t *testing.T) {
		url := testServerURL(t, redisURLEnv)
		channel := uniqueChannel("switchboard:test:")
		listener := MustNewRedis(t, url, channel)
		wakes := MustListenRedis(t, listener)
		wakes.MustWake(t, "after SUBSCRIBE") // it wakes once subscribed

		publisher := MustNewRedis(t, url, channel)
		if err := publisher.Publish(context.Background(), 42); err != nil {
			t.Fatal(err)
		}
		if got := wakes.MustWake(t, "after Publish"); got != 42 {
			t.Errorf("woke with position %d, want the 42 published", got)
		}
	})

	t.Run("WakesAfterReconnect", func(t *testing.T) {
		url := testServerURL(t, redisURLEnv)
		channel := uniqueChannel("switchboard:test:")
		// The client name lets the test find the listener's connection.
		listener := MustNewRedis(t, url+clientNameParam(url, channel), channel)
		wakes := MustListenRedis(t, listener)
		wakes.MustWake(t, "after SUBSCRIBE")

		admin := MustNewRedis(t, url, channel)
		MustKillRedisClient(t, admin, channel)
		wakes.MustWake(t, "after subscribing again")

		wakes.drain()
		if err := admin.Publish(context.Background(), 43); err != nil {
			t.Fatal(err)
		}
		wakes.MustWake(t, "after Publish on the new connection")
	})

	t.Run("ErrBadURL", func(t *testing.T) {
		if _, err := NewRedis("http://127.0.0.1:6379"); err == nil {
			t.Fatal("NewRedis() = nil error for an http URL, want an error")
		}
	})
}

func MustNewRedis(t *testing.T, url, channel string) *Redis {
	t.Helper()
	r, err := NewRedis(url)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	r.Channel = channel
	t.Cleanup(func() { r.Close() })
	return r
}

// MustListenRedis runs r.Listen until the test ends, and checks that it then
// returns nil.
func MustListenRedis(t *testing.T, r *Redis) wakeRecorder {
	t.Helper()
	wakes := newWakeRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Listen(ctx, wakes.wake, testLogger(t)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Listen() = %v after cancel, want nil", err)
			}
		case <-time.After(wait):
			t.Errorf("Listen still running %v after cancel", wait)
		}
	})
	return wakes
}

func clientNameParam(url, name string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return sep + "client_name=" + name
}

// MustKillRedisClient closes the server side of the connection named name,
// as a Redis restart would.
func MustKillRedisClient(t *testing.T, r *Redis, name string) {
	t.Helper()
	ctx := context.Background()
	list, err := r.client.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for sc := bufio.NewScanner(strings.NewReader(list)); sc.Scan(); {
		fields := map[string]string{}
		for _, f := range strings.Fields(sc.Text()) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] != name || fields["flags"] != "P" {
			continue // not the subscribed connection
		}
		if err := r.client.Do(ctx, "CLIENT", "KILL", "ID", fields["id"]).Err(); err != nil {
			t.Fatal(err)
		}
		killed++
	}
	if killed != 1 {
		t.Fatalf("killed %d subscribed connections named %s, want 1", killed, name)
	}
}
