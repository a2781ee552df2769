package events

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboardhq/switchboard"
)

func TestHub_Delivery(t *testing.T) {
	t.Run("EverySubscriberGetsEveryEventOnceInOrder", func(t *testing.T) {
		log := &memLog{}
		log.Append(3) // before Start: nobody's
		// Only Wake moves the hub: the hour-long poll never fires.
		h := MustStartHub(t, log, Options{PollInterval: time.Hour, BatchLimit: 7, Buffer: 10000})

		const writers, appends = 4, 50
		want := int64(3)
		for i := range appends {
			want += writers * int64(i%5+1)
		}

		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			subs []switchboard.EventSubscription
			got  = map[switchboard.EventSubscription][]*switchboard.Event{}
		)
		collect := func(sub switchboard.EventSubscription) {
			mu.Lock()
			subs = append(subs, sub)
			mu.Unlock()
			wg.Go(func() {
				defer sub.Close()
				var events []*switchboard.Event
				for pos := sub.Position(); pos < want; {
					batch := MustReceive(t, sub)
					if len(batch) > 7 {
						t.Errorf("batch of %d events, want at most BatchLimit 7", len(batch))
					}
					events = append(events, batch...)
					pos = batch[len(batch)-1].Position
				}
				mu.Lock()
				got[sub] = events
				mu.Unlock()
			})
		}

		for range 4 {
			sub := h.Subscribe()
			if sub.Position() != 3 {
				t.Fatalf("Position() = %d before any write, want 3", sub.Position())
			}
			collect(sub)
		}
		var writing sync.WaitGroup
		for range writers {
			writing.Go(func() {
				for i := range appends {
					log.Append(i%5 + 1)
					h.Wake()
				}
			})
		}
		// Subscribers that join while events arrive get all above their Position.
		for range 4 {
			runtime.Gosched()
			collect(h.Subscribe())
		}
		writing.Wait()
		wg.Wait()

		for i, sub := range subs {
			events := got[sub]
			next := sub.Position() + 1
			for _, e := range events {
				if e.Position != next {
					t.Fatalf("subscriber %d (from %d): got position %d, want %d", i, sub.Position(), e.Position, next)
				}
				next++
			}
			if next-1 != want {
				t.Errorf("subscriber %d: last position %d, want %d", i, next-1, want)
			}
		}
	})

	t.Run("ErrSubscriberLagged", func(t *testing.T) {
		log := &memLog{}
		h := MustStartHub(t, log, Options{PollInterval: time.Hour, BatchLimit: 1, Buffer: 2})
		slow, fast := h.Subscribe(), h.Subscribe()
		defer fast.Close()

		for pos := int64(1); pos <= 3; pos++ {
			log.Append(1)
			h.Wake()
			if got := MustReceive(t, fast); got[0].Position != pos {
				t.Fatalf("fast subscriber got position %d, want %d", got[0].Position, pos)
			}
		}

		// The slow one keeps what fitted in its buffer, then is closed.
		for pos := int64(1); pos <= 2; pos++ {
			if got := MustReceive(t, slow); got[0].Position != pos {
				t.Fatalf("slow subscriber got position %d, want %d", got[0].Position, pos)
			}
		}
		MustClose(t, slow)
		if err := slow.Err(); !errors.Is(err, switchboard.ErrSubscriberLagged) {
			t.Fatalf("Err() = %v, want ErrSubscriberLagged", err)
		}
		if n := h.Subscribers(); n != 1 {
			t.Fatalf("Subscribers() = %d, want 1", n)
		}
		slow.Close() // harmless after a drop

		log.Append(1)
		h.Wake()
		if got := MustReceive(t, fast); got[0].Position != 4 {
			t.Fatalf("fast subscriber got position %d after the drop, want 4", got[0].Position)
		}
	})
}

func TestHub_Close(t *testing.T) {
	t.Run("IdempotentAndRemoves", func(t *testing.T) {
		log := &memLog{}
		h := MustStartHub(t, log, Options{PollInterval: time.Hour})
		sub, other := h.Subscribe(), h.Subscribe()
		defer other.Close()
		if n := h.Subscribers(); n != 2 {
			t.Fatalf("Subscribers() = %d, want 2", n)
		}

		sub.Close()
		sub.Close()
		if n := h.Subscribers(); n != 1 {
			t.Fatalf("Subscribers() = %d after Close, want 1", n)
		}
		if _, ok := <-sub.C(); ok {
			t.Fatal("C() still open after Close")
		}
		if err := sub.Err(); err != nil {
			t.Fatalf("Err() = %v after Close, want nil", err)
		}

		// The hub goes on delivering to the others.
		log.Append(1)
		h.Wake()
		MustReceive(t, other)
	})
}

func TestHub_Wake(t *testing.T) {
	t.Run("DeliversWithoutPoll", func(t *testing.T) {
		log := &memLog{reads: make(chan struct{}, 1)}
		h := MustStartHub(t, log, Options{PollInterval: time.Hour})
		sub := h.Subscribe()
		defer sub.Close()
		<-log.reads // the hub's first read found nothing; it now sleeps for an hour

		pos := log.Append(1)
		h.Wake()
		if got := MustReceive(t, sub); got[0].Position != pos {
			t.Fatalf("got position %d, want %d", got[0].Position, pos)
		}
	})

	t.Run("CoalescesWithoutBlocking", func(t *testing.T) {
		h := NewHub(&memLog{}, testLogger(t), Options{})
		for range 10 {
			h.Wake() // not started: nobody drains the wake-ups
		}
	})
}

func TestHub_ReadError(t *testing.T) {
	t.Run("RetriedAndSurvived", func(t *testing.T) {
		log := &memLog{reads: make(chan struct{}, 1)}
		h := MustStartHub(t, log, Options{PollInterval: time.Hour})
		sub := h.Subscribe()
		defer sub.Close()
		<-log.reads

		log.SetErr(errors.New("database is down"))
		pos := log.Append(1)
		h.Wake()
		<-log.reads // the failed read
		log.SetErr(nil)
		h.Wake()
		if got := MustReceive(t, sub); got[0].Position != pos {
			t.Fatalf("got position %d, want %d", got[0].Position, pos)
		}
	})
}

func TestHub_Start(t *testing.T) {
	t.Run("ErrFromLog", func(t *testing.T) {
		down := errors.New("database is down")
		h := NewHub(&memLog{err: down}, testLogger(t), Options{})
		if err := h.Start(context.Background()); !errors.Is(err, down) {
			t.Fatalf("Start() = %v, want %v", err, down)
		}
		sub := h.Subscribe()
		MustClose(t, sub)
		if !errors.Is(sub.Err(), ErrStopped) {
			t.Fatalf("Err() = %v, want ErrStopped", sub.Err())
		}
	})

	t.Run("ErrAlreadyStarted", func(t *testing.T) {
		h := MustStartHub(t, &memLog{}, Options{})
		if err := h.Start(context.Background()); err == nil {
			t.Fatal("second Start() = nil, want an error")
		}
	})
}

func TestHub_Stop(t *testing.T) {
	t.Run("ClosesSubscriptionsWithErrStopped", func(t *testing.T) {
		h := NewHub(&memLog{}, testLogger(t), Options{})
		before := h.Subscribe()
		MustClose(t, before)
		if !errors.Is(before.Err(), ErrStopped) {
			t.Fatalf("Err() before Start = %v, want ErrStopped", before.Err())
		}

		ctx, cancel := context.WithCancel(context.Background())
		if err := h.Start(ctx); err != nil {
			t.Fatal(err)
		}
		sub := h.Subscribe()
		cancel()
		h.Wait()
		MustClose(t, sub)
		if !errors.Is(sub.Err(), ErrStopped) {
			t.Fatalf("Err() = %v, want ErrStopped", sub.Err())
		}
		if n := h.Subscribers(); n != 0 {
			t.Fatalf("Subscribers() = %d, want 0", n)
		}
		after := h.Subscribe()
		MustClose(t, after)
		if !errors.Is(after.Err(), ErrStopped) {
			t.Fatalf("Err() after stop = %v, want ErrStopped", after.Err())
		}
	})
}

func TestOptions_Defaults(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   Options
		want Options
	}{
		{"Poll", Options{}, Options{PollInterval: 250 * time.Millisecond, BatchLimit: 500, Buffer: 64, GapWait: 10 * time.Millisecond}},
		{"Push", Options{Push: true}, Options{PollInterval: 5 * time.Second, BatchLimit: 500, Buffer: 64, Push: true, GapWait: 10 * time.Millisecond}},
		{"Kept", Options{PollInterval: time.Minute, BatchLimit: 10, Buffer: 3, GapWait: time.Second}, Options{PollInterval: time.Minute, BatchLimit: 10, Buffer: 3, GapWait: time.Second}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.withDefaults(); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// BenchmarkFanout measures a batch going from the log to 1,000 subscribers,
// each drained by its own goroutine as the SSE handlers will be: append,
// Wake, and wait until every subscriber holds the batch.
func BenchmarkFanout(b *testing.B) {
	const subscribers = 1000
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			log := &memLog{}
			h := NewHub(log, nil, Options{PollInterval: time.Hour})
			ctx, cancel := context.WithCancel(context.Background())
			defer func() {
				cancel()
				h.Wait()
			}()
			if err := h.Start(ctx); err != nil {
				b.Fatal(err)
			}

			var received sync.WaitGroup
			for range subscribers {
				sub := h.Subscribe()
				go func() {
					for range sub.C() {
						received.Done()
					}
				}()
			}
			// The events are made up front: making them is the store's
			// cost, not the fan-out's.
			events := make([]*switchboard.Event, b.N*size)
			for i := range events {
				events[i] = &switchboard.Event{Position: int64(i + 1), Type: "agent.updated"}
			}

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				received.Add(subscribers)
				log.mu.Lock()
				log.events = events[:(i+1)*size]
				log.mu.Unlock()
				h.Wake()
				received.Wait()
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			n := float64(b.N * size)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/event")
		})
	}
}

// receivePositions receives batches until n events came, and returns their
// positions as fmt prints them.
func receivePositions(t *testing.T, sub switchboard.EventSubscription, n int) string {
	t.Helper()
	var got []int64
	for len(got) < n {
		for _, e := range MustReceive(t, sub) {
			got = append(got, e.Position)
		}
	}
	return fmt.Sprint(got)
}

func TestHub_Publish(t *testing.T) {
	// committed appends n events to the log, as a commit does, and
	// returns them.
	committed := func(log *memLog, n int) []*switchboard.Event {
		last := log.Append(n)
		log.mu.Lock()
		defer log.mu.Unlock()
		return slices.Clone(log.events[last-int64(n) : last])
	}

	t.Run("DeliversWithoutReading", func(t *testing.T) {
		log := &memLog{reads: make(chan struct{}, 1)}
		h := MustStartHub(t, log, Options{PollInterval: time.Hour})
		sub := h.Subscribe()
		defer sub.Close()
		<-log.reads // the first read found nothing; it now sleeps for an hour

		h.Publish(committed(log, 3))
		if got := MustReceive(t, sub); len(got) != 3 || got[0].Position != 1 {
			t.Fatalf("got %d events from position %d, want 3 from 1", len(got), got[0].Position)
		}
		h.WakeAt(3) // the notification of that very commit
		h.WakeAt(2)
		select {
		case <-log.reads:
			t.Fatal("read the log for events it had delivered")
		case <-time.After(100 * time.Millisecond):
		}
		h.WakeAt(0) // a notification that tells of no position
		<-log.reads
	})

	t.Run("WaitsForTheCommitsBefore", func(t *testing.T) {
		log := &memLog{reads: make(chan struct{}, 1)}
		h := MustStartHub(t, log, Options{PollInterval: time.Hour})
		sub := h.Subscribe()
		defer sub.Close()
		<-log.reads

		log.Append(2) // another instance's commit, not published here
		h.Publish(committed(log, 3))
		if got := receivePositions(t, sub, 5); got != "[1 2 3 4 5]" {
			t.Fatalf("delivered positions %v, want [1 2 3 4 5]", got)
		}
	})

	t.Run("WaitsForItsOwnCommitBeforeWithoutReading", func(t *testing.T) {
		log := &memLog{reads: make(chan struct{}, 1)}
		h := MustStartHub(t, log, Options{PollInterval: time.Hour, GapWait: time.Hour})
		sub := h.Subscribe()
		defer sub.Close()
		<-log.reads

		first, second := committed(log, 2), committed(log, 3)
		h.Publish(second) // its committer answered first
		h.Publish(first)
		if got := receivePositions(t, sub, 5); got != "[1 2 3 4 5]" {
			t.Fatalf("delivered positions %v, want [1 2 3 4 5]", got)
		}
		select {
		case <-log.reads:
			t.Fatal("read the log for a commit that was published")
		default:
		}
	})

	t.Run("EveryEventOnceInOrder", func(t *testing.T) {
		// Commits published in any order, with other instances' commits
		// and wake-ups between: each event reaches the subscriber once,
		// in order.
		log := &memLog{}
		h := MustStartHub(t, log, Options{PollInterval: time.Hour, BatchLimit: 4, Buffer: 100000})
		sub := h.Subscribe()
		defer sub.Close()
		const writers, commits = 4, 200
		var wg sync.WaitGroup
		var mu sync.Mutex // commits in position order, as the sequence's lock makes them
		for w := range writers {
			wg.Go(func() {
				for i := range commits {
					mu.Lock()
					batch := committed(log, i%3+1)
					mu.Unlock()
					switch {
					case w == 0 && i%10 == 0:
						h.Wake() // another instance's notification
					case w == 1 && i%7 == 0:
						continue // another instance's commit: never published here
					}
					if i%2 == 0 {
						runtime.Gosched()
					}
					h.Publish(batch)
				}
			})
		}
		wg.Wait()
		last := int64(len(log.events))
		h.Wake() // the commits never published come from the log
		for want := int64(1); want <= last; {
			for _, e := range MustReceive(t, sub) {
				if e.Position != want {
					t.Fatalf("got position %d, want %d", e.Position, want)
				}
				want++
			}
		}
	})
}
