package health_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/health"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func byName(results []health.Result) map[string]health.Result {
	m := map[string]health.Result{}
	for _, r := range results {
		m[r.Name] = r
	}
	return m
}

func TestWorker(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	checks := health.New(c.Now)
	w := checks.Worker("prune", time.Minute)

	wantStatus := func(t *testing.T, want, wantErr string) {
		t.Helper()
		r := byName(checks.Workers())["prune"]
		if r.Status != want || r.Error != wantErr {
			t.Fatalf("status %q (error %q), want %q (%q)", r.Status, r.Error, want, wantErr)
		}
	}
	t.Run("UpBeforeItsFirstPass", func(t *testing.T) {
		c.Advance(3 * time.Minute)
		wantStatus(t, "ok", "")
	})
	t.Run("StaleWithoutAPass", func(t *testing.T) {
		c.Advance(time.Second)
		wantStatus(t, "stale", "no successful pass for 3m1s")
	})
	t.Run("UpAfterAPass", func(t *testing.T) {
		w.Pass()
		wantStatus(t, "ok", "")
		if r := byName(checks.Workers())["prune"]; r.LastPass == nil || !r.LastPass.Equal(c.Now()) || r.IntervalSeconds != 60 {
			t.Fatalf("last pass %v, interval %v", r.LastPass, r.IntervalSeconds)
		}
	})
	t.Run("OneFailureKeepsItUp", func(t *testing.T) {
		c.Advance(time.Minute)
		w.Fail(errors.New("database is locked"))
		wantStatus(t, "ok", "database is locked")
	})
	t.Run("StaleAfterFailingForThreeIntervals", func(t *testing.T) {
		c.Advance(2*time.Minute + time.Second)
		w.Fail(errors.New("database is locked"))
		wantStatus(t, "stale", "database is locked")
	})
	t.Run("Stopped", func(t *testing.T) {
		w.Pass()
		w.Stop()
		wantStatus(t, "stopped", "")
	})
}

// TestWorker_MinStale: a fast loop gets MinStale, not three of its short
// intervals, before it counts as down.
func TestWorker_MinStale(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	checks := health.New(c.Now)
	w := checks.Worker("timeouts", 250*time.Millisecond)
	w.Pass()
	c.Advance(health.MinStale)
	if r := checks.Workers()[0]; !r.OK() {
		t.Fatalf("after MinStale: %s, want ok", r.Status)
	}
	c.Advance(time.Millisecond)
	if r := checks.Workers()[0]; r.Status != "stale" {
		t.Fatalf("after MinStale and more: %s, want stale", r.Status)
	}
}

func TestCheck(t *testing.T) {
	checks := health.New(nil)
	checks.Probe("database", func(context.Context) error { return nil })
	checks.Probe("redis", func(context.Context) error { return errors.New("connection refused") })
	checks.Worker("events", time.Second).Pass()
	got := checks.Check(context.Background())
	want := []struct{ name, status string }{{"database", "ok"}, {"redis", "failing"}, {"events", "ok"}}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Name != w.name || got[i].Status != w.status {
			t.Errorf("result %d = %s %s, want %s %s", i, got[i].Name, got[i].Status, w.name, w.status)
		}
	}
	if got[1].Error != "connection refused" {
		t.Errorf("redis error = %q", got[1].Error)
	}
}
