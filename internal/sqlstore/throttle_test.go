package sqlstore_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

func TestThrottle(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		take := func(key string) (bool, time.Duration) {
			t.Helper()
			ok, wait, err := db.Throttle(t.Context(), key, 3, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return ok, wait
		}
		for i := range 3 {
			if ok, _ := take("signin:192.0.2.1"); !ok {
				t.Fatalf("attempt %d of a burst of 3 refused", i+1)
			}
		}
		if ok, wait := take("signin:192.0.2.1"); ok || wait != 2*time.Second {
			t.Fatalf("4th attempt: allowed %v, wait %s; want refused, 2s", ok, wait)
		}
		// A refused attempt does not push the wait further out.
		if _, wait := take("signin:192.0.2.1"); wait != 2*time.Second {
			t.Errorf("wait after a refusal %s, want 2s", wait)
		}
		// Other keys have buckets of their own.
		if ok, _ := take("signin:192.0.2.2"); !ok {
			t.Error("another address refused")
		}
		clock.Advance(2 * time.Second)
		if ok, _ := take("signin:192.0.2.1"); !ok {
			t.Error("refused after one interval")
		}
		if ok, _ := take("signin:192.0.2.1"); ok {
			t.Error("more than one attempt refilled in one interval")
		}

		// Full buckets are forgotten.
		clock.Advance(time.Minute)
		if err := db.DeleteIdleThrottles(t.Context()); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if ok, _ := take("signin:192.0.2.1"); !ok {
				t.Fatalf("attempt %d after the bucket refilled refused", i+1)
			}
		}
	})
}

// TestThrottle_Concurrent: instances hitting one bucket at once get exactly
// its burst between them.
func TestThrottle_Concurrent(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		newClock(db) // time stands still: nothing refills
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				ok, _, err := db.Throttle(t.Context(), "enroll:198.51.100.0", 5, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if n := allowed.Load(); n != 5 {
			t.Errorf("%d of 16 concurrent attempts allowed from a bucket of 5", n)
		}
	})
}
