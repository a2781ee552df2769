package loadgen

import (
	"context"
	"testing"
	"time"
)

// A schedule that fell behind makes up every start it missed, at once,
// each with the time it was due: none is lost, and latencies count from
// when the start should have been made.
func TestScheduleMakesUpMissedStartsWithTheirDueTimes(t *testing.T) {
	s := newSchedule(100) // a start every 10 ms
	s.began = time.Now().Add(-time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	turns := s.turns(ctx)
	for n := 1; n <= 100; n++ {
		due, ok := <-turns
		if !ok {
			t.Fatalf("start %d: the schedule ended", n)
		}
		if want := s.began.Add(time.Duration(n) * 10 * time.Millisecond); !due.Equal(want) {
			t.Fatalf("start %d was due at %v after the schedule began, want %v", n, due.Sub(s.began), want.Sub(s.began))
		}
	}
	cancel()
	for range turns { // it ends once its context does
	}
}
