package heartbeat

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
)

// store keeps what was written, or fails while down.
type store struct {
	mu      sync.Mutex
	down    bool
	busy    map[string]bool // agents whose rows are locked
	batches [][]switchboard.Heartbeat
}

func (s *store) RecordHeartbeats(_ context.Context, beats []switchboard.Heartbeat) ([]switchboard.Heartbeat, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, errors.New("database down")
	}
	var written, deferred []switchboard.Heartbeat
	for _, h := range beats {
		if s.busy[h.AgentID] {
			deferred = append(deferred, h)
		} else {
			written = append(written, h)
		}
	}
	s.batches = append(s.batches, written)
	return deferred, nil
}

// last returns the last written heartbeat of each agent.
func (s *store) last() map[string]switchboard.Heartbeat {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]switchboard.Heartbeat{}
	for _, b := range s.batches {
		for _, h := range b {
			m[h.AgentID] = h
		}
	}
	return m
}

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

type counter struct {
	mu                sync.Mutex
	received, flushed int
}

func (c *counter) HeartbeatReceived() { c.mu.Lock(); c.received++; c.mu.Unlock() }
func (c *counter) HeartbeatsFlushed(n int, _ time.Duration) {
	c.mu.Lock()
	c.flushed += n
	c.mu.Unlock()
}

func TestBuffer_OneWritePerAgentPerFlush(t *testing.T) {
	st, clk, obs := &store{}, &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, &counter{}
	b := New(st, Options{Now: clk.Now, Observer: obs})
	b.Beat("a", json.RawMessage(`{"version":"1"}`))
	clk.t = clk.t.Add(time.Millisecond)
	b.Beat("a", nil) // keeps the metadata of the earlier beat
	b.Beat("b", nil)
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(st.batches) != 1 || len(st.batches[0]) != 2 {
		t.Fatalf("batches %v, want one of two heartbeats", st.batches)
	}
	got := st.last()
	if !got["a"].At.Equal(clk.t) || string(got["a"].Metadata) != `{"version":"1"}` || got["b"].Metadata != nil {
		t.Fatalf("written %+v", got)
	}
	if obs.received != 3 || obs.flushed != 2 {
		t.Fatalf("observed %d received, %d flushed; want 3 and 2", obs.received, obs.flushed)
	}
	if err := b.Flush(context.Background()); err != nil || len(st.batches) != 1 {
		t.Fatalf("an empty flush wrote (%v)", err)
	}
}

// Calls are signs of life too, but a busy agent's are written at most
// every touchResolution; explicit heartbeats always are.
func TestBuffer_TouchesAreThinned(t *testing.T) {
	st, clk := &store{}, &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := New(st, Options{Now: clk.Now})
	b.Touch("a")
	_ = b.Flush(context.Background())
	clk.t = clk.t.Add(time.Second)
	b.Touch("a")
	if b.Pending() != 0 {
		t.Fatal("a touch right after a write was buffered")
	}
	b.Beat("a", nil)
	if b.Pending() != 1 {
		t.Fatal("an explicit heartbeat was thinned")
	}
	_ = b.Flush(context.Background())
	clk.t = clk.t.Add(touchResolution)
	b.Touch("a")
	if b.Pending() != 1 {
		t.Fatal("a touch long after the last write was not buffered")
	}
}

// A failed write keeps the heartbeats for the next flush, without going
// back on newer ones.
func TestBuffer_FailedFlushKeepsTheHeartbeats(t *testing.T) {
	st, clk := &store{down: true}, &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := New(st, Options{Now: clk.Now})
	b.Beat("a", json.RawMessage(`{"v":"1"}`))
	b.Beat("b", nil)
	if err := b.Flush(context.Background()); err == nil {
		t.Fatal("flush to a down store succeeded")
	}
	clk.t = clk.t.Add(time.Second)
	b.Beat("a", nil)
	st.down = false
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := st.last()
	if len(got) != 2 || !got["a"].At.Equal(clk.t) || string(got["a"].Metadata) != `{"v":"1"}` {
		t.Fatalf("written %+v", got)
	}
}

// A clean shutdown writes what is buffered.
func TestBuffer_RunFlushesOnStop(t *testing.T) {
	st := &store{}
	b := New(st, Options{Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	b.Beat("a", nil)
	cancel()
	<-done
	if _, ok := st.last()["a"]; !ok {
		t.Fatal("the buffered heartbeat was lost at shutdown")
	}
}

// An agent whose row is busy is written at a later flush.
func TestBuffer_DeferredHeartbeatsWaitForTheNextFlush(t *testing.T) {
	st := &store{busy: map[string]bool{"a": true}}
	b := New(st, Options{})
	b.Beat("a", json.RawMessage(`{"v":"1"}`))
	b.Beat("b", nil)
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := st.last(); len(got) != 1 || b.Pending() != 1 {
		t.Fatalf("written %v, %d pending; want b written and a pending", got, b.Pending())
	}
	st.busy = nil
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := st.last(); len(got) != 2 || string(got["a"].Metadata) != `{"v":"1"}` {
		t.Fatalf("written %+v", got)
	}
}

// gatedStore holds its first write until opened, as a slow database would.
type gatedStore struct {
	store
	once    sync.Once
	entered chan struct{}
	open    chan struct{}
}

func (s *gatedStore) RecordHeartbeats(ctx context.Context, beats []switchboard.Heartbeat) ([]switchboard.Heartbeat, error) {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.entered)
		<-s.open
	}
	return s.store.RecordHeartbeats(ctx, beats)
}

// A flush called while another is writing waits for it: it returns only
// once the heartbeats noted before it are written, and an agent's older
// heartbeat is never written after its newer one.
func TestBuffer_FlushWaitsForTheFlushUnderWay(t *testing.T) {
	st := &gatedStore{entered: make(chan struct{}), open: make(chan struct{})}
	b := New(st, Options{})
	b.Beat("a", json.RawMessage(`{"n":1}`))
	first := make(chan error, 1)
	go func() { first <- b.Flush(context.Background()) }()
	<-st.entered // the first flush holds a's heartbeat

	b.Beat("a", json.RawMessage(`{"n":2}`))
	second := make(chan error, 1)
	go func() { second <- b.Flush(context.Background()) }()
	select {
	case err := <-second:
		t.Fatalf("the second flush returned (%v) while the first was still writing", err)
	case <-time.After(50 * time.Millisecond): // a chance to overtake
	}
	close(st.open)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if len(st.batches) != 2 || string(st.batches[0][0].Metadata) != `{"n":1}` || string(st.batches[1][0].Metadata) != `{"n":2}` {
		t.Fatalf("batches %v, want a's first heartbeat, then its second", st.batches)
	}
	if got := string(st.last()["a"].Metadata); got != `{"n":2}` {
		t.Errorf("a's metadata %s, want its newer", got)
	}
}
