package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	switchboard "github.com/switchboardhq/switchboard"
)

// Options tunes a Hub. Zero values take the defaults.
type Options struct {
	// PollInterval is how long the Hub goes without reading the log when
	// nothing wakes it. Default 250ms, so that without Push the commits of
	// other instances still show within a second; with Push, 5s.
	PollInterval time.Duration
	// BatchLimit is the most events read, and delivered, at once. Default 500.
	BatchLimit int
	// Buffer is how many batches a subscriber may fall behind before it is
	// dropped. Default 64.
	Buffer int
	// Push says that other instances' commits reach Wake (ListenPostgres or
	// Redis.Listen runs). The poll is then only a safety net for a
	// notification lost in a reconnect, and need not query four times a
	// second on every instance.
	Push bool
	// GapWait is how long a batch published out of order waits for the
	// commits before it to be published too, before the log is read for
	// them. An instance's committers publish in the order of their
	// commits' replies, which is not always that of their positions; the
	// commit that comes first is then nearly always published within a
	// millisecond, and reading the log for it cost a query and a decoding
	// of the events. With Push, another instance's commits wake the Hub by
	// their notification at once. Default 10ms.
	GapWait time.Duration
}

func (o Options) withDefaults() Options {
	if o.PollInterval <= 0 {
		o.PollInterval = 250 * time.Millisecond
		if o.Push {
			o.PollInterval = 5 * time.Second
		}
	}
	if o.BatchLimit <= 0 {
		o.BatchLimit = 500
	}
	if o.Buffer <= 0 {
		o.Buffer = 64
	}
	if o.GapWait <= 0 {
		o.GapWait = 10 * time.Millisecond
	}
	return o
}

// Hub is the one reader of the event log on an instance. Reading once and
// fanning out in memory keeps the database load independent of the number of
// open streams.
type Hub struct {
	log    switchboard.EventLog
	logger *slog.Logger
	opts   Options
	wake   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	started bool
	running bool
	pos     int64 // the last position delivered
	subs    map[*subscription]struct{}
	// ahead are batches published by this instance's commits that a
	// commit not yet delivered comes before; they wait for it.
	ahead [][]*switchboard.Event
	// gapTimer is set while a gap waits (see Options.GapWait).
	gapTimer bool
}

var _ switchboard.EventBroker = (*Hub)(nil)

// NewHub returns a Hub over log; Start sets it reading.
func NewHub(log switchboard.EventLog, logger *slog.Logger, opts Options) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		log:    log,
		logger: logger,
		opts:   opts.withDefaults(),
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		subs:   make(map[*subscription]struct{}),
	}
}

// Start reads the position of the newest event, so that every subscription
// made after Start returns has a known place in the log, then reads the log
// in the background until ctx ends. When it ends, every subscription is
// closed with ErrStopped.
func (h *Hub) Start(ctx context.Context) error {
	h.mu.Lock()
	if h.started {
		h.mu.Unlock()
		return errors.New("events: hub already started")
	}
	h.started = true
	h.mu.Unlock()

	pos, err := h.log.LastEventPosition(ctx)
	if err != nil {
		h.mu.Lock()
		h.started = false
		h.mu.Unlock()
		return fmt.Errorf("events: start: %w", err)
	}
	h.mu.Lock()
	h.pos = pos
	h.running = true
	h.mu.Unlock()
	go h.run(ctx)
	return nil
}

// Wait returns once the Hub has stopped after its context ended. It must
// not be called on a Hub that was never started.
func (h *Hub) Wait() { <-h.done }

// Wake makes the Hub read the log now. It never blocks, and wake-ups that
// come while one is pending are one: a single read sees all their events.
func (h *Hub) Wake() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// WakeAt is Wake for a notification that events up to position were
// committed: a position the Hub has delivered already needs no read, which
// is the case of every notification of this instance's own commits.
// Position 0 says nothing of the position, and always wakes.
func (h *Hub) WakeAt(position int64) {
	h.mu.Lock()
	known := position > 0 && position <= h.pos
	h.mu.Unlock()
	if !known {
		h.Wake()
	}
}

// Publish delivers the events of a commit of this instance, in position
// order, without reading them back from the log: the reads of a busy
// instance were mostly of its own events, which it held already. A batch
// is delivered once every event before it is: when another commit comes
// first that is not delivered yet (another instance's, or this instance's
// own still on its way), the batch waits, and unless that commit is
// published within Options.GapWait, the log is read for the events
// between.
func (h *Hub) Publish(batch []*switchboard.Event) {
	if len(batch) == 0 {
		return
	}
	h.mu.Lock()
	if !h.running {
		h.mu.Unlock()
		return
	}
	switch batch = unseen(batch, h.pos); {
	case len(batch) == 0: // read from the log already
	case batch[0].Position > h.pos+1:
		h.ahead = append(h.ahead, batch)
		if !h.gapTimer {
			h.gapTimer = true
			time.AfterFunc(h.opts.GapWait, h.readForGap)
		}
	default:
		h.deliverLocked(batch)
	}
	h.mu.Unlock()
}

// readForGap reads the log for the commits that published batches wait
// for, unless they were published meanwhile.
func (h *Hub) readForGap() {
	h.mu.Lock()
	h.gapTimer = false
	waiting := len(h.ahead) > 0
	h.mu.Unlock()
	if waiting {
		h.Wake()
	}
}

// Subscribers returns the number of open subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Subscribe starts a subscription at the Hub's current position. Outside
// Start and the end of its context, the subscription comes back closed,
// with ErrStopped.
func (h *Hub) Subscribe() switchboard.EventSubscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &subscription{hub: h, c: make(chan []*switchboard.Event, h.opts.Buffer), pos: h.pos}
	if !h.running {
		s.err = ErrStopped
		close(s.c)
		return s
	}
	h.subs[s] = struct{}{}
	return s
}

func (h *Hub) run(ctx context.Context) {
	defer h.stop()
	tick := time.NewTicker(h.opts.PollInterval)
	defer tick.Stop()
	failures := failureLog{logger: h.logger}
	for {
		h.catchUp(ctx, &failures)
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-tick.C:
		}
	}
}

// catchUp delivers every event after the last one delivered, a batch at a
// time. A failed read leaves the rest to the next tick or wake.
func (h *Hub) catchUp(ctx context.Context, failures *failureLog) {
	for ctx.Err() == nil {
		h.mu.Lock()
		pos := h.pos
		h.mu.Unlock()
		batch, err := h.log.EventsAfter(ctx, pos, h.opts.BatchLimit)
		if err != nil {
			if ctx.Err() == nil {
				failures.failed(err, pos)
			}
			return
		}
		failures.recovered()
		if len(batch) > 0 {
			h.deliver(batch)
		}
		if len(batch) < h.opts.BatchLimit {
			return
		}
	}
}

// deliver hands the events of batch not delivered yet (Publish may have
// delivered some meanwhile) to every subscriber.
func (h *Hub) deliver(batch []*switchboard.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if batch = unseen(batch, h.pos); len(batch) > 0 {
		h.deliverLocked(batch)
	}
}

// unseen is the part of batch after position pos.
func unseen(batch []*switchboard.Event, pos int64) []*switchboard.Event {
	for len(batch) > 0 && batch[0].Position <= pos {
		batch = batch[1:]
	}
	return batch
}

// deliverLocked hands batch, which follows the last position delivered, to
// every subscriber without waiting for any, then the published batches
// that now follow. The position moves under the same lock as the sends, so
// a subscription made at any moment gets exactly the events above its
// Position. h.mu must be held.
func (h *Hub) deliverLocked(batch []*switchboard.Event) {
	for batch != nil {
		h.send(batch)
		batch = nil
		// The published batches that waited for this one.
		kept := h.ahead[:0]
		for _, b := range h.ahead {
			switch b = unseen(b, h.pos); {
			case len(b) == 0:
			case b[0].Position == h.pos+1 && batch == nil:
				batch = b
			default:
				kept = append(kept, b)
			}
		}
		clear(h.ahead[len(kept):])
		h.ahead = kept
	}
}

// send hands batch to every subscriber and moves the position to its end.
// h.mu must be held.
func (h *Hub) send(batch []*switchboard.Event) {
	h.pos = batch[len(batch)-1].Position
	dropped := 0
	for s := range h.subs {
		select {
		case s.c <- batch:
		default:
			// Waiting would let one slow client hold back the whole
			// instance; a dropped one resumes from the log instead.
			h.drop(s, switchboard.ErrSubscriberLagged)
			dropped++
		}
	}
	if dropped > 0 {
		h.logger.Warn("events: dropped subscribers that fell behind",
			"count", dropped, "position", batch[len(batch)-1].Position, "buffer", h.opts.Buffer)
	}
}

// drop closes s with err. h.mu must be held.
func (h *Hub) drop(s *subscription, err error) {
	delete(h.subs, s)
	s.err = err
	close(s.c)
}

func (h *Hub) stop() {
	h.mu.Lock()
	h.running = false
	for s := range h.subs {
		h.drop(s, ErrStopped)
	}
	h.mu.Unlock()
	close(h.done)
}

// subscription is one live stream's place in the Hub. Its fields other than
// the channel are guarded by the Hub's lock, which decides who closes c:
// whoever removes the subscription from the Hub.
type subscription struct {
	hub *Hub
	c   chan []*switchboard.Event
	pos int64
	err error
}

var _ switchboard.EventSubscription = (*subscription)(nil)

func (s *subscription) C() <-chan []*switchboard.Event { return s.c }
func (s *subscription) Position() int64                { return s.pos }

func (s *subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

func (s *subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if _, ok := s.hub.subs[s]; ok {
		delete(s.hub.subs, s)
		close(s.c)
	}
}

// failureLog keeps a failing event log from writing a line at every poll:
// the first failure is logged at once, then one line a minute while the
// failures last, and one when reads succeed again.
type failureLog struct {
	logger *slog.Logger
	since  time.Time // the first failure of the outage; zero while healthy
	logged time.Time
	count  int // failures since the last line
}

func (f *failureLog) failed(err error, pos int64) {
	now := time.Now()
	if f.since.IsZero() {
		f.since = now
	}
	f.count++
	if !f.logged.IsZero() && now.Sub(f.logged) < time.Minute {
		return
	}
	f.logger.Error("events: reading the event log failed; retrying",
		"err", err, "position", pos, "failures", f.count, "failing_for", now.Sub(f.since).Round(time.Second))
	f.logged, f.count = now, 0
}

func (f *failureLog) recovered() {
	if f.since.IsZero() {
		return
	}
	f.logger.Info("events: reading the event log again", "failing_for", time.Since(f.since).Round(time.Second))
	*f = failureLog{logger: f.logger}
}
