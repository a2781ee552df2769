package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/events"
	"github.com/switchboardhq/switchboard/internal/routing"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// The task path keeps queues in memory while an event feed runs, and a
// change of a queue reaches every instance's tasks: at once on the
// instance that made it, within the feed's delay on another.
func TestQueueCache_ChangesReachEveryInstance(t *testing.T) {
	for _, engine := range sqlstoretest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			url := sqlstoretest.URL(t, engine)
			a := openInstance(t, url, true)
			b := openInstance(t, url, false)
			f := newRoutingFixture(t, a)
			f.MustAgent(t, "Ann", 10, nil)
			q := f.MustQueue(t, switchboard.NewQueue{Name: "Switching", OfferTimeout: time.Minute})
			tasksB := sqlstore.NewTaskService(b)

			// Both instances have read the queue: offers, one at a time.
			for _, tasks := range []*sqlstore.TaskService{f.tasks, tasksB} {
				task, _, err := tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: "Offered"})
				if err != nil || task.Status != switchboard.TaskOffered {
					t.Fatalf("task = %+v, %v; want offered", task, err)
				}
			}
			direct := time.Duration(0)
			if _, err := f.queues.UpdateQueue(f.admin, q.ID, switchboard.QueueUpdate{OfferTimeout: &direct}); err != nil {
				t.Fatal(err)
			}
			// The instance that changed it assigns directly from the next task on.
			task, _, err := f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: "Direct here"})
			if err != nil || task.Status != switchboard.TaskAssigned {
				t.Fatalf("on the changing instance: task = %+v, %v; want assigned", task, err)
			}
			// The other one once its feed has delivered the change.
			deadline := time.Now().Add(3 * time.Second) // less than the cache's TTL
			for {
				task, _, err := tasksB.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: "Direct there"})
				if err != nil {
					t.Fatal(err)
				}
				if task.Status == switchboard.TaskAssigned {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the other instance still offers tasks of a queue that assigns directly: %+v", task)
				}
				time.Sleep(20 * time.Millisecond)
			}
			// A deleted team leaves its queues with no event of theirs.
			team, err := sqlstore.NewTeamService(a).CreateTeam(f.admin, switchboard.NewTeam{Name: "Gone soon"})
			if err != nil {
				t.Fatal(err)
			}
			teams := []string{team.ID}
			if _, err := f.queues.UpdateQueue(f.admin, q.ID, switchboard.QueueUpdate{TeamIDs: &teams}); err != nil {
				t.Fatal(err)
			}
			if task, _, err := f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: "Nobody in the team"}); err != nil || task.Status != switchboard.TaskQueued {
				t.Fatalf("task = %+v, %v; want queued: Ann is not in the queue's team", task, err)
			}
			if err := sqlstore.NewTeamService(a).DeleteTeam(f.admin, team.ID); err != nil {
				t.Fatal(err)
			}
			if task, _, err := f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: "Anyone again"}); err != nil || task.Status != switchboard.TaskAssigned {
				t.Fatalf("task = %+v, %v; want assigned: the queue has no team left", task, err)
			}
		})
	}
}

// openInstance opens a database as one server instance does, its queues
// followed through its own event hub; migrate on the first one.
func openInstance(t *testing.T, url string, migrate bool) *sqlstore.DB {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := sqlstore.Open(ctx, url, sqlstoretest.FastHasher{})
	if err != nil {
		t.Fatal(err)
	}
	db.Selector = routing.Engine{}
	if migrate {
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	hub := events.NewHub(db, nil, events.Options{PollInterval: 50 * time.Millisecond})
	if err := hub.Start(ctx); err != nil {
		t.Fatal(err)
	}
	db.OnEvents = func([]*switchboard.Event) { hub.Wake() }
	followed := make(chan struct{})
	go func() { defer close(followed); db.FollowQueueChanges(ctx, hub) }()
	t.Cleanup(func() {
		cancel()
		<-followed
		hub.Wait()
		db.Close()
	})
	return db
}
