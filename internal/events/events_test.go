package events

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboardhq/switchboard"
)

// Environment variables naming the servers the listener tests use.
const (
	postgresURLEnv = "SWITCHBOARD_TEST_POSTGRES_URL"
	redisURLEnv    = "SWITCHBOARD_TEST_REDIS_URL"
)

// wait is how long a test waits for something that should happen at once:
// generous, so that a slow machine does not fail a correct hub.
const wait = 5 * time.Second

// memLog is an event log in memory, numbered from 1 with no gaps.
type memLog struct {
	mu     sync.Mutex
	events []*switchboard.Event
	err    error // returned by every read while set
	reads  chan struct{}
}

func (l *memLog) EventsAfter(ctx context.Context, after int64, limit int) ([]*switchboard.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reads != nil {
		select {
		case l.reads <- struct{}{}:
		default:
		}
	}
	if l.err != nil {
		return nil, l.err
	}
	from := min(int(after), len(l.events))
	to := min(from+limit, len(l.events))
	// A copy, as a database would return: the hub shares what it gets.
	return slices.Clone(l.events[from:to]), nil
}

func (l *memLog) LastEventPosition(ctx context.Context) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return 0, l.err
	}
	return int64(len(l.events)), nil
}

// Append records n events and returns the position of the last.
func (l *memLog) Append(n int) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		pos := int64(len(l.events)) + 1
		l.events = append(l.events, &switchboard.Event{ID: strconv.FormatInt(pos, 10), Position: pos, Type: "agent.updated"})
	}
	return int64(len(l.events))
}

func (l *memLog) SetErr(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// MustStartHub starts a hub over log that stops when the test ends.
func MustStartHub(t *testing.T, log switchboard.EventLog, opts Options) *Hub {
	t.Helper()
	h := NewHub(log, testLogger(t), opts)
	ctx, cancel := context.WithCancel(context.Background())
	if err := h.Start(ctx); err != nil {
		cancel()
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		h.Wait()
	})
	return h
}

// MustReceive returns the next batch of sub, failing if none comes in time
// or the subscription is closed.
func MustReceive(t *testing.T, sub switchboard.EventSubscription) []*switchboard.Event {
	t.Helper()
	select {
	case batch, ok := <-sub.C():
		if !ok {
			t.Fatalf("subscription closed: %v", sub.Err())
		}
		return batch
	case <-time.After(wait):
		t.Fatalf("no batch within %v", wait)
	}
	return nil
}

// MustClose waits for sub to be closed, discarding what it still holds.
func MustClose(t *testing.T, sub switchboard.EventSubscription) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case _, ok := <-sub.C():
			if !ok {
				return
			}
		case <-timeout:
			t.Fatalf("subscription still open after %v", wait)
		}
	}
}

// testServerURL returns the URL in env, skipping the test when it is unset
// (failing it with CI=true: CI must never pass by testing less).
func testServerURL(t *testing.T, env string) string {
	t.Helper()
	u := os.Getenv(env)
	if u != "" {
		return u
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("CI=true: %s is not set; set it to the server's URL", env)
	}
	t.Skipf("%s is not set; set it to the server's URL to run this test", env)
	return ""
}

// wakeRecorder records wake-ups, with the positions they tell of, into a
// channel a test can wait on.
type wakeRecorder chan int64

func newWakeRecorder() wakeRecorder { return make(wakeRecorder, 100) }

func (w wakeRecorder) wake(position int64) {
	select {
	case w <- position:
	default:
	}
}

// MustWake waits for one wake-up and returns the position it told of.
func (w wakeRecorder) MustWake(t *testing.T, what string) int64 {
	t.Helper()
	select {
	case position := <-w:
		return position
	case <-time.After(wait):
		t.Fatalf("no wake-up within %v %s", wait, what)
		return 0
	}
}

// drain discards the wake-ups recorded so far.
func (w wakeRecorder) drain() {
	for {
		select {
		case <-w:
		default:
			return
		}
	}
}
