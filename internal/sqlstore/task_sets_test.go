package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// together runs the calls at once while the committers are held, so that
// they wait and share batches as a busy instance's requests do. It
// returns how many changes batches made in sets meanwhile.
func together(t *testing.T, db *sqlstore.DB, calls []func()) (inSets int64) {
	t.Helper()
	before := db.ChangesMadeInSets()
	defer func() { inSets = db.ChangesMadeInSets() - before }()
	hold := make(chan struct{})
	holding := make(chan struct{}, 1)
	db.SetBeforeCommit(func([]*switchboard.Event) {
		select {
		case holding <- struct{}{}:
		default:
		}
		<-hold
	})
	defer db.SetBeforeCommit(nil)
	// Changes that occupy the committers until the calls are waiting: one
	// at a time, each in a committer of its own. Two arriving at once
	// would share one, and leave the other free to make a call alone; on
	// MySQL that call's reservation locks every candidate it reads, and
	// the set, finding them all held, leaves its changes to be made
	// alone. The first is held before its commit, still holding the
	// event sequence, on which the others then wait.
	var wg sync.WaitGroup
	system := switchboard.NewContextWithActor(context.Background(), switchboard.SystemActor("test"))
	for i := range db.Committers() {
		wg.Go(func() {
			err := db.Write(system, func(ctx context.Context, tx *sqlstore.Tx) error {
				tx.Record(switchboard.Event{Type: switchboard.AuditTeamUpdated, Subject: switchboard.EventSubject{Type: "test", ID: fmt.Sprint(i)}})
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
		if i == 0 {
			<-holding
		} else {
			time.Sleep(50 * time.Millisecond) // taken by a free committer at once
		}
	}
	for _, call := range calls {
		wg.Go(call)
	}
	time.Sleep(200 * time.Millisecond)
	close(hold)
	wg.Wait()
	return
}

// mustAgentsOfOne makes n agents of capacity 1 available, and returns the
// context each acts in, by ID.
func (f *routingFixture) mustAgentsOfOne(t *testing.T, n int) map[string]context.Context {
	t.Helper()
	ctxOf := map[string]context.Context{}
	for i := range n {
		a, ctx := f.MustAgent(t, fmt.Sprintf("Agent %02d", i), 1, nil)
		ctxOf[a.ID] = ctx
	}
	return ctxOf
}

// TestTasks_MadeInSets: new tasks, accepts and completions made together in
// a batch (on PostgreSQL, by a few statements over all of them) come out
// as they do one by one: each task offered to an agent of its own, each
// caller answered for its own change, with its history and events; an
// offer accepted twice at once, or a task completed twice, is taken once
// and refused once; an agent's capacity comes back.
func TestTasks_MadeInSets(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		f := newRoutingFixture(t, db)
		offers := sqlstore.NewOfferService(db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Sets", TeamIDs: []string{f.team.ID}, OfferTimeout: time.Minute})
		const n = 12
		// Of capacity 1: concurrent routers may give an agent of more a
		// second task, ranking it on what they read before the other's
		// commit.
		agentCtx := f.mustAgentsOfOne(t, n+4)

		created := make([]*switchboard.Task, n)
		var calls []func()
		for i := range n {
			calls = append(calls, func() {
				task, isNew, err := f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: fmt.Sprintf("Task %02d", i), Priority: i % 3})
				if err != nil || !isNew {
					t.Errorf("create %d: %v (new %v)", i, err, isNew)
				}
				created[i] = task
			})
		}
		mustMakeSets := func(inSets int64, what string) {
			t.Helper()
			if inSets == 0 {
				t.Errorf("no %s was made in a set: the test did not test them", what)
			}
		}
		mustMakeSets(together(t, db, calls), "creation")
		if t.Failed() {
			t.FailNow()
		}
		offeredTo := map[string]string{}
		for i, task := range created {
			if task.Title != fmt.Sprintf("Task %02d", i) || task.Status != switchboard.TaskOffered || task.Offer == nil || task.AgentName == "" {
				t.Fatalf("create %d answered %+v, want its task offered", i, task)
			}
			if other, ok := offeredTo[task.AgentID]; ok {
				t.Errorf("%s and %s both offered to %s", other, task.Title, task.AgentName)
			}
			offeredTo[task.AgentID] = task.Title
		}

		// Each agent accepts its offer; the first agent twice at once, and
		// the second tries the first's offer too.
		accepted := make([]*switchboard.Task, n)
		acceptErrs := make([]error, n+2)
		calls = nil
		for i, task := range created {
			calls = append(calls, func() { accepted[i], acceptErrs[i] = offers.AcceptOffer(agentCtx[task.AgentID], task.Offer.ID) })
		}
		calls = append(calls,
			func() { _, acceptErrs[n] = offers.AcceptOffer(agentCtx[created[0].AgentID], created[0].Offer.ID) },
			func() { _, acceptErrs[n+1] = offers.AcceptOffer(agentCtx[created[1].AgentID], created[0].Offer.ID) })
		mustMakeSets(together(t, db, calls), "accept")
		if acceptErrs[0] == nil && acceptErrs[n] == nil || acceptErrs[0] != nil && acceptErrs[n] != nil {
			t.Errorf("the first offer accepted twice at once: %v and %v, want one taken and one refused", acceptErrs[0], acceptErrs[n])
		}
		if acceptErrs[0] != nil {
			accepted[0] = &switchboard.Task{ID: created[0].ID, Status: switchboard.TaskAssigned, AgentID: created[0].AgentID}
		}
		if code := switchboard.ErrorCode(acceptErrs[n+1]); code != switchboard.ENOTFOUND {
			t.Errorf("another agent's accept of the first offer: %v, want not found", acceptErrs[n+1])
		}
		for i := 1; i < n; i++ {
			if acceptErrs[i] != nil || accepted[i].ID != created[i].ID || accepted[i].Status != switchboard.TaskAssigned || accepted[i].AssignedAt == nil {
				t.Errorf("accept %d: %+v, %v; want its task assigned", i, accepted[i], acceptErrs[i])
			}
		}

		// Each agent completes its task; the first twice at once.
		completed := make([]*switchboard.Task, n)
		completeErrs := make([]error, n+1)
		calls = nil
		for i, task := range created {
			calls = append(calls, func() {
				completed[i], completeErrs[i] = f.tasks.CompleteTask(agentCtx[task.AgentID], task.ID, fmt.Sprintf("done %d", i))
			})
		}
		calls = append(calls, func() {
			_, completeErrs[n] = f.tasks.CompleteTask(agentCtx[created[0].AgentID], created[0].ID, "again")
		})
		mustMakeSets(together(t, db, calls), "completion")
		if (completeErrs[0] == nil) == (completeErrs[n] == nil) {
			t.Errorf("the first task completed twice at once: %v and %v, want one taken and one refused", completeErrs[0], completeErrs[n])
		}
		for i := 1; i < n; i++ {
			if completeErrs[i] != nil || completed[i].Status != switchboard.TaskCompleted || completed[i].Outcome != fmt.Sprintf("done %d", i) {
				t.Errorf("complete %d: %+v, %v; want its task completed with its outcome", i, completed[i], completeErrs[i])
			}
		}

		// As stored: every task completed with its history, every agent
		// free again, and each move an event.
		for i, task := range created {
			stored, err := f.tasks.FindTaskByID(f.admin, task.ID)
			if err != nil {
				t.Fatal(err)
			}
			var moves []string
			for _, h := range stored.History {
				moves = append(moves, string(h.To))
			}
			if stored.Status != switchboard.TaskCompleted || fmt.Sprint(moves) != "[queued offered assigned completed]" {
				t.Errorf("task %d stored %s with moves %v", i, stored.Status, moves)
			}
		}
		var held int
		if err := db.QueryRow(context.Background(), "SELECT COALESCE(SUM(workload), 0) FROM agents").Scan(&held); err != nil {
			t.Fatal(err)
		}
		if held != 0 {
			t.Errorf("agents still hold %d units of capacity, want 0", held)
		}
		events, err := db.EventsAfter(context.Background(), 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		moves := map[string]int{}
		for _, e := range events {
			if e.Subject.Type == "task" {
				moves[e.Subject.ID]++
			}
		}
		for i, task := range created {
			if moves[task.ID] != 4 {
				t.Errorf("task %d has %d events, want 4 (created, offered, assigned, completed)", i, moves[task.ID])
			}
		}
	})
}

// TestTasks_SetsOfABatchInOneRoundTrip: completions, acceptances and new
// tasks made in one batch come out as they do one by one. On PostgreSQL
// the first statements of their sets go together (see pipeline), with the
// queue of the new tasks, which no cache keeps in tests, read before the
// new tasks' statement and after the others were sent. When a completion's
// statement fails there, the batch's changes are made again alone, each
// answered for its own.
func TestTasks_SetsOfABatchInOneRoundTrip(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		f := newRoutingFixture(t, db)
		offers := sqlstore.NewOfferService(db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Piped", TeamIDs: []string{f.team.ID}, OfferTimeout: time.Minute})
		const n = 4
		agentCtx := f.mustAgentsOfOne(t, 6*n) // room for every new task, however the batch goes
		// n tasks assigned and n offered, then one batch completes the
		// first, accepts the others' offers and creates n more.
		offerAndAccept := func(from, accepted int) []*switchboard.Task {
			var tasks []*switchboard.Task
			for i := range 2 * n {
				task, _, err := f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: fmt.Sprintf("Task %d", from+i)})
				if err != nil || task.Offer == nil {
					t.Fatalf("create %d: %+v, %v; want it offered", from+i, task, err)
				}
				if i < accepted {
					if _, err := offers.AcceptOffer(agentCtx[task.AgentID], task.Offer.ID); err != nil {
						t.Fatal(err)
					}
				}
				tasks = append(tasks, task)
			}
			return tasks
		}
		type answers struct {
			completeErrs, acceptErrs, createErrs []error
			completed, accepted, created         []*switchboard.Task
		}
		batch := func(tasks []*switchboard.Task, outcome func(i int) string, from int) *answers {
			a := &answers{completeErrs: make([]error, n), acceptErrs: make([]error, n), createErrs: make([]error, n),
				completed: make([]*switchboard.Task, n), accepted: make([]*switchboard.Task, n), created: make([]*switchboard.Task, n)}
			var calls []func()
			for i := range n {
				done, offered := tasks[i], tasks[n+i]
				calls = append(calls,
					func() {
						a.completed[i], a.completeErrs[i] = f.tasks.CompleteTask(agentCtx[done.AgentID], done.ID, outcome(i))
					},
					func() {
						a.accepted[i], a.acceptErrs[i] = offers.AcceptOffer(agentCtx[offered.AgentID], offered.Offer.ID)
					},
					func() {
						a.created[i], _, a.createErrs[i] = f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: fmt.Sprintf("New %d", from+i)})
					})
			}
			if inSets := together(t, db, calls); inSets == 0 && outcome(n-1) == "done" {
				t.Error("no change was made in a set: the test did not test them")
			}
			return a
		}
		check := func(a *answers, failing int) {
			t.Helper()
			for i := range n {
				switch {
				case i == failing:
					if a.completeErrs[i] == nil {
						t.Errorf("completion %d, whose statement fails, answered %+v", i, a.completed[i])
					}
				case a.completeErrs[i] != nil || a.completed[i].Status != switchboard.TaskCompleted:
					t.Errorf("completion %d: %+v, %v; want the task completed", i, a.completed[i], a.completeErrs[i])
				}
				if a.acceptErrs[i] != nil || a.accepted[i].Status != switchboard.TaskAssigned {
					t.Errorf("acceptance %d: %+v, %v; want the task assigned", i, a.accepted[i], a.acceptErrs[i])
				}
				if a.createErrs[i] != nil || a.created[i].Status != switchboard.TaskOffered {
					t.Errorf("creation %d: %+v, %v; want the task offered", i, a.created[i], a.createErrs[i])
				}
			}
			// Each agent holds one unit per task assigned or offered to
			// it, whichever way the batch went.
			var held, open int
			for query, dest := range map[string]*int{
				"SELECT COALESCE(SUM(workload), 0) FROM agents":                      &held,
				"SELECT COUNT(*) FROM tasks WHERE status IN ('offered', 'assigned')": &open,
			} {
				if err := db.QueryRow(context.Background(), query).Scan(dest); err != nil {
					t.Fatal(err)
				}
			}
			if held != open {
				t.Errorf("agents hold %d units for %d tasks offered or assigned", held, open)
			}
		}

		statements, roundTrips := db.Piped()
		check(batch(offerAndAccept(0, n), func(int) string { return "done" }, 0), -1)
		if db.Engine() == sqlstore.Postgres {
			s, r := db.Piped()
			if s-statements < 3 || r-roundTrips >= s-statements {
				t.Errorf("%d statements piped in %d round trips, want at least 3 in fewer", s-statements, r-roundTrips)
			}
		}
		if db.Engine() != sqlstore.Postgres {
			return
		}
		// A completion whose statement fails: the statements after it in
		// the pipeline are not run, the batch is rolled back, and every
		// change is made again alone.
		for _, stmt := range []string{
			"CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$",
			"CREATE TRIGGER refuse_boom BEFORE UPDATE ON tasks FOR EACH ROW WHEN (NEW.outcome = 'boom') EXECUTE FUNCTION refuse_boom()",
		} {
			if err := db.Exec(context.Background(), stmt); err != nil {
				t.Fatal(err)
			}
		}
		statements, roundTrips = db.Piped()
		failing := n - 1
		check(batch(offerAndAccept(2*n, n), func(i int) string {
			if i == failing {
				return "boom"
			}
			return "done"
		}, n), failing)
		if s, _ := db.Piped(); s == statements {
			t.Error("no statement was piped: the test did not test a failing pipeline")
		}
	})
}

// TestTasks_EventsInTheOrderOfTheirMoves: in a batch, new tasks that wait
// for want of a free agent, and an agent becoming available who then takes
// them, have their events in the order of the moves (created, then
// offered), whatever the order in which the batch took the changes.
func TestTasks_EventsInTheOrderOfTheirMoves(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		f := newRoutingFixture(t, db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Waiting", TeamIDs: []string{f.team.ID}, OfferTimeout: time.Minute})
		presence := sqlstore.NewPresenceService(db)
		for round := range 4 {
			_, ctx := f.MustAgent(t, fmt.Sprintf("Agent %d", round), 3, nil)
			if _, err := presence.SetPresence(ctx, switchboard.PresenceAway); err != nil {
				t.Fatal(err)
			}
			calls := []func(){func() {
				if _, err := presence.SetPresence(ctx, switchboard.PresenceAvailable); err != nil {
					t.Error(err)
				}
			}}
			for i := range 3 {
				calls = append(calls, func() {
					if _, _, err := f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: fmt.Sprintf("Task %d.%d", round, i)}); err != nil {
						t.Error(err)
					}
				})
			}
			together(t, db, calls)
		}
		events, err := db.EventsAfter(context.Background(), 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		status := map[string]any{}
		for _, e := range events {
			if e.Subject.Type != "task" || e.After["status"] == nil {
				continue
			}
			if from := e.Before["status"]; status[e.Subject.ID] != from && !(from == nil && status[e.Subject.ID] == nil) {
				t.Errorf("event %d (%s) moves %s from %v, but it was %v", e.Position, e.Type, e.Subject.Name, from, status[e.Subject.ID])
			}
			status[e.Subject.ID] = e.After["status"]
		}
	})
}

// TestTasks_CompletedInASetGiveQueuedWork: completions made together give
// their agents their capacity back, and the tasks that waited for it go to
// them; no agent ends above its capacity, none holds a unit it does not
// use.
func TestTasks_CompletedInASetGiveQueuedWork(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		f := newRoutingFixture(t, db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Direct", TeamIDs: []string{f.team.ID}})
		const agents = 6
		ctxOf := f.mustAgentsOfOne(t, agents)
		var first []*switchboard.Task
		for i := range agents + 3 { // three wait
			task, _, err := f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: fmt.Sprintf("Task %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			if i < agents {
				if task.Status != switchboard.TaskAssigned {
					t.Fatalf("task %d %s, want assigned", i, task.Status)
				}
				first = append(first, task)
			} else if task.Status != switchboard.TaskQueued {
				t.Fatalf("task %d %s, want queued: every agent is busy", i, task.Status)
			}
		}
		var calls []func()
		for _, task := range first {
			calls = append(calls, func() {
				if _, err := f.tasks.CompleteTask(ctxOf[task.AgentID], task.ID, "done"); err != nil {
					t.Error(err)
				}
			})
		}
		if together(t, db, calls) == 0 {
			t.Error("no completion was made in a set: the test did not test them")
		}
		var assigned, queued, held int
		for _, row := range []struct {
			query string
			dest  *int
		}{
			{"SELECT COUNT(*) FROM tasks WHERE status = 'assigned'", &assigned},
			{"SELECT COUNT(*) FROM tasks WHERE status = 'queued'", &queued},
			{"SELECT COALESCE(SUM(workload), 0) FROM agents", &held},
		} {
			if err := db.QueryRow(context.Background(), row.query).Scan(row.dest); err != nil {
				t.Fatal(err)
			}
		}
		if assigned != 3 || queued != 0 || held != 3 {
			t.Errorf("after the completions: %d tasks assigned, %d queued, %d units held; want 3, 0, 3", assigned, queued, held)
		}
	})
}

// TestTasks_ALoneChangeMadeByItsSet: on PostgreSQL an acceptance or a
// completion that comes alone is made by its set, with the set's fewer
// statements, and answers as made alone; a creation, and every change on
// the other engines, by its fn.
func TestTasks_ALoneChangeMadeByItsSet(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		offers := sqlstore.NewOfferService(db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Offers", TeamIDs: []string{f.team.ID}, OfferTimeout: time.Minute})
		ann, annCtx := f.MustAgent(t, "Ann", 1, nil)
		want := int64(0)
		if db.Engine() == sqlstore.Postgres {
			want = 1
		}
		inSets := func(step string, want int64, change func()) {
			t.Helper()
			before := db.ChangesMadeInSets()
			change()
			if got := db.ChangesMadeInSets() - before; got != want {
				t.Errorf("%s: %d changes made in sets, want %d", step, got, want)
			}
		}
		var task *switchboard.Task
		inSets("create", 0, func() { task = f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Alone"}) })
		if task.Status != switchboard.TaskOffered || task.AgentID != ann.ID || task.Offer == nil {
			t.Fatalf("created %s to %q, want offered to Ann", task.Status, task.AgentName)
		}
		offerID := task.Offer.ID
		inSets("accept", want, func() {
			var err error
			if task, err = offers.AcceptOffer(annCtx, offerID); err != nil {
				t.Fatal(err)
			}
		})
		if task.Status != switchboard.TaskAssigned || task.AgentName != "Ann" || task.Offer != nil {
			t.Fatalf("accepted: %s to %q, want assigned to Ann", task.Status, task.AgentName)
		}
		inSets("complete", want, func() {
			var err error
			if task, err = f.tasks.CompleteTask(annCtx, task.ID, "done"); err != nil {
				t.Fatal(err)
			}
		})
		if task.Status != switchboard.TaskCompleted || task.Outcome != "done" {
			t.Fatalf("completed: %s (%q)", task.Status, task.Outcome)
		}
		// A change its set cannot make answers as alone: an acceptance of
		// an offer no longer open is refused, and nothing is kept of it.
		_, err := offers.AcceptOffer(annCtx, offerID)
		wantCode(t, err, switchboard.ECONFLICT)
		detail, err := f.tasks.FindTaskByID(f.admin, task.ID)
		if err != nil || len(detail.History) != 4 {
			t.Fatalf("history %+v (%v), want created, offered, assigned, completed", detail.History, err)
		}
		// The completion gave Ann her one unit of capacity back.
		if next := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Next"}); next.Status != switchboard.TaskOffered || next.AgentID != ann.ID {
			t.Fatalf("next task %s to %q, want offered to Ann", next.Status, next.AgentName)
		}
	})
}

// TestTasks_ASetPassesOverAgentsGivenWorkSinceRead: a set that finds one
// of the agents it read given work by a change committed in between
// passes it over, as no longer the longest idle; taken again, an agent
// held two tasks while others held none, and their completions waited
// for each other.
func TestTasks_ASetPassesOverAgentsGivenWorkSinceRead(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		if db.Engine() == sqlstore.SQLite {
			t.Skip("SQLite's one writer reads and takes the agents with no commit between")
		}
		f := newRoutingFixture(t, db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Idle first", TeamIDs: []string{f.team.ID}, OfferTimeout: time.Minute})
		for i := range 3 {
			f.MustAgent(t, fmt.Sprintf("Agent %d", i), 2, nil)
		}
		var busy string
		var once sync.Once
		db.SetAfterCandidates(func(ranked []string) {
			once.Do(func() {
				// The first ranked is given a task by another transaction,
				// which commits.
				busy = ranked[0]
				if err := db.Exec(context.Background(), "UPDATE agents SET workload = workload + 1, last_assigned_at = ? WHERE id = ?",
					time.Now().UTC(), busy); err != nil {
					t.Error(err)
				}
			})
		})
		defer db.SetAfterCandidates(nil)
		created := make([]*switchboard.Task, 2)
		var calls []func()
		for i := range created {
			calls = append(calls, func() {
				var err error
				if created[i], _, err = f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: fmt.Sprintf("Task %d", i)}); err != nil {
					t.Error(err)
				}
			})
		}
		if together(t, db, calls) == 0 {
			t.Fatal("no creation was made in a set: the test did not test them")
		}
		if busy == "" {
			t.Fatal("the set read no candidates")
		}
		for i, task := range created {
			if task == nil || task.Status != switchboard.TaskOffered {
				t.Fatalf("task %d: %+v, want offered", i, task)
			}
			if task.AgentID == busy {
				t.Errorf("task %d offered to the agent given work after the set read it", i)
			}
		}
		if created[0].AgentID == created[1].AgentID {
			t.Errorf("both tasks offered to %s", created[0].AgentName)
		}
		var workload int
		if err := db.QueryRow(context.Background(), "SELECT workload FROM agents WHERE id = ?", busy).Scan(&workload); err != nil {
			t.Fatal(err)
		}
		if workload != 1 {
			t.Errorf("the agent given work meanwhile holds %d units, want 1", workload)
		}
	})
}
