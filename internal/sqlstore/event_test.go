package sqlstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// allEvents reads the whole event log, in order.
func allEvents(tb testing.TB, db *sqlstore.DB) []*switchboard.Event {
	tb.Helper()
	var out []*switchboard.Event
	var after int64
	for {
		page, err := db.EventsAfter(context.Background(), after, 500)
		if err != nil {
			tb.Fatalf("EventsAfter(%d): %v", after, err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Position
	}
}

func positions(events []*switchboard.Event) []int64 {
	p := make([]int64, len(events))
	for i, e := range events {
		p[i] = e.Position
	}
	return p
}

// TestEvents_RecordedWithTheChange: a change's events are written in its
// transaction, with its actor, request and subject, and the audit log
// holds their projection; a change that fails leaves no event.
func TestEvents_RecordedWithTheChange(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		admin := MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin)
		ctx := switchboard.NewContextWithRequestInfo(asUser(admin), switchboard.RequestInfo{ID: "req-7", IP: "203.0.113.9"})
		teams := sqlstore.NewTeamService(db)
		team, err := teams.CreateTeam(ctx, switchboard.NewTeam{Name: "Ops"})
		if err != nil {
			t.Fatal(err)
		}
		before := allEvents(t, db)
		if _, err := teams.CreateTeam(ctx, switchboard.NewTeam{Name: "ops"}); switchboard.ErrorCode(err) != switchboard.ECONFLICT {
			t.Fatalf("duplicate team: %v, want a conflict", err)
		}
		agent, _, err := sqlstore.NewAgentService(db).CreateAgent(ctx, switchboard.NewAgent{Name: "Bot", Kind: "machine", TeamIDs: []string{team.ID}})
		if err != nil {
			t.Fatal(err)
		}
		after := allEvents(t, db)
		if len(after) != len(before)+1 {
			t.Fatalf("events after a failed and a good change: %d new, want 1", len(after)-len(before))
		}
		e := after[len(after)-1]
		if e.Type != switchboard.AuditAgentCreated || e.Subject.ID != agent.ID || e.AgentID != agent.ID ||
			!slices.Equal(e.TeamIDs, []string{team.ID}) || e.Actor.ID != admin.ID || e.RequestID != "req-7" {
			t.Errorf("event = %+v, want agent.created of %s in team %s by %s in req-7", e, agent.ID, team.ID, admin.ID)
		}
		if e.After["name"] != "Bot" {
			t.Errorf("event after = %v, want the agent's summary", e.After)
		}
		if p := positions(after); !slices.IsSorted(p) || p[len(p)-1] != int64(len(p)) {
			t.Errorf("positions = %v, want 1..%d without gaps", p, len(p))
		}
		entries, err := sqlstore.NewAuditService(db).FindAuditEntries(ctx, switchboard.AuditFilter{TargetID: agent.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries.Items) != 1 || entries.Items[0].ID != e.ID || entries.Items[0].IP != "203.0.113.9" {
			t.Errorf("audit entries for the agent = %+v, want the event's projection with the client address", entries.Items)
		}
		last, err := db.LastEventPosition(context.Background())
		if err != nil || last != e.Position {
			t.Errorf("LastEventPosition = %d, %v; want %d", last, err, e.Position)
		}
	})
}

// TestEvents_OutOfOrderCommit: a change that took its position first but
// commits late is still read by a reader that has already moved on: the
// second writer waits for the first, so positions commit in order.
func TestEvents_OutOfOrderCommit(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := systemCtx()
		teams := sqlstore.NewTeamService(db)
		start, err := db.LastEventPosition(ctx)
		if err != nil {
			t.Fatal(err)
		}

		positioned, release := make(chan int64), make(chan struct{})
		var held atomic.Bool
		db.SetBeforeCommit(func(events []*switchboard.Event) {
			if held.CompareAndSwap(false, true) {
				positioned <- events[0].Position
				<-release
			}
		})
		errs := make(chan error, 2)
		go func() {
			_, err := teams.CreateTeam(ctx, switchboard.NewTeam{Name: "First"})
			errs <- err
		}()
		var first int64
		select {
		case first = <-positioned:
		case err := <-errs:
			t.Fatalf("first writer: %v", err)
		}

		// A second writer, while the first holds its position uncommitted.
		secondDone := make(chan struct{})
		go func() {
			_, err := teams.CreateTeam(ctx, switchboard.NewTeam{Name: "Second"})
			errs <- err
			close(secondDone)
		}()
		// A reader polls all the while, moving its cursor past what it sees.
		var seen []*switchboard.Event
		cursor := start
		poll := func() {
			page, err := db.EventsAfter(context.Background(), cursor, 100)
			if err != nil {
				t.Error(err)
				return
			}
			for _, e := range page {
				seen = append(seen, e)
				cursor = e.Position
			}
		}
		for range 20 {
			poll()
			time.Sleep(10 * time.Millisecond) // give the second writer every chance to commit first
		}
		select {
		case <-secondDone:
			t.Fatal("the second writer committed while the first held an earlier position")
		default:
		}
		if len(seen) != 0 {
			t.Fatalf("reader saw %v before either change committed", positions(seen))
		}
		close(release)
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		poll()
		if got := positions(seen); !slices.Equal(got, []int64{first, first + 1}) {
			t.Fatalf("reader saw positions %v, want [%d %d]", got, first, first+1)
		}
		if seen[0].Subject.Name != "First" || seen[1].Subject.Name != "Second" {
			t.Errorf("reader saw %s then %s, want First then Second", seen[0].Subject.Name, seen[1].Subject.Name)
		}
	})
}

// TestEvents_ConcurrentWritersNoGaps: with many writers at once, a reader
// that follows the log sees every event exactly once, in order.
func TestEvents_ConcurrentWritersNoGaps(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := systemCtx()
		teams := sqlstore.NewTeamService(db)
		start, err := db.LastEventPosition(ctx)
		if err != nil {
			t.Fatal(err)
		}
		const writers, each = 6, 15
		var wg sync.WaitGroup
		done := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if _, err := teams.CreateTeam(ctx, switchboard.NewTeam{Name: fmt.Sprintf("team %d-%d", w, i)}); err != nil {
						t.Error(err)
					}
				}
			})
		}
		go func() { wg.Wait(); close(done) }()
		var seen []*switchboard.Event
		cursor := start
		for finished := false; !finished; {
			select {
			case <-done:
				finished = true
			default:
			}
			page, err := db.EventsAfter(context.Background(), cursor, 50)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				seen = append(seen, e)
				cursor = e.Position
			}
		}
		for {
			page, err := db.EventsAfter(context.Background(), cursor, 50)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				seen = append(seen, e)
				cursor = e.Position
			}
		}
		if len(seen) != writers*each {
			t.Fatalf("reader saw %d events, want %d", len(seen), writers*each)
		}
		for i, e := range seen {
			if e.Position != start+int64(i)+1 {
				t.Fatalf("event %d has position %d, want %d: the reader skipped or repeated one", i, e.Position, start+int64(i)+1)
			}
		}
	})
}

// TestEvents_VisibleToWhom: a page holds what the caller may see, and its
// next position moves past what they may not.
func TestEvents_VisibleToWhom(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		admin := MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin)
		supA := MustCreateUser(t, db, "a@example.com", switchboard.RoleSupervisor)
		supB := MustCreateUser(t, db, "b@example.com", switchboard.RoleSupervisor)
		ctx := asUser(admin)
		teams := sqlstore.NewTeamService(db)
		teamA, err := teams.CreateTeam(ctx, switchboard.NewTeam{Name: "A", SupervisorIDs: []string{supA.ID}})
		if err != nil {
			t.Fatal(err)
		}
		teamB, err := teams.CreateTeam(ctx, switchboard.NewTeam{Name: "B", SupervisorIDs: []string{supB.ID}})
		if err != nil {
			t.Fatal(err)
		}
		agents := sqlstore.NewAgentService(db)
		botA, _, err := agents.CreateAgent(ctx, switchboard.NewAgent{Name: "Bot A", Kind: "machine", TeamIDs: []string{teamA.ID}})
		if err != nil {
			t.Fatal(err)
		}
		botB, _, err := agents.CreateAgent(ctx, switchboard.NewAgent{Name: "Bot B", Kind: "machine", TeamIDs: []string{teamB.ID}})
		if err != nil {
			t.Fatal(err)
		}
		events := sqlstore.NewEventService(db)
		subjects := func(ctx context.Context, f switchboard.EventFilter) ([]string, int64) {
			t.Helper()
			page, err := events.FindEvents(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range page.Items {
				names = append(names, e.Type+" "+e.Subject.Name)
			}
			return names, page.Next
		}
		last, _ := db.LastEventPosition(ctx)

		got, next := subjects(asUser(supA), switchboard.EventFilter{})
		want := []string{"team.created A", "agent.created Bot A"}
		if !slices.Equal(got, want) || next != last {
			t.Errorf("supervisor A sees %q up to %d, want %q up to %d", got, next, want, last)
		}
		got, _ = subjects(asUser(supB), switchboard.EventFilter{Types: []string{"agent."}})
		if want := []string{"agent.created Bot B"}; !slices.Equal(got, want) {
			t.Errorf("supervisor B sees %q of agent.*, want %q", got, want)
		}
		machine := switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{Agent: botA})
		got, _ = subjects(machine, switchboard.EventFilter{})
		if want := []string{"agent.created Bot A"}; !slices.Equal(got, want) {
			t.Errorf("agent A sees %q, want %q", got, want)
		}
		all, _ := subjects(ctx, switchboard.EventFilter{Limit: 2})
		if len(all) != 2 {
			t.Errorf("admin page of 2 holds %d", len(all))
		}
		_ = botB

		if _, err := events.FindEvents(ctx, switchboard.EventFilter{Types: []string{"agent.created'--"}}); switchboard.ErrorCode(err) != switchboard.EINVALID {
			t.Errorf("bad type filter: %v, want invalid", err)
		}
		if _, err := events.FindEvents(context.Background(), switchboard.EventFilter{}); switchboard.ErrorCode(err) != switchboard.EUNAUTHORIZED {
			t.Errorf("anonymous: %v, want unauthorized", err)
		}
	})
}

// TestEvents_Prune: old events go in batches; the audit log stays whole.
func TestEvents_Prune(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		ctx := systemCtx()
		teams := sqlstore.NewTeamService(db)
		for i := range 5 {
			if _, err := teams.CreateTeam(ctx, switchboard.NewTeam{Name: fmt.Sprintf("old %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(48 * time.Hour)
		if _, err := teams.CreateTeam(ctx, switchboard.NewTeam{Name: "new"}); err != nil {
			t.Fatal(err)
		}
		cutoff := clock.Now().Add(-24 * time.Hour)
		var total int
		for {
			n, err := db.PruneEvents(ctx, cutoff, 2)
			if err != nil {
				t.Fatal(err)
			}
			total += n
			if n < 2 {
				break
			}
		}
		if total != 5 {
			t.Errorf("pruned %d events, want 5", total)
		}
		left := allEvents(t, db)
		if len(left) != 1 || left[0].Subject.Name != "new" {
			t.Errorf("left %d events, want the new team's only", len(left))
		}
		entries, err := sqlstore.NewAuditService(db).FindAuditEntries(ctx, switchboard.AuditFilter{Action: "team.created"})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries.Items) != 6 {
			t.Errorf("audit log holds %d team.created entries after pruning, want 6", len(entries.Items))
		}
	})
}
