package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// Concurrent changes share transactions; one that fails must neither take
// the others with it nor leave anything of its own, and each caller must
// get its own answer.
func TestWrite_ConcurrentChangesCommitTogetherAndFailAlone(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := switchboard.NewContextWithActor(context.Background(), switchboard.SystemActor("test"))
		var mu sync.Mutex
		delivered := map[string]int{}
		db.OnEvents = func(events []*switchboard.Event) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range events {
				delivered[e.Subject.ID]++
			}
		}
		errRefused := errors.New("refused")
		const n = 200
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = db.Write(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
					name := fmt.Sprintf("setting-%d", i)
					if _, err := tx.ExecContext(ctx, "INSERT INTO settings (name, value, updated_at) VALUES (?, 'x', ?)", name, tx.Now()); err != nil {
						return err
					}
					tx.Record(switchboard.Event{Type: switchboard.AuditTeamUpdated, Subject: switchboard.EventSubject{Type: "team", ID: name, Name: name}})
					if i%10 == 7 {
						return errRefused // after writing: none of it may stay
					}
					return nil
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if want := i%10 == 7; want != errors.Is(err, errRefused) || (!want && err != nil) {
				t.Errorf("change %d: err = %v", i, err)
			}
		}
		events, err := db.EventsAfter(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]int{}
		positions := map[int64]bool{}
		for _, e := range events {
			stored[e.Subject.ID]++
			if positions[e.Position] {
				t.Errorf("position %d given twice", e.Position)
			}
			positions[e.Position] = true
		}
		for i := range n {
			name, want := fmt.Sprintf("setting-%d", i), 1
			if i%10 == 7 {
				want = 0
			}
			if stored[name] != want || delivered[name] != want {
				t.Errorf("%s: %d events stored and %d delivered, want %d", name, stored[name], delivered[name], want)
			}
		}
		var rows int
		if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM settings WHERE name LIKE 'setting-%'").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != n-n/10 {
			t.Errorf("%d settings stored, want %d", rows, n-n/10)
		}
		if db.SharedCommits() == 0 {
			t.Error("no change shared a commit: the test did not test group commit")
		}
	})
}

// batchWaitLimit is how long a test waits for a batch that must not wait
// for rows: less than the 30 seconds after which a shared transaction gives
// up, and its changes run again alone, which would hide the wait.
const batchWaitLimit = 20 * time.Second

// A change made in a shared transaction does not wait for an agent another
// transaction holds: its batch holds the agents its sets reserved until its
// commit, and two batches each waiting for an agent the other holds
// deadlock. The change is made again in a transaction of its own after the
// batch, waits there, and routes the task when the agent is free.
func TestWrite_RoutingWaitsForHeldAgentsOutsideSharedTransactions(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		if db.Engine() == sqlstore.SQLite {
			t.Skip("SQLite has one writer: no other transaction holds a row while a change runs")
		}
		t.Parallel()
		ctx := context.Background()
		f := newRoutingFixture(t, db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Direct", TeamIDs: []string{f.team.ID}})
		ann, annCtx := f.MustAgent(t, "Ann", 2, nil)
		if _, err := sqlstore.NewPresenceService(db).SetPresence(annCtx, switchboard.PresenceAway); err != nil {
			t.Fatal(err)
		}
		task := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Waiting"})
		if task.Status != switchboard.TaskQueued {
			t.Fatalf("task %s with Ann away, want queued", task.Status)
		}
		// Available again without the routing a presence change makes.
		if err := db.MakeAvailable(ctx, ann.ID); err != nil {
			t.Fatal(err)
		}
		release, err := db.HoldRow(ctx, "agents", ann.ID)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = release() }) // should the test end early; a second commit only fails
		done := make(chan []chan error, 1)
		go func() {
			done <- db.WriteTogether(f.admin,
				func(ctx context.Context, tx *sqlstore.Tx) error {
					_, err := tx.RouteTask(ctx, task.ID)
					return err
				},
				func(ctx context.Context, tx *sqlstore.Tx) error {
					_, err := tx.ExecContext(ctx, "INSERT INTO settings (name, value, updated_at) VALUES ('together', 'x', ?)", tx.Now())
					return err
				})
		}()
		var answers []chan error
		select {
		case answers = <-done:
		case <-time.After(batchWaitLimit):
			_ = release()
			t.Fatal("the shared transaction waited for the agent another transaction holds")
		}
		if err := <-answers[1]; err != nil {
			t.Fatalf("the other change: %v", err)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		if err := <-answers[0]; err != nil {
			t.Fatalf("routing, made alone: %v", err)
		}
		got, err := f.tasks.FindTaskByID(f.admin, task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != switchboard.TaskAssigned || got.AgentID != ann.ID {
			t.Errorf("task %s to %q, want assigned to Ann", got.Status, got.AgentName)
		}
	})
}

// Routing that waits for held agents lets go of each one it finds full
// once free: holding it while waiting for the next made a deadlock with
// a batch that gave it capacity back while holding that next one.
func TestWrite_RoutingThatWaitsLetsGoOfAgentsItCannotTake(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		if db.Engine() != sqlstore.Postgres {
			t.Skip("PostgreSQL only: SQLite has one writer, and InnoDB keeps a row's lock past a rollback to a savepoint")
		}
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), batchWaitLimit)
		defer cancel()
		f := newRoutingFixture(t, db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Direct", TeamIDs: []string{f.team.ID}})
		ann, annCtx := f.MustAgent(t, "Ann", 1, nil) // ranked first: never assigned, and the older
		bob, bobCtx := f.MustAgent(t, "Bob", 1, nil)
		for _, agentCtx := range []context.Context{annCtx, bobCtx} {
			if _, err := sqlstore.NewPresenceService(db).SetPresence(agentCtx, switchboard.PresenceAway); err != nil {
				t.Fatal(err)
			}
		}
		task := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Waiting"})
		// Available again without the routing a presence change makes.
		if err := db.MakeAvailable(ctx, ann.ID, bob.ID); err != nil {
			t.Fatal(err)
		}
		// Another instance is filling Ann, and holds Bob.
		fillAnn, err := db.FillAgentHeld(ctx, ann.ID)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = fillAnn() })
		releaseBob, err := db.HoldRow(ctx, "agents", bob.ID)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = releaseBob() })

		routed := make(chan error, 1)
		go func() {
			routed <- db.WriteAlone(f.admin, func(ctx context.Context, tx *sqlstore.Tx) error {
				_, err := tx.RouteTask(ctx, task.ID)
				return err
			})
		}()
		if err := db.WaitForLockWait(ctx, ann.ID); err != nil {
			t.Fatalf("routing never waited for Ann: %v", err)
		}
		if err := fillAnn(); err != nil {
			t.Fatal(err)
		}
		if err := db.WaitForLockWait(ctx, bob.ID); err != nil {
			t.Fatalf("routing never went on to wait for Bob: %v", err)
		}
		if held, err := db.RowLockedElsewhere(ctx, "agents", ann.ID); err != nil || held {
			t.Errorf("Ann's row held by routing while it waits for Bob (held %v, %v)", held, err)
		}
		if err := releaseBob(); err != nil {
			t.Fatal(err)
		}
		if err := <-routed; err != nil {
			t.Fatalf("routing: %v", err)
		}
		got, err := f.tasks.FindTaskByID(f.admin, task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != switchboard.TaskAssigned || got.AgentID != bob.ID {
			t.Errorf("task %s to %q, want assigned to Bob", got.Status, got.AgentName)
		}
	})
}

// One batch of several at a time makes its changes; the next starts once
// the one before comes to its events and commit, and makes its changes
// while that one commits. Changes that arrive meanwhile wait for it, and
// share its transaction rather than each starting a small one of their
// own.
func TestWrite_NextBatchStartsWhenTheOneBeforeCommits(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := switchboard.NewContextWithActor(context.Background(), switchboard.SystemActor("test"))
		db.SetTurnLimit(t, time.Hour) // the first is held up on purpose here
		change := func(name string, started chan<- struct{}, hold <-chan struct{}) func(ctx context.Context, tx *sqlstore.Tx) error {
			return func(ctx context.Context, tx *sqlstore.Tx) error {
				started <- struct{}{}
				<-hold
				if _, err := tx.ExecContext(ctx, "INSERT INTO settings (name, value, updated_at) VALUES (?, 'x', ?)", name, tx.Now()); err != nil {
					return err
				}
				tx.Record(switchboard.Event{Type: switchboard.AuditTeamUpdated, Subject: switchboard.EventSubject{Type: "team", ID: name, Name: name}})
				return nil
			}
		}
		// On a server engine the first batch's commit is held up by
		// holding the event sequence's row, which its last statement
		// takes: the second batch must start all the same.
		releaseSequence := func() error { return nil }
		if db.Engine() != sqlstore.SQLite {
			var err error
			if releaseSequence, err = db.HoldRow(ctx, "event_sequence", "1"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = releaseSequence() })
		}
		firstStarted, firstHold := make(chan struct{}, 1), make(chan struct{})
		secondStarted, noHold := make(chan struct{}, 1), make(chan struct{})
		close(noHold)
		written := make(chan error, 2)
		// A batch of two, the first of which waits.
		go func() {
			written <- firstError(db.WriteTogetherInTurn(ctx, change("first", firstStarted, firstHold), change("with the first", make(chan struct{}, 1), noHold)))
		}()
		<-firstStarted
		go func() { written <- db.Write(ctx, change("second", secondStarted, noHold)) }()
		select {
		case <-secondStarted:
			t.Fatal("a second batch made its change while the first was making its own")
		case <-time.After(200 * time.Millisecond):
		}
		close(firstHold)
		unanswered := 2
		if db.Engine() == sqlstore.SQLite {
			// One writer: the second waits for the first's commit.
			if err := <-written; err != nil {
				t.Fatal(err)
			}
			unanswered--
		}
		select {
		case <-secondStarted:
		case <-time.After(batchWaitLimit):
			t.Fatal("the second batch did not start once the first came to its commit")
		}
		if err := releaseSequence(); err != nil {
			t.Fatal(err)
		}
		for range unanswered {
			if err := <-written; err != nil {
				t.Fatal(err)
			}
		}
		var rows int
		if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM settings WHERE name IN ('first', 'with the first', 'second')").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 3 {
			t.Errorf("%d of the three changes stored", rows)
		}
	})
}

// On a server engine a committer begins its next transaction before the
// changes come, and a batch of them is made in it: the BEGIN's round trip
// is not theirs to wait for. Nothing is lost when that transaction, begun
// before, carries them.
func TestWrite_BatchesUseTheTransactionBegunAhead(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		if db.Engine() == sqlstore.SQLite {
			t.Skip("SQLite's one writer begins when it writes")
		}
		ctx := switchboard.NewContextWithActor(context.Background(), switchboard.SystemActor("test"))
		insert := func(name string) func(ctx context.Context, tx *sqlstore.Tx) error {
			return func(ctx context.Context, tx *sqlstore.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO settings (name, value, updated_at) VALUES (?, 'x', ?)", name, tx.Now())
				return err
			}
		}
		// A first change keeps the turn while the others come, so that
		// they make a batch once it comes to its commit.
		started, hold := make(chan struct{}), make(chan struct{})
		const n = 8
		errs := make(chan error, n+1)
		go func() {
			errs <- db.Write(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
				close(started)
				<-hold
				return insert("ahead-first")(ctx, tx)
			})
		}()
		<-started
		for i := range n {
			go func() { errs <- db.Write(ctx, insert(fmt.Sprintf("ahead-%d", i))) }()
		}
		time.Sleep(100 * time.Millisecond) // for them to wait for a committer
		close(hold)
		for range n + 1 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if db.BeganAhead() == 0 {
			t.Error("no batch was made in a transaction begun ahead")
		}
		var rows int
		if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM settings WHERE name LIKE 'ahead-%'").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != n+1 {
			t.Errorf("%d of the %d changes stored", rows, n+1)
		}
	})
}

// A batch that waits long for something while it makes its changes does
// not hold up the others past the turn's limit: the other committer goes
// on with the changes that come.
func TestWrite_ABatchThatWaitsPassesTheTurnOn(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		if db.Engine() == sqlstore.SQLite {
			t.Skip("SQLite has one writer: the others wait for it whatever the turn")
		}
		ctx := switchboard.NewContextWithActor(context.Background(), switchboard.SystemActor("test"))
		db.SetTurnLimit(t, 10*time.Millisecond)
		started, hold := make(chan struct{}), make(chan struct{})
		held := make(chan error, 1)
		go func() {
			// A batch of two, the first of which waits.
			held <- firstError(db.WriteTogetherInTurn(ctx,
				func(ctx context.Context, tx *sqlstore.Tx) error {
					close(started)
					<-hold
					return nil
				},
				func(ctx context.Context, tx *sqlstore.Tx) error { return nil }))
		}()
		<-started
		defer func() {
			close(hold)
			if err := <-held; err != nil {
				t.Error(err)
			}
		}()
		done := make(chan error, 1)
		go func() {
			done <- db.Write(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO settings (name, value, updated_at) VALUES ('not held up', 'x', ?)", tx.Now())
				return err
			})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(batchWaitLimit):
			t.Fatal("a change waited for a batch that kept the turn")
		}
	})
}

// firstError waits for every answer and returns the first error, if any.
func firstError(answers []chan error) error {
	var first error
	for _, a := range answers {
		if err := <-a; err != nil && first == nil {
			first = err
		}
	}
	return first
}
