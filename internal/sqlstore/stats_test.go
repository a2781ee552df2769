package sqlstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/routing"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// statsFixture is a day's work in two queues of two teams: Ops, whose
// queue Support has tasks in every state, and Field, supervised by sup,
// with one task.
type statsFixture struct {
	*routingFixture
	clock   *fakeClock
	stats   *sqlstore.StatsService
	sup     context.Context
	support *switchboard.Queue
	field   *switchboard.Queue
	queued  *switchboard.Task // waits since 09:04
}

func newStatsFixture(t *testing.T, db *sqlstore.DB) *statsFixture {
	t.Helper()
	clock := newClock(db) // 2026-03-01 09:00 UTC
	f := &statsFixture{routingFixture: newRoutingFixture(t, db), clock: clock, stats: sqlstore.NewStatsService(db)}
	supUser := MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
	f.sup = asUser(supUser)
	fieldTeam := MustCreateTeam(t, db, "Field", supUser)
	f.support = f.MustQueue(t, switchboard.NewQueue{Name: "Support", TeamIDs: []string{f.team.ID}, SLATarget: time.Minute})
	f.field = f.MustQueue(t, switchboard.NewQueue{Name: "Field work", TeamIDs: []string{fieldTeam.ID}})

	_, annCtx := f.MustAgent(t, "Ann", 1, nil)
	f.MustAgent(t, "Bob", 2, nil)
	_, cidCtx := f.MustAgent(t, "Cid", 1, nil)
	if _, err := sqlstore.NewPresenceService(db).SetPresence(cidCtx, switchboard.PresenceAway); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sqlstore.NewAgentService(db).CreateAgent(f.admin, switchboard.NewAgent{Name: "Newcomer", Kind: "machine",
		Status: switchboard.AgentPending, TeamIDs: []string{f.team.ID}}); err != nil {
		t.Fatal(err)
	}
	MustCreateMachine(t, db, "Dan", nil, fieldTeam) // active, offline

	// 09:00: three tasks fill Ann and Bob, a fourth waits.
	var first *switchboard.Task
	for i, title := range []string{"One", "Two", "Three", "Four"} {
		task := f.MustTask(t, switchboard.NewTask{QueueID: f.support.ID, Title: title})
		if i < 3 && task.Status != switchboard.TaskAssigned {
			t.Fatalf("%s is %s, want assigned", title, task.Status)
		}
		if task.Status == switchboard.TaskAssigned && first == nil {
			first = task
		}
	}
	// 09:02: Ann or Bob finishes the first; the fourth goes to them
	// after a wait of two minutes.
	clock.Advance(2 * time.Minute)
	if _, err := f.tasks.CompleteTask(f.admin, first.ID, "done"); err != nil {
		t.Fatal(err)
	}
	_ = annCtx
	// 09:03: one is cancelled while it waits; 09:04: one waits past the
	// SLA target of a minute, which the timeout pass records at 09:06.
	clock.Advance(time.Minute)
	cancelled := f.MustTask(t, switchboard.NewTask{QueueID: f.support.ID, Title: "Never mind"})
	if _, err := f.tasks.CancelTask(f.admin, cancelled.ID, "duplicate"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	f.queued = f.MustTask(t, switchboard.NewTask{QueueID: f.support.ID, Title: "Waiting"})
	f.MustTask(t, switchboard.NewTask{QueueID: f.field.ID, Title: "Fence"})
	clock.Advance(2 * time.Minute)
	if _, err := f.tasks.ExpireTasks(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *statsFixture) MustStats(t *testing.T, ctx context.Context, filter switchboard.StatsFilter) *switchboard.Stats {
	t.Helper()
	st, err := f.stats.Stats(ctx, filter)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

func (f *statsFixture) MustRollUp(t *testing.T) int {
	t.Helper()
	n, err := f.stats.RollUpStats(context.Background())
	if err != nil {
		t.Fatalf("RollUpStats: %v", err)
	}
	return n
}

// checkAdminStats compares the admin's dashboard with what the fixture
// did, at 09:06.
func checkAdminStats(t *testing.T, f *statsFixture, st *switchboard.Stats) {
	t.Helper()
	wantAgents := switchboard.AgentStats{Active: 4, Available: 0, Busy: 2, Away: 1, Offline: 1, Pending: 1}
	if st.Agents != wantAgents {
		t.Errorf("agents = %+v, want %+v", st.Agents, wantAgents)
	}
	if len(st.Queues) != 2 || st.Queues[0].QueueName != "Field work" || st.Queues[1].QueueName != "Support" {
		t.Fatalf("queues = %+v, want Field work and Support", st.Queues)
	}
	support := st.Queues[1]
	want := switchboard.QueueStats{QueueID: f.support.ID, QueueName: "Support", SLATarget: time.Minute,
		Queued: 1, Assigned: 3, LongestWait: 2 * time.Minute,
		CreatedToday: 6, AssignedToday: 4, CompletedToday: 1, CancelledToday: 1, SLABreachesToday: 1}
	if support != want {
		t.Errorf("Support = %+v,\nwant %+v", support, want)
	}
	field := st.Queues[0]
	if field.Queued != 1 || field.CreatedToday != 1 || field.LongestWait != 2*time.Minute {
		t.Errorf("Field work = %+v, want 1 queued, created today, waiting 2 min", field)
	}
	if st.Totals.Queued != 2 || st.Totals.Assigned != 3 || st.Totals.CreatedToday != 7 || st.Totals.SLABreachesToday != 1 {
		t.Errorf("totals = %+v", st.Totals)
	}
	// Four assignments since 08:50, over 16 minutes.
	if got, want := st.AssignmentsPerMinute, 4.0/16; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("assignments per minute = %v, want %v (since %s)", got, want, st.AssignmentsSince)
	}
	// Waits: 0, 0, 0 and 2 min; the one task handled took 2 min.
	if st.AverageWait != 30*time.Second || st.AverageHandle != 2*time.Minute {
		t.Errorf("average wait %s, handle %s; want 30s, 2m0s", st.AverageWait, st.AverageHandle)
	}
	u := st.Utilisation
	if u.Load != 3 || u.Capacity != 3 || u.Average != 1 || len(u.Busiest) != 2 {
		t.Errorf("utilisation = %+v, want load 3 of capacity 3, two agents", u)
	}
	if len(st.Series) != switchboard.StatsSeriesLength {
		t.Fatalf("%d points, want %d", len(st.Series), switchboard.StatsSeriesLength)
	}
	now := st.Series[len(st.Series)-1]
	if !now.Start.Equal(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) || now.Created != 7 || now.Assigned != 4 || now.Completed != 1 || now.AgentsPresent != 2 {
		t.Errorf("this hour = %+v, want from 09:00: 7 created, 4 assigned, 1 completed, 2 present", now)
	}
	for _, p := range st.Series[:len(st.Series)-1] {
		if p.Created+p.Assigned+p.Completed != 0 {
			t.Errorf("an earlier hour has counts: %+v", p)
		}
	}
	if len(st.Recent) == 0 || st.Recent[0].Type != switchboard.AuditSLABreached {
		t.Errorf("the newest event is not the SLA breach: %+v", st.Recent)
	}
}

// A paced pass (as serve runs it) over more positions than one of its
// transactions covers counts every event once, those after its pauses
// too.
func TestStats_PacedRollUpAcrossTransactions(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newStatsFixture(t, db)
		f.stats.Pace = true
		err := db.Write(systemCtx(), func(ctx context.Context, tx *sqlstore.Tx) error {
			for range 5001 { // statsChunk and one, none counted
				tx.Record(switchboard.Event{Type: switchboard.AuditTeamUpdated,
					Subject: switchboard.EventSubject{Type: "team", ID: f.team.ID, Name: "Ops"}})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		f.MustTask(t, switchboard.NewTask{QueueID: f.field.ID, Title: "Gate"})
		if n := f.MustRollUp(t); n != 15 {
			t.Errorf("rolled up %d events, want the fixture's 14 and the task's creation", n)
		}
		if n := f.MustRollUp(t); n != 0 {
			t.Errorf("a second pass counted %d events again", n)
		}
		if st := f.MustStats(t, f.admin, switchboard.StatsFilter{QueueID: f.field.ID}); st.Totals.CreatedToday != 2 {
			t.Errorf("Field work created today = %d, want 2", st.Totals.CreatedToday)
		}
	})
}

func TestStats_MatchWhatHappened(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newStatsFixture(t, db)
		t.Run("BeforeRollUp", func(t *testing.T) {
			checkAdminStats(t, f, f.MustStats(t, f.admin, switchboard.StatsFilter{}))
		})
		t.Run("AfterRollUp", func(t *testing.T) {
			if n := f.MustRollUp(t); n != 14 {
				t.Errorf("rolled up %d events, want 14", n)
			}
			if n := f.MustRollUp(t); n != 0 {
				t.Errorf("a second pass counted %d events again", n)
			}
			checkAdminStats(t, f, f.MustStats(t, f.admin, switchboard.StatsFilter{}))
		})
		t.Run("RollUpAndTail", func(t *testing.T) {
			// A new task after the pass: counted from the events.
			f.MustTask(t, switchboard.NewTask{QueueID: f.field.ID, Title: "Gate"})
			st := f.MustStats(t, f.admin, switchboard.StatsFilter{QueueID: f.field.ID})
			if len(st.Queues) != 1 || st.Queues[0].Queued != 2 || st.Queues[0].CreatedToday != 2 || st.Totals.CreatedToday != 2 {
				t.Errorf("Field work = %+v, want 2 queued, 2 created today", st.Queues)
			}
			if st.Series[len(st.Series)-1].Created != 2 {
				t.Errorf("this hour = %+v, want 2 created in the queue", st.Series[len(st.Series)-1])
			}
			if len(st.Recent) != 0 {
				t.Errorf("a queue's figures have recent events %+v", st.Recent)
			}
		})
		t.Run("NextDay", func(t *testing.T) {
			// The next morning, today is empty and yesterday still charted.
			f.clock.Advance(20 * time.Hour)
			f.MustRollUp(t)
			st := f.MustStats(t, f.admin, switchboard.StatsFilter{})
			if st.Totals.CreatedToday != 0 || st.Totals.Queued != 3 {
				t.Errorf("totals = %+v, want nothing today, 3 queued", st.Totals)
			}
			if p := st.Series[3]; !p.Start.Equal(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) || p.Created != 8 {
				t.Errorf("09:00 yesterday = %+v, want 8 created", p)
			}
			if st.AssignmentsPerMinute != 0 || st.AverageWait != 30*time.Second {
				t.Errorf("rate %v, wait %s; want 0 and still 30s over the last day", st.AssignmentsPerMinute, st.AverageWait)
			}
		})
	})
}

// Dashboards viewed again and again while the pass is behind count the
// new events at each view, before the pass and after it moves on.
func TestStats_ViewsWhileThePassIsBehind(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newStatsFixture(t, db)
		fieldCreated := func(want int) {
			t.Helper()
			st := f.MustStats(t, f.admin, switchboard.StatsFilter{})
			if len(st.Queues) != 2 || st.Queues[0].CreatedToday != want || st.Totals.CreatedToday != 6+want {
				t.Errorf("Field work created %+v, totals %d; want %d and %d", st.Queues, st.Totals.CreatedToday, want, 6+want)
			}
		}
		fieldCreated(1)
		f.MustTask(t, switchboard.NewTask{QueueID: f.field.ID, Title: "Gate"})
		fieldCreated(2)
		fieldCreated(2)
		f.MustRollUp(t)
		fieldCreated(2)
		f.MustTask(t, switchboard.NewTask{QueueID: f.field.ID, Title: "Post"})
		fieldCreated(3)
		field := f.MustStats(t, f.admin, switchboard.StatsFilter{QueueID: f.field.ID})
		if field.Queues[0].Queued != 3 {
			t.Errorf("Field work = %+v, want 3 queued", field.Queues[0])
		}
	})
}

func TestStats_SupervisorScope(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newStatsFixture(t, db)
		f.MustRollUp(t)
		st := f.MustStats(t, f.sup, switchboard.StatsFilter{})
		if len(st.Queues) != 1 || st.Queues[0].QueueID != f.field.ID {
			t.Fatalf("the supervisor sees queues %+v, want Field work only", st.Queues)
		}
		if want := (switchboard.AgentStats{Active: 1, Offline: 1}); st.Agents != want {
			t.Errorf("agents = %+v, want %+v (Dan only)", st.Agents, want)
		}
		if st.Totals.CreatedToday != 1 || st.AverageWait != 0 || len(st.Utilisation.Busiest) != 0 {
			t.Errorf("the supervisor sees other teams' figures: %+v", st)
		}
		fence := false
		for _, e := range st.Recent {
			if e.Subject.Type == "task" && e.Subject.Name != "Fence" {
				t.Errorf("the supervisor sees %s about %s", e.Type, e.Subject.Name)
			}
			fence = fence || e.Subject.Name == "Fence"
		}
		if !fence || len(st.Recent) > switchboard.StatsRecent {
			t.Errorf("the supervisor's recent events are %+v, want Fence's among at most %d", st.Recent, switchboard.StatsRecent)
		}
		_, err := f.stats.Stats(f.sup, switchboard.StatsFilter{QueueID: f.support.ID})
		wantCode(t, err, switchboard.ENOTFOUND)
		_, agentCtx := f.MustAgent(t, "Eve", 1, nil)
		_, err = f.stats.Stats(agentCtx, switchboard.StatsFilter{})
		wantCode(t, err, switchboard.EFORBIDDEN)
	})
}

// TestStats_RollUpOnceAcrossInstances runs the pass from two instances on
// one database at once, again and again: every event is counted once.
func TestStats_RollUpOnceAcrossInstances(t *testing.T) {
	for _, engine := range sqlstoretest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			url := sqlstoretest.URL(t, engine)
			open := func() *sqlstore.DB {
				db, err := sqlstore.Open(context.Background(), url, sqlstoretest.FastHasher{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			one, two := open(), open()
			if _, err := one.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			one.Selector = routing.Engine{}
			f := newStatsFixture(t, one)
			two.Now = f.clock.Now
			var counted atomic.Int64
			var wg sync.WaitGroup
			for _, db := range []*sqlstore.DB{one, two, one, two, one, two} {
				wg.Go(func() {
					n, err := sqlstore.NewStatsService(db).RollUpStats(context.Background())
					if err != nil {
						t.Errorf("RollUpStats: %v", err)
					}
					counted.Add(int64(n))
				})
			}
			wg.Wait()
			if n := counted.Load(); n != 14 {
				t.Errorf("the passes counted %d events, want 14", n)
			}
			checkAdminStats(t, f, f.MustStats(t, f.admin, switchboard.StatsFilter{}))
		})
	}
}

// An agent in two of a supervisor's teams is one of their agents: in the
// counts, the utilisation and the chart of agents present alike.
func TestStats_SupervisorCountsAnAgentOnce(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		supUser := MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
		sup := asUser(supUser)
		red, blue := MustCreateTeam(t, db, "Red", supUser), MustCreateTeam(t, db, "Blue", supUser)
		other := MustCreateTeam(t, db, "Other")
		presence := sqlstore.NewPresenceService(db)
		set := func(a *switchboard.Agent, p switchboard.Presence) {
			t.Helper()
			if _, err := presence.SetPresence(switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{Agent: a}), p); err != nil {
				t.Fatal(err)
			}
		}
		set(MustCreateMachine(t, db, "Ann", nil, red), switchboard.PresenceAvailable)
		set(MustCreateMachine(t, db, "Bob", nil, red, blue), switchboard.PresenceAvailable)
		set(MustCreateMachine(t, db, "Cid", nil, blue, other), switchboard.PresenceAway)
		set(MustCreateMachine(t, db, "Dan", nil, other), switchboard.PresenceAvailable)
		stats := sqlstore.NewStatsService(db)
		if _, err := stats.RollUpStats(context.Background()); err != nil {
			t.Fatal(err)
		}
		// An hour later, the chart's 09:00 point comes from the sample.
		clock.Advance(time.Hour)
		st, err := stats.Stats(sup, switchboard.StatsFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if want := (switchboard.AgentStats{Active: 3, Available: 2, Away: 1}); st.Agents != want {
			t.Errorf("agents = %+v, want %+v (Ann, Bob and Cid)", st.Agents, want)
		}
		if st.Utilisation.Capacity != 2 {
			t.Errorf("capacity present = %d, want 2 (Ann's and Bob's)", st.Utilisation.Capacity)
		}
		at9 := st.Series[len(st.Series)-2]
		if !at9.Start.Equal(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) || at9.AgentsPresent != 2 {
			t.Errorf("09:00 = %+v, want 2 agents present (Ann and Bob)", at9)
		}
		if now := st.Series[len(st.Series)-1]; now.AgentsPresent != 2 {
			t.Errorf("this hour = %+v, want 2 agents present", now)
		}
		all, err := stats.Stats(systemCtx(), switchboard.StatsFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if all.Agents.Available != 3 || all.Series[len(all.Series)-2].AgentsPresent != 3 {
			t.Errorf("every agent: %+v, 09:00 %+v; want 3 present", all.Agents, all.Series[len(all.Series)-2])
		}
	})
}
