package sqlstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

func TestTaskControl(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		manual := f.MustQueue(t, switchboard.NewQueue{Name: "By hand", Strategy: switchboard.Manual, RequiredSkills: map[string]int{"french": 3}})
		direct := f.MustQueue(t, switchboard.NewQueue{Name: "Direct"})
		ann, _ := f.MustAgent(t, "Ann", 1, map[string]int{"french": 5})
		bob, _ := f.MustAgent(t, "Bob", 1, nil)

		t.Run("Assign_Eligible", func(t *testing.T) {
			task := f.MustTask(t, switchboard.NewTask{QueueID: manual.ID, Title: "Parlez"})
			if task.Status != switchboard.TaskQueued {
				t.Fatalf("a manual queue's task is %s, want queued", task.Status)
			}
			got, err := f.tasks.AssignTask(f.admin, task.ID, ann.ID, false)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != switchboard.TaskAssigned || got.AgentID != ann.ID {
				t.Errorf("assigned to %s, %s", got.AgentName, got.Status)
			}
			// Ann is full now: she may not take a second one.
			second := f.MustTask(t, switchboard.NewTask{QueueID: manual.ID, Title: "Encore"})
			_, err = f.tasks.AssignTask(f.admin, second.ID, ann.ID, false)
			wantCode(t, err, switchboard.ECONFLICT)
			if !strings.Contains(switchboard.ErrorMessage(err), "At capacity") {
				t.Errorf("refusal says %q, want the reason", switchboard.ErrorMessage(err))
			}
			// Bob lacks French; an admin may force it.
			_, err = f.tasks.AssignTask(f.admin, second.ID, bob.ID, false)
			wantCode(t, err, switchboard.ECONFLICT)
			forced, err := f.tasks.AssignTask(f.admin, second.ID, bob.ID, true)
			if err != nil {
				t.Fatal(err)
			}
			last := forced.History[len(forced.History)-1]
			if forced.AgentID != bob.ID || !strings.Contains(last.Reason, "forced") || !strings.Contains(last.Reason, "french") {
				t.Errorf("forced assignment: %s, history %+v", forced.AgentName, last)
			}
			if _, err := f.tasks.CancelTask(f.admin, got.ID, "customer hung up"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.tasks.CancelTask(f.admin, forced.ID, ""); err != nil {
				t.Fatal(err)
			}
			_, err = f.tasks.CancelTask(f.admin, forced.ID, "")
			wantCode(t, err, switchboard.ECONFLICT)
		})

		t.Run("Requeue_ThenRoutedAgain", func(t *testing.T) {
			task := f.MustTask(t, switchboard.NewTask{QueueID: direct.ID, Title: "Again"})
			if task.Status != switchboard.TaskAssigned {
				t.Fatalf("task %s, want assigned (capacity back after cancelling)", task.Status)
			}
			got, err := f.tasks.RequeueTask(f.admin, task.ID, "wrong agent")
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != switchboard.TaskAssigned {
				t.Errorf("after requeue: %s, want routed again", got.Status)
			}
			var steps []string
			for _, h := range got.History {
				steps = append(steps, string(h.To))
			}
			if strings.Join(steps, ",") != "queued,assigned,queued,assigned" {
				t.Errorf("history %v", steps)
			}
			if _, err := f.tasks.CancelTask(f.admin, got.ID, ""); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("Explain", func(t *testing.T) {
			task := f.MustTask(t, switchboard.NewTask{QueueID: manual.ID, Title: "Explain me"})
			ex, err := f.tasks.ExplainRouting(f.admin, task.ID)
			if err != nil {
				t.Fatal(err)
			}
			reasons := map[string]string{}
			for _, v := range ex.Verdicts {
				var codes []string
				for _, r := range v.Reasons {
					codes = append(codes, r.Code)
				}
				reasons[v.Candidate.Name] = strings.Join(codes, ",")
			}
			if reasons["Ann"] != switchboard.ReasonManualQueue || reasons["Bob"] != switchboard.ReasonMissingSkill {
				t.Errorf("explanation: %v", reasons)
			}
			if _, err := f.tasks.CancelTask(f.admin, task.ID, ""); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func TestTasks_ExpiryAndSLA(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		f := newRoutingFixture(t, db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Slow", Strategy: switchboard.Manual, SLATarget: time.Minute})
		expires := clock.Now().Add(2 * time.Minute)
		short := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Short-lived", ExpiresAt: &expires})
		if n, err := f.tasks.ExpireTasks(t.Context(), 100); err != nil || n != 0 {
			t.Fatalf("changed %d at once (%v)", n, err)
		}
		clock.Advance(61 * time.Second)
		if n, err := f.tasks.ExpireTasks(t.Context(), 100); err != nil || n != 1 {
			t.Fatalf("changed %d past the SLA (%v), want 1 breach", n, err)
		}
		if n, _ := f.tasks.ExpireTasks(t.Context(), 100); n != 0 {
			t.Errorf("a breach was recorded twice")
		}
		clock.Advance(time.Minute)
		if n, err := f.tasks.ExpireTasks(t.Context(), 100); err != nil || n != 1 {
			t.Fatalf("changed %d past the expiry (%v), want 1", n, err)
		}
		got, err := f.tasks.FindTaskByID(f.admin, short.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != switchboard.TaskExpired {
			t.Errorf("task %s, want expired", got.Status)
		}
		page, err := sqlstore.NewEventService(db).FindEvents(f.admin, switchboard.EventFilter{Types: []string{"queue.sla_breached"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].Data["task_id"] != short.ID {
			t.Errorf("SLA events: %+v", page.Items)
		}
	})
}
