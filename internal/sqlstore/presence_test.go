package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/routing"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

const testTTL = 60 * time.Second

// countRows runs a COUNT(*) query.
func countRows(t *testing.T, db *sqlstore.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustAgentPresence(t *testing.T, db *sqlstore.DB, admin context.Context, id string) switchboard.Presence {
	t.Helper()
	a, err := sqlstore.NewAgentService(db).FindAgentByID(admin, id)
	if err != nil {
		t.Fatal(err)
	}
	return a.Presence
}

// TestSweepPresence_OfferGoesOn: an agent that stops being seen turns
// offline after the TTL, not before; its pending offer is revoked and the
// task offered to the next agent, who kept saying it was there.
func TestSweepPresence_OfferGoesOn(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		f := newRoutingFixture(t, db)
		presence := sqlstore.NewPresenceService(db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Calls", OfferTimeout: 10 * time.Minute})
		ann, _ := f.MustAgent(t, "Ann", 1, nil)
		clock.Advance(time.Second)
		bob, bobCtx := f.MustAgent(t, "Bob", 1, nil)
		task := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Call back"})
		if task.Status != switchboard.TaskOffered || task.AgentID != ann.ID {
			t.Fatalf("offered to %s, want Ann", task.AgentName)
		}

		clock.Advance(testTTL/2 - time.Second)
		if _, err := presence.SetPresence(bobCtx, switchboard.PresenceAvailable); err != nil { // Bob's sign of life
			t.Fatal(err)
		}
		clock.Advance(testTTL / 2)
		if n, err := presence.SweepPresence(context.Background(), testTTL, 100); err != nil || n != 0 {
			t.Fatalf("swept %d at the TTL (%v), want 0", n, err)
		}
		clock.Advance(time.Second)
		if n, err := presence.SweepPresence(context.Background(), testTTL, 100); err != nil || n != 1 {
			t.Fatalf("swept %d past the TTL (%v), want 1", n, err)
		}
		if p := mustAgentPresence(t, db, f.admin, ann.ID); p != switchboard.PresenceOffline {
			t.Errorf("Ann is %s, want offline", p)
		}
		if p := mustAgentPresence(t, db, f.admin, bob.ID); p != switchboard.PresenceAvailable {
			t.Errorf("Bob is %s, want available", p)
		}
		task, err := f.tasks.FindTaskByID(f.admin, task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != switchboard.TaskOffered || task.AgentID != bob.ID {
			t.Fatalf("after the sweep: %s to %s, want offered to Bob", task.Status, task.AgentName)
		}
		if got := task.History[len(task.History)-2].Reason; got != "agent went offline" {
			t.Errorf("requeue reason = %q", got)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM offers WHERE agent_id = ? AND status = ?", ann.ID, switchboard.OfferRevoked); n != 1 {
			t.Errorf("%d revoked offers of Ann, want 1", n)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM events WHERE type = ? AND subject_id = ? AND actor_type = 'system' AND data LIKE ?",
			switchboard.EventAgentPresenceChanged, ann.ID, "%heartbeat timeout%"); n != 1 {
			t.Errorf("%d presence events of the sweep, want 1", n)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM events WHERE type = ?", switchboard.AuditOfferRevoked); n != 1 {
			t.Errorf("%d offer.revoked events, want 1", n)
		}
		// Ann's capacity came back: when she returns, she takes work again.
		if n := countRows(t, db, "SELECT workload FROM agents WHERE id = ?", ann.ID); n != 0 {
			t.Errorf("Ann's workload = %d, want 0", n)
		}
		if n, err := presence.SweepPresence(context.Background(), testTTL, 100); err != nil || n != 0 {
			t.Fatalf("swept %d again (%v), want 0", n, err)
		}
	})
}

// TestSweepPresence_RequeueOnOffline: an offline agent's assigned tasks go
// back only from queues that say so.
func TestSweepPresence_RequeueOnOffline(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		f := newRoutingFixture(t, db)
		presence := sqlstore.NewPresenceService(db)
		requeue := f.MustQueue(t, switchboard.NewQueue{Name: "Requeue", RequeueOnOffline: true})
		keep := f.MustQueue(t, switchboard.NewQueue{Name: "Keep"})
		ann, _ := f.MustAgent(t, "Ann", 2, nil)
		t1 := f.MustTask(t, switchboard.NewTask{QueueID: requeue.ID, Title: "Goes back"})
		t2 := f.MustTask(t, switchboard.NewTask{QueueID: keep.ID, Title: "Stays"})
		if t1.AgentID != ann.ID || t2.AgentID != ann.ID || t1.Status != switchboard.TaskAssigned {
			t.Fatalf("tasks not both assigned to Ann: %+v %+v", t1, t2)
		}
		clock.Advance(testTTL + time.Second)
		bob, _ := f.MustAgent(t, "Bob", 2, nil)
		if n, err := presence.SweepPresence(context.Background(), testTTL, 100); err != nil || n != 1 {
			t.Fatalf("swept %d (%v), want 1", n, err)
		}
		got1, _ := f.tasks.FindTaskByID(f.admin, t1.ID)
		got2, _ := f.tasks.FindTaskByID(f.admin, t2.ID)
		if got1.Status != switchboard.TaskAssigned || got1.AgentID != bob.ID {
			t.Errorf("task of the requeueing queue: %s to %s, want assigned to Bob", got1.Status, got1.AgentName)
		}
		if got2.Status != switchboard.TaskAssigned || got2.AgentID != ann.ID {
			t.Errorf("task of the other queue: %s to %s, want still Ann's", got2.Status, got2.AgentName)
		}
		if n := countRows(t, db, "SELECT workload FROM agents WHERE id = ?", ann.ID); n != 1 {
			t.Errorf("Ann's workload = %d, want 1", n)
		}
	})
}

// TestSweepPresence_NeverSeen: an agent present without ever having been
// seen (made available before last_seen_at was kept) is stale.
func TestSweepPresence_NeverSeen(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		newClock(db)
		f := newRoutingFixture(t, db)
		ann, _ := f.MustAgent(t, "Ann", 1, nil)
		if err := db.Exec(context.Background(), "UPDATE agents SET last_seen_at = NULL, seen_mark = NULL WHERE id = ?", ann.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := sqlstore.NewPresenceService(db).SweepPresence(context.Background(), testTTL, 100); err != nil || n != 1 {
			t.Fatalf("swept %d (%v), want 1", n, err)
		}
	})
}

// TestSweepPresence_MarkLagsBehind: heartbeats move seen_mark, the
// sweeper's indexed copy of last_seen_at, only once it is SeenMarkStep
// behind, and never past last_seen_at. The sweeper goes by last_seen_at
// all the same: under a TTL shorter than the mark's lag, an agent seen
// just now stays, and goes once the TTL has passed since its last beat.
func TestSweepPresence_MarkLagsBehind(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		f := newRoutingFixture(t, db)
		presence := sqlstore.NewPresenceService(db)
		ann, _ := f.MustAgent(t, "Ann", 1, nil)
		const beat, beats = 3 * time.Second, 30
		moved := 0
		for range beats {
			clock.Advance(beat)
			now := clock.Now()
			if _, err := db.RecordHeartbeats(systemCtx(), []switchboard.Heartbeat{{AgentID: ann.ID, At: now}}); err != nil {
				t.Fatal(err)
			}
			if countRows(t, db, "SELECT COUNT(*) FROM agents WHERE id = ? AND last_seen_at > ? AND seen_mark <= last_seen_at AND seen_mark > ?",
				ann.ID, now.Add(-time.Millisecond), now.Add(-sqlstore.SeenMarkStep)) != 1 {
				t.Fatalf("after the beat at %v: last seen or mark out of place", now)
			}
			moved += countRows(t, db, "SELECT COUNT(*) FROM agents WHERE id = ? AND seen_mark > ?", ann.ID, now.Add(-time.Millisecond))
		}
		if want := int(beats * beat / (sqlstore.SeenMarkStep + beat)); moved < want-1 || moved > want+1 {
			t.Errorf("the mark moved %d times in %d beats %v apart, want about %d", moved, beats, beat, want)
		}
		for _, ttl := range []time.Duration{testTTL, 5 * time.Second} {
			if n, err := presence.SweepPresence(context.Background(), ttl, 100); err != nil || n != 0 {
				t.Fatalf("TTL %v: swept %d (%v), want none", ttl, n, err)
			}
		}
		clock.Advance(6 * time.Second)
		if n, err := presence.SweepPresence(context.Background(), 5*time.Second, 100); err != nil || n != 1 {
			t.Fatalf("swept %d (%v) after 6 s of silence, want 1", n, err)
		}
	})
}

// TestSweepPresence_Concurrent: instances sweeping the same stale agents at
// once take each offline once: one event, one history row.
func TestSweepPresence_Concurrent(t *testing.T) {
	for _, engine := range sqlstoretest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			url := sqlstoretest.URL(t, engine)
			var instances []*sqlstore.DB
			for range 2 {
				db, err := sqlstore.Open(t.Context(), url, sqlstoretest.FastHasher{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				instances = append(instances, db)
			}
			db := instances[0]
			if _, err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			clocks := []*fakeClock{newClock(instances[0]), newClock(instances[1])}
			f := newRoutingFixture(t, db)
			for _, in := range instances {
				in.Selector = routing.Engine{}
			}
			q := f.MustQueue(t, switchboard.NewQueue{Name: "Calls", OfferTimeout: time.Hour})
			const agents = 12
			for i := range agents {
				f.MustAgent(t, fmt.Sprintf("Agent %02d", i), 1, nil)
			}
			for i := range agents / 2 {
				f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: fmt.Sprintf("Task %d", i)})
			}
			for _, c := range clocks {
				c.Advance(testTTL + time.Second)
			}
			var wg sync.WaitGroup
			swept := make([]int, 4)
			for i := range swept {
				wg.Go(func() {
					n, err := sqlstore.NewPresenceService(instances[i%2]).SweepPresence(context.Background(), testTTL, 100)
					if err != nil {
						t.Error(err)
					}
					swept[i] = n
				})
			}
			wg.Wait()
			if total := swept[0] + swept[1] + swept[2] + swept[3]; total != agents {
				t.Errorf("swept %v, %d in all, want %d", swept, total, agents)
			}
			if n := countRows(t, db, "SELECT COUNT(*) FROM events WHERE type = ? AND actor_type = 'system'", switchboard.EventAgentPresenceChanged); n != agents {
				t.Errorf("%d presence events of sweeps, want %d", n, agents)
			}
			if n := countRows(t, db, "SELECT COUNT(*) FROM agent_presence WHERE presence = ?", switchboard.PresenceOffline); n != agents {
				t.Errorf("%d offline history rows, want %d", n, agents)
			}
			if n := countRows(t, db, "SELECT COUNT(*) FROM agents WHERE presence <> ? OR workload <> 0", switchboard.PresenceOffline); n != 0 {
				t.Errorf("%d agents still present or loaded", n)
			}
			if n := countRows(t, db, "SELECT COUNT(*) FROM tasks WHERE status <> ?", switchboard.TaskQueued); n != 0 {
				t.Errorf("%d tasks not back in the queue with every agent offline", n)
			}
		})
	}
}

// TestPresenceTimeline: changes become periods that follow each other,
// clipped to the window; before its first change an agent was offline.
func TestPresenceTimeline(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		f := newRoutingFixture(t, db)
		presence := sqlstore.NewPresenceService(db)
		start := clock.Now()
		clock.Advance(time.Hour)
		ann, annCtx := f.MustAgent(t, "Ann", 1, nil) // available at +1h
		clock.Advance(time.Hour)
		if _, err := presence.SetPresence(annCtx, switchboard.PresenceAway); err != nil {
			t.Fatal(err)
		}
		clock.Advance(30 * time.Minute)
		if n, err := presence.SweepPresence(context.Background(), testTTL, 10); err != nil || n != 1 {
			t.Fatalf("swept %d (%v)", n, err)
		}
		clock.Advance(30 * time.Minute)

		periods, err := presence.PresenceTimeline(f.admin, ann.ID, start)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range periods {
			got = append(got, fmt.Sprintf("%s %s-%s %s", p.Presence, p.From.Sub(start), p.To.Sub(start), p.Reason))
		}
		want := []string{"offline 1h0m0s-1h0m0s created", "available 1h0m0s-2h0m0s set by the agent",
			"away 2h0m0s-2h30m0s set by the agent", "offline 2h30m0s-3h0m0s heartbeat timeout"}
		// Ann was created and made available in the same instant: no offline
		// period of no length.
		want = want[1:]
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("timeline\n%v\nwant\n%v", got, want)
		}
		if !periods[len(periods)-1].Current {
			t.Error("the last period is not the current one")
		}

		// A window starting inside a period clips it.
		periods, err = presence.PresenceTimeline(f.admin, ann.ID, start.Add(90*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if len(periods) != 3 || periods[0].Presence != switchboard.PresenceAvailable || !periods[0].From.Equal(start.Add(90*time.Minute)) {
			t.Errorf("clipped timeline = %+v", periods)
		}

		// Ann sees her own; another agent sees no such agent.
		if _, err := presence.PresenceTimeline(annCtx, ann.ID, start); err != nil {
			t.Errorf("own timeline: %v", err)
		}
		_, bobCtx := f.MustAgent(t, "Bob", 1, nil)
		_, err = presence.PresenceTimeline(bobCtx, ann.ID, start)
		wantCode(t, err, switchboard.ENOTFOUND)
	})
}

// TestPrunePresence keeps each agent's latest change before the cutoff.
func TestPrunePresence(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		f := newRoutingFixture(t, db)
		presence := sqlstore.NewPresenceService(db)
		ann, annCtx := f.MustAgent(t, "Ann", 1, nil)
		for _, p := range []switchboard.Presence{switchboard.PresenceAway, switchboard.PresenceAvailable} {
			clock.Advance(time.Hour)
			if _, err := presence.SetPresence(annCtx, p); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(time.Hour)
		n, err := presence.PrunePresence(context.Background(), clock.Now(), 100)
		if err != nil || n != 2 {
			t.Fatalf("pruned %d (%v), want 2", n, err)
		}
		periods, err := presence.PresenceTimeline(f.admin, ann.ID, clock.Now().Add(-30*time.Minute))
		if err != nil || len(periods) != 1 || periods[0].Presence != switchboard.PresenceAvailable {
			t.Fatalf("after pruning: %+v (%v), want available", periods, err)
		}
	})
}
