package loadgen

import (
	"context"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// schedule gives the times of an open model's starts, rate a second,
// paced by vegeta's constant pacer: it answers how long to wait for the
// next start from the time elapsed and the starts made, so that a start
// made late is made up for rather than lost, as a ticker's would be.
type schedule struct {
	pacer    vegeta.ConstantPacer
	interval time.Duration // between starts, as the pacer counts it
	began    time.Time
	made     uint64
	timer    *time.Timer
}

func newSchedule(rate int) *schedule {
	return &schedule{
		pacer:    vegeta.ConstantPacer{Freq: rate, Per: time.Second},
		interval: time.Second / time.Duration(rate),
		began:    time.Now(),
		timer:    time.NewTimer(0),
	}
}

// next waits for the next start and returns the time it was due, the
// pacer's: start n at n+1 intervals. A start made late keeps its due time,
// which latencies count from. ok is false once ctx ends.
func (s *schedule) next(ctx context.Context) (due time.Time, ok bool) {
	wait, stop := s.pacer.Pace(time.Since(s.began), s.made)
	if stop {
		return time.Time{}, false
	}
	s.made++
	due = s.began.Add(time.Duration(s.made) * s.interval)
	s.timer.Reset(wait)
	select {
	case <-s.timer.C:
		return due, true
	case <-ctx.Done():
		return time.Time{}, false
	}
}

// turns sends the due time of each start on the channel it returns, which
// is closed once ctx ends. A send waits for a receiver: when every worker
// is busy, the starts missed are made up for as soon as one is free.
func (s *schedule) turns(ctx context.Context) <-chan time.Time {
	out := make(chan time.Time)
	go func() {
		defer close(out)
		defer s.timer.Stop()
		for {
			due, ok := s.next(ctx)
			if !ok {
				return
			}
			select {
			case out <- due:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
