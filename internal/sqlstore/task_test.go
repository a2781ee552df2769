package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/routing"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// routingFixture is a database with an admin, a team and a few machine
// agents, each able to act as itself.
type routingFixture struct {
	db     *sqlstore.DB
	admin  context.Context
	team   *switchboard.Team
	tasks  *sqlstore.TaskService
	queues *sqlstore.QueueService
}

func newRoutingFixture(t *testing.T, db *sqlstore.DB) *routingFixture {
	t.Helper()
	admin := asUser(MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin))
	team, err := sqlstore.NewTeamService(db).CreateTeam(admin, switchboard.NewTeam{Name: "Ops"})
	if err != nil {
		t.Fatal(err)
	}
	return &routingFixture{db: db, admin: admin, team: team, tasks: sqlstore.NewTaskService(db), queues: sqlstore.NewQueueService(db)}
}

// MustAgent creates an active machine agent in the team and makes it
// available; it returns the context the agent acts in.
func (f *routingFixture) MustAgent(t *testing.T, name string, capacity int, skills map[string]int) (*switchboard.Agent, context.Context) {
	t.Helper()
	a := f.mustCreateAgent(t, name, capacity, skills, f.team.ID)
	ctx := switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{Agent: a})
	if _, err := sqlstore.NewPresenceService(f.db).SetPresence(ctx, switchboard.PresenceAvailable); err != nil {
		t.Fatal(err)
	}
	return a, ctx
}

// mustCreateAgent creates an active machine agent in teams, offline.
func (f *routingFixture) mustCreateAgent(t *testing.T, name string, capacity int, skills map[string]int, teams ...string) *switchboard.Agent {
	t.Helper()
	a, _, err := sqlstore.NewAgentService(f.db).CreateAgent(f.admin, switchboard.NewAgent{Name: name, Kind: "machine",
		Capacity: capacity, Skills: skills, TeamIDs: teams})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *routingFixture) MustQueue(t *testing.T, nq switchboard.NewQueue) *switchboard.Queue {
	t.Helper()
	q, err := f.queues.CreateQueue(f.admin, nq)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func (f *routingFixture) MustTask(t *testing.T, nt switchboard.NewTask) *switchboard.Task {
	t.Helper()
	task, _, err := f.tasks.CreateTask(f.admin, nt)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func TestTasks_RoutedOnCreation(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Direct", TeamIDs: []string{f.team.ID}, RequiredSkills: map[string]int{"linux": 2}})
		ann, _ := f.MustAgent(t, "Ann", 1, map[string]int{"linux": 5})
		bob, _ := f.MustAgent(t, "Bob", 1, map[string]int{"linux": 3})
		f.MustAgent(t, "Cid", 1, map[string]int{"linux": 1}) // lacks the level

		first := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "First"})
		second := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Second"})
		third := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Third"})
		if first.Status != switchboard.TaskAssigned || second.Status != switchboard.TaskAssigned || third.Status != switchboard.TaskQueued {
			t.Fatalf("statuses %s %s %s, want assigned assigned queued", first.Status, second.Status, third.Status)
		}
		if got := map[string]bool{first.AgentID: true, second.AgentID: true}; !got[ann.ID] || !got[bob.ID] {
			t.Errorf("first two went to %s and %s, want Ann and Bob", first.AgentName, second.AgentName)
		}
		if first.History != nil {
			t.Errorf("the answer to a creation has history %+v; only the detail has it", first.History)
		}
		detail, err := sqlstore.NewTaskService(db).FindTaskByID(f.admin, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if h := detail.History; len(h) != 2 || h[0].To != switchboard.TaskQueued || h[1].From != switchboard.TaskQueued ||
			h[1].To != switchboard.TaskAssigned || h[1].AgentID != first.AgentID {
			t.Errorf("history = %+v", h)
		}
	})
}

func TestTasks_OfferedWithTimeout(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Offers", OfferTimeout: 5 * time.Second})
		ann, annCtx := f.MustAgent(t, "Ann", 1, nil)
		// Written with its offer in one statement on PostgreSQL: what
		// looks like a placeholder in a value stays as it is.
		title := "Call back? Quote $1 and '?'"
		task := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: title})
		if task.Status != switchboard.TaskOffered || task.AgentID != ann.ID || task.Offers != 1 || task.OfferedAt == nil || task.Offer == nil {
			t.Errorf("task = %+v, want offered to Ann", task)
		}
		stored, err := f.tasks.FindTaskByID(f.admin, task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Title != title || stored.Status != switchboard.TaskOffered || stored.AgentID != ann.ID || stored.Version != task.Version {
			t.Errorf("stored = %+v, want %q offered to Ann at version %d", stored, title, task.Version)
		}
		offers, err := sqlstore.NewOfferService(db).FindMyOffers(annCtx)
		if err != nil || len(offers) != 1 || offers[0].ID != task.Offer.ID || offers[0].TaskTitle != title {
			t.Errorf("Ann's offers = %+v, %v; want the one of %q", offers, err, title)
		}
	})
}

func TestTasks_AgentBecomingAvailableTakesTheMostUrgent(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Q"})
		low := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Low", Priority: 10})
		urgent := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Urgent", Priority: 90})
		older := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Also urgent, newer", Priority: 90})
		_ = older
		ann, _ := f.MustAgent(t, "Ann", 2, nil)
		for _, want := range []struct {
			id     string
			status switchboard.TaskStatus
		}{{urgent.ID, switchboard.TaskAssigned}, {older.ID, switchboard.TaskAssigned}, {low.ID, switchboard.TaskQueued}} {
			got, err := f.tasks.FindTaskByID(f.admin, want.id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != want.status || (want.status == switchboard.TaskAssigned && got.AgentID != ann.ID) {
				t.Errorf("%s: %s to %q, want %s", got.Title, got.Status, got.AgentName, want.status)
			}
		}
	})
}

func TestTasks_Idempotency(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Q"})
		nt := switchboard.NewTask{QueueID: q.ID, Title: "Once", IdempotencyKey: "key-1", ExternalRef: "T-1"}
		first, created, err := f.tasks.CreateTask(f.admin, nt)
		if err != nil || !created {
			t.Fatalf("first: %v, created %v", err, created)
		}
		again, created, err := f.tasks.CreateTask(f.admin, nt)
		if err != nil || created || again.ID != first.ID {
			t.Fatalf("retry: %v, created %v, id %s; want the first task", err, created, again.ID)
		}
		other := nt
		other.Title = "Something else"
		_, _, err = f.tasks.CreateTask(f.admin, other)
		wantCode(t, err, switchboard.ECONFLICT)
		_, _, err = f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: "Same ref", ExternalRef: "T-1"})
		wantCode(t, err, switchboard.ECONFLICT)
		if fields := switchboard.ErrorFields(err); len(fields) != 1 || fields[0].Field != "external_ref" {
			t.Errorf("external ref conflict fields = %v", fields)
		}

		// Concurrent retries with one key make one task.
		var wg sync.WaitGroup
		ids := make(chan string, 8)
		for range 8 {
			wg.Go(func() {
				task, _, err := f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: "Raced", IdempotencyKey: "key-2"})
				if err != nil {
					t.Error(err)
					return
				}
				ids <- task.ID
			})
		}
		wg.Wait()
		close(ids)
		seen := map[string]bool{}
		for id := range ids {
			seen[id] = true
		}
		if len(seen) != 1 {
			t.Errorf("8 concurrent creations with one key made %d tasks", len(seen))
		}
	})
}

// TestTasks_NeverAboveCapacity: many tasks created at once on few agents:
// each agent gets exactly its capacity, and each task at most one agent.
func TestTasks_NeverAboveCapacity(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Busy", Strategy: switchboard.LeastLoaded})
		agents := map[string]int{}
		for i := range 3 {
			a, _ := f.MustAgent(t, fmt.Sprintf("Agent %d", i), 2, nil)
			agents[a.ID] = 0
		}
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				if _, _, err := f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: fmt.Sprintf("Task %d", i)}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		page, err := f.tasks.FindTasks(f.admin, switchboard.TaskFilter{QueueID: q.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		assigned, queued := 0, 0
		for _, task := range page.Items {
			switch task.Status {
			case switchboard.TaskAssigned:
				assigned++
				agents[task.AgentID]++
			case switchboard.TaskQueued:
				queued++
			}
		}
		if assigned != 6 || queued != 6 {
			t.Errorf("%d assigned, %d queued; want 6 and 6", assigned, queued)
		}
		for id, n := range agents {
			if n != 2 {
				t.Errorf("agent %s has %d tasks, want its capacity 2", id, n)
			}
		}
	})
}

func TestTasks_Scope(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		other, err := sqlstore.NewTeamService(db).CreateTeam(f.admin, switchboard.NewTeam{Name: "Other"})
		if err != nil {
			t.Fatal(err)
		}
		sup := MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
		if _, err := sqlstore.NewTeamService(db).UpdateTeam(f.admin, other.ID, switchboard.TeamUpdate{SupervisorIDs: &[]string{sup.ID}}); err != nil {
			t.Fatal(err)
		}
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Ops only", TeamIDs: []string{f.team.ID}})
		ann, annCtx := f.MustAgent(t, "Ann", 1, nil)
		_, bobCtx := f.MustAgent(t, "Bob", 1, nil)
		task := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Hers"})

		mine, err := f.tasks.FindTaskByID(map[bool]context.Context{true: annCtx, false: bobCtx}[task.AgentID == ann.ID], task.ID)
		if err != nil || mine.ID != task.ID {
			t.Errorf("the assigned agent reads its task: %v", err)
		}
		_, err = f.tasks.FindTaskByID(map[bool]context.Context{true: bobCtx, false: annCtx}[task.AgentID == ann.ID], task.ID)
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = f.tasks.FindTaskByID(asUser(sup), task.ID)
		wantCode(t, err, switchboard.ENOTFOUND)
		_, _, err = f.tasks.CreateTask(asUser(sup), switchboard.NewTask{QueueID: q.ID, Title: "Not my queue"})
		wantCode(t, err, switchboard.ENOTFOUND)
		_, _, err = f.tasks.CreateTask(annCtx, switchboard.NewTask{QueueID: q.ID, Title: "Agents do not create tasks"})
		wantCode(t, err, switchboard.EFORBIDDEN)
		_, _, err = f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: "", Priority: 101})
		wantCode(t, err, switchboard.EINVALID)
		if n := len(switchboard.ErrorFields(err)); n != 2 {
			t.Errorf("invalid task: %d field errors, want 2", n)
		}
	})
}

// Routing reads the agents who may take work from the index that holds
// only them, in the strategy's order, instead of sorting every agent the
// queue reaches. SQLite's planner is deterministic, so its plan is checked;
// the server engines choose by their statistics.
func TestTasks_RoutingReadsTheReadyIndex(t *testing.T) {
	db := sqlstoretest.Open(t, sqlstore.SQLite)
	f := newRoutingFixture(t, db)
	q := f.MustQueue(t, switchboard.NewQueue{Name: "All"})
	for i := range 3 {
		f.MustAgent(t, fmt.Sprintf("Agent %d", i), 1, nil)
	}
	candidates, plan := candidatesPlan(t, db, f, q)
	if !strings.Contains(plan, "agents_ready_idx") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("candidates are not read in the order of agents_ready_idx:\n%s\n%s", candidates, plan)
	}
}

// candidatesPlan creates a task of q on SQLite and returns the query that
// read its candidates, with SQLite's plan of it.
func candidatesPlan(t *testing.T, db *sqlstore.DB, f *routingFixture, q *switchboard.Queue) (query, plan string) {
	t.Helper()
	queries := db.RecordQueries(func() { f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Route me"}) })
	for _, recorded := range queries {
		if strings.Contains(recorded, "a.last_assigned_at") && strings.HasPrefix(recorded, "SELECT a.id, a.name") {
			query = recorded
		}
	}
	if query == "" {
		t.Fatalf("no query for candidates among %q", queries)
	}
	return query, sqlitePlan(t, db, query)
}

// sqlitePlan is SQLite's plan of a query, a line for each step.
func sqlitePlan(t *testing.T, db *sqlstore.DB, query string) string {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	return b.String()
}

// Migration 24 moves the transitions that task_history kept from before
// migration 23 into the audit log: a transition's reason goes to its audit
// entry, a transition without one gets one, and a task's history, read
// from the audit log alone, is what it was.
func TestMigrate_TaskHistoryJoinsTheAuditLog(t *testing.T) {
	for _, engine := range sqlstoretest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openMigratedTo(t, engine, 23)
			db.Selector = routing.Engine{}
			f := newRoutingFixture(t, db)
			// No teams and no routing: both write columns of a later
			// migration (25), the memberships' last assignments.
			q := f.MustQueue(t, switchboard.NewQueue{Name: "Direct"})
			task := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Old"})
			ann, _, err := sqlstore.NewAgentService(db).CreateAgent(f.admin, switchboard.NewAgent{Name: "Ann", Kind: "machine", Capacity: 1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.tasks.CancelTask(f.admin, task.ID, "not needed"); err != nil {
				t.Fatal(err)
			}

			// As the version before 23 left it: the creation's audit entry
			// without its reason, which task_history kept; and an offer
			// made in between that only task_history kept.
			if err := db.Exec(ctx, "UPDATE audit_entries SET reason = '' WHERE target_id = ? AND action = 'task.created'", task.ID); err != nil {
				t.Fatal(err)
			}
			if err := db.Exec(ctx, "INSERT INTO task_history (id, task_id, at, actor_type, actor_id, actor_name, from_status, to_status, agent_id, reason) "+
				"SELECT 'h1', target_id, at, 'user', 'u', 'Admin', '', 'queued', NULL, 'imported' FROM audit_entries "+
				"WHERE target_id = ? AND action = 'task.created'", task.ID); err != nil {
				t.Fatal(err)
			}
			var created, cancelled time.Time
			if err := db.QueryRow(ctx, "SELECT at FROM audit_entries WHERE target_id = ? AND action = 'task.created'", task.ID).Scan(&created); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(ctx, "SELECT at FROM audit_entries WHERE target_id = ? AND action = 'task.cancelled'", task.ID).Scan(&cancelled); err != nil {
				t.Fatal(err)
			}
			offered := created.Add(cancelled.Sub(created) / 2).Truncate(time.Microsecond) // in between, as every engine stores it
			if !offered.After(created) {
				t.Fatalf("the cancellation at %s is not after the creation at %s", cancelled, created)
			}
			if err := db.Exec(ctx, "INSERT INTO task_history (id, task_id, at, actor_type, actor_id, actor_name, from_status, to_status, agent_id, reason) "+
				"VALUES ('h2', ?, ?, 'user', 'u', 'Admin', 'queued', 'offered', ?, 'offered by hand')", task.ID, offered, ann.ID); err != nil {
				t.Fatal(err)
			}

			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			detail, err := f.tasks.FindTaskByID(f.admin, task.ID)
			if err != nil {
				t.Fatal(err)
			}
			h := detail.History
			if len(h) != 3 {
				t.Fatalf("history = %+v, want the creation, the offer and the cancellation", h)
			}
			if h[0].From != "" || h[0].To != switchboard.TaskQueued || h[0].Reason != "imported" {
				t.Errorf("creation = %+v, want its audit entry with the reason task_history kept", h[0])
			}
			if h[1].From != switchboard.TaskQueued || h[1].To != switchboard.TaskOffered || h[1].AgentID != ann.ID ||
				h[1].Reason != "offered by hand" || h[1].Actor.Name != "Admin" || !h[1].At.Equal(offered) {
				t.Errorf("offer = %+v, want the transition only task_history kept", h[1])
			}
			if h[2].From != switchboard.TaskQueued || h[2].To != switchboard.TaskCancelled || h[2].Reason != "not needed" {
				t.Errorf("cancellation = %+v, want it with its reason", h[2])
			}
			p, err := sqlstore.NewAuditService(db).FindAuditEntries(f.admin, switchboard.AuditFilter{TargetID: task.ID, Action: switchboard.AuditTaskOffered})
			if err != nil || len(p.Items) != 1 || p.Items[0].ID != "h2" || p.Items[0].TargetName != "Old" {
				t.Errorf("the offer's audit entry: %+v, %v", p.Items, err)
			}
			if err := db.Exec(ctx, "SELECT count(*) FROM task_history"); err == nil {
				t.Error("task_history is still there")
			}
		})
	}
}
