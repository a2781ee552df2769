// Package heartbeat keeps agents' signs of life in memory and writes them
// to the database in batches. A fleet that heartbeats every few seconds
// would otherwise cost a transaction per heartbeat; here it costs one
// statement per batch, once per flush interval, whatever the rate.
package heartbeat

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard"
)

// DefaultInterval is how often buffered heartbeats are written: what a
// crash may lose of agents' last-seen times.
const DefaultInterval = time.Second

// touchResolution is how stale a last-seen time written for a mere call
// (not an explicit heartbeat) may get: a quarter of the heartbeat TTL, at
// most this. A busy agent calls the API many times a second; writing each
// of its calls would turn the flush into a stream of row locks on the
// agents that routing works with.
const touchResolution = 15 * time.Second

// Observer learns what the buffer does, for metrics. Both methods must be
// cheap and safe for concurrent use.
type Observer interface {
	HeartbeatReceived()
	HeartbeatsFlushed(n int, took time.Duration)
}

// Liveness hears of every flush of Run and of its end, for readiness
// checks (health.Worker).
type Liveness interface {
	Report(err error)
	Stop()
}

// Buffer implements switchboard.Heartbeats over a HeartbeatStore.
type Buffer struct {
	store    switchboard.HeartbeatStore
	interval time.Duration
	now      func() time.Time
	observer Observer
	liveness Liveness
	logger   *slog.Logger
	// touchEvery is how often one agent's calls alone are written.
	touchEvery time.Duration

	// flushing is held by a flush from its start to its end (see Flush).
	flushing sync.Mutex

	mu      sync.Mutex
	pending map[string]switchboard.Heartbeat
	written map[string]time.Time // when each agent's sign of life was last written
}

var _ switchboard.Heartbeats = (*Buffer)(nil)

// Options tune a Buffer; zero values take the defaults.
type Options struct {
	Interval time.Duration
	// TTL is the heartbeat TTL: calls alone are written often enough for
	// it.
	TTL      time.Duration
	Now      func() time.Time
	Observer Observer
	Liveness Liveness
	Logger   *slog.Logger
}

// New returns a buffer writing to store; Run flushes it.
func New(store switchboard.HeartbeatStore, opts Options) *Buffer {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	touchEvery := touchResolution
	if opts.TTL > 0 {
		touchEvery = min(touchEvery, opts.TTL/4)
	}
	return &Buffer{store: store, interval: opts.Interval, now: opts.Now, observer: opts.Observer, liveness: opts.Liveness, logger: opts.Logger,
		touchEvery: touchEvery,
		pending:    map[string]switchboard.Heartbeat{}, written: map[string]time.Time{}}
}

// Beat notes an explicit heartbeat; metadata, when not nil, replaces the
// agent's at the next flush.
func (b *Buffer) Beat(agentID string, metadata json.RawMessage) {
	now := b.now().UTC()
	b.mu.Lock()
	if metadata == nil {
		metadata = b.pending[agentID].Metadata // a later beat without metadata keeps it
	}
	b.pending[agentID] = switchboard.Heartbeat{AgentID: agentID, At: now, Metadata: metadata}
	b.mu.Unlock()
	if b.observer != nil {
		b.observer.HeartbeatReceived()
	}
}

// Touch notes that the agent made a call: a sign of life, written at most
// every few seconds per agent.
func (b *Buffer) Touch(agentID string) {
	now := b.now().UTC()
	b.mu.Lock()
	defer b.mu.Unlock()
	if p, ok := b.pending[agentID]; ok {
		p.At = now
		b.pending[agentID] = p
		return
	}
	if w, ok := b.written[agentID]; ok && now.Sub(w) < b.touchEvery {
		return
	}
	b.pending[agentID] = switchboard.Heartbeat{AgentID: agentID, At: now}
}

// Pending returns how many agents' heartbeats wait to be written.
func (b *Buffer) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// Flush writes what is buffered. When the write fails the heartbeats stay
// buffered (unless newer ones came meanwhile) for the next flush.
//
// Flushes run one at a time, so that when Flush returns every heartbeat
// noted before it began is written, or kept after a failure: a flush that
// overtook one under way (Run's, say) returned before the heartbeats that
// one had taken were written, and wrote an agent's newer heartbeat before
// its older one, whose last-seen time and metadata then stood.
func (b *Buffer) Flush(ctx context.Context) error {
	b.flushing.Lock()
	defer b.flushing.Unlock()
	b.mu.Lock()
	if len(b.pending) == 0 {
		b.mu.Unlock()
		return nil
	}
	batch := make([]switchboard.Heartbeat, 0, len(b.pending))
	for _, h := range b.pending {
		batch = append(batch, h)
	}
	clear(b.pending)
	b.mu.Unlock()

	start := time.Now()
	deferred, err := b.store.RecordHeartbeats(ctx, batch)
	took := time.Since(start)

	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil && len(deferred) > 0 {
		// Not written this time: kept, as after a failure, and the rest
		// counts as written.
		b.keep(deferred)
		kept := make(map[string]bool, len(deferred))
		for _, h := range deferred {
			kept[h.AgentID] = true
		}
		batch = slices.DeleteFunc(batch, func(h switchboard.Heartbeat) bool { return kept[h.AgentID] })
	}
	if err != nil {
		b.keep(batch)
		return err
	}
	now := b.now().UTC()
	for id, at := range b.written {
		if now.Sub(at) >= b.touchEvery {
			delete(b.written, id)
		}
	}
	for _, h := range batch {
		b.written[h.AgentID] = h.At
	}
	if b.observer != nil {
		b.observer.HeartbeatsFlushed(len(batch), took)
	}
	return nil
}

// keep puts heartbeats that were not written back in the buffer, unless
// newer ones came meanwhile. The caller holds b.mu.
func (b *Buffer) keep(beats []switchboard.Heartbeat) {
	for _, h := range beats {
		if newer, ok := b.pending[h.AgentID]; ok {
			if newer.Metadata == nil {
				newer.Metadata = h.Metadata
				b.pending[h.AgentID] = newer
			}
			continue
		}
		b.pending[h.AgentID] = h
	}
}

// Run flushes every interval until ctx ends, then once more, so that a
// clean shutdown loses nothing. A failing database is logged once, and
// once again when it recovers.
func (b *Buffer) Run(ctx context.Context) {
	tick := time.NewTicker(b.interval)
	defer tick.Stop()
	if b.liveness != nil {
		defer b.liveness.Stop()
	}
	failing := false
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := b.Flush(final); err != nil {
				b.logger.Error("heartbeats: last flush failed", "err", err.Error(), "lost", b.Pending())
			}
			cancel()
			return
		case <-tick.C:
		}
		err := b.Flush(ctx)
		if b.liveness != nil && ctx.Err() == nil {
			b.liveness.Report(err)
		}
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			b.logger.Warn("heartbeats: flush failed; they stay buffered", "err", err.Error())
			failing = true
		case err == nil && failing:
			b.logger.Info("heartbeats: flushing again")
			failing = false
		}
	}
}
