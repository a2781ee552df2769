package events

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// Coalesce returns a function that tells other instances of the newest
// position without ever blocking its caller: publish runs in the
// background, once for every burst of calls, with the highest position
// given meanwhile. A commit is never held back by the telling, and a
// thousand commits a second make as many publications as the far side
// can take. A failure is logged once until publishing works again; the
// other instances then see the events at their next poll. via names the
// medium in the log.
func Coalesce(ctx context.Context, logger *slog.Logger, via string, publish func(ctx context.Context, position int64) error) func(position int64) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var latest atomic.Int64
	signal := make(chan struct{}, 1)
	go func() {
		failing := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-signal:
			}
			pubCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := publish(pubCtx, latest.Load())
			cancel()
			switch {
			case err != nil && !failing && ctx.Err() == nil:
				logger.Warn("events: cannot publish; other instances see new events at their next poll", "via", via, "err", err)
				failing = true
			case err == nil && failing:
				logger.Info("events: publishing again", "via", via)
				failing = false
			}
		}
	}()
	return func(position int64) {
		for {
			old := latest.Load()
			if position <= old || latest.CompareAndSwap(old, position) {
				break
			}
		}
		select {
		case signal <- struct{}{}:
		default:
		}
	}
}
