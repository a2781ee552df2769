package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// MustOnlyOffer returns the one pending offer of an agent.
func MustOnlyOffer(t *testing.T, offers *sqlstore.OfferService, ctx context.Context) *switchboard.Offer {
	t.Helper()
	mine, err := offers.FindMyOffers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1 {
		t.Fatalf("%d pending offers, want 1", len(mine))
	}
	return mine[0]
}

// TestOffers_RejectTimeoutAccept is the walk-through: the first
// agent rejects, the second lets the offer time out, the third accepts and
// completes, and the history tells it all.
func TestOffers_RejectTimeoutAccept(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		f := newRoutingFixture(t, db)
		offers := sqlstore.NewOfferService(db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Offers", OfferTimeout: 5 * time.Second})
		agents := map[string]context.Context{}
		var order []string
		for _, name := range []string{"Ann", "Bob", "Cid"} {
			a, ctx := f.MustAgent(t, name, 1, nil)
			agents[a.ID] = ctx
			clock.Advance(time.Second) // Ann idle the longest, then Bob
			order = append(order, a.ID)
		}
		task := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Call back"})
		if task.Status != switchboard.TaskOffered || task.AgentID != order[0] {
			t.Fatalf("first offer to %s, want Ann", task.AgentName)
		}

		annOffer := MustOnlyOffer(t, offers, agents[order[0]])
		task, err := offers.RejectOffer(agents[order[0]], annOffer.ID)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != switchboard.TaskOffered || task.AgentID != order[1] || task.Offers != 2 {
			t.Fatalf("after Ann rejects: %s to %s (%d offers), want offered to Bob", task.Status, task.AgentName, task.Offers)
		}
		bobOffer := MustOnlyOffer(t, offers, agents[order[1]])
		if n, err := offers.ExpireOffers(context.Background(), 100); err != nil || n != 0 {
			t.Fatalf("expired %d before the deadline (%v)", n, err)
		}
		clock.Advance(5 * time.Second)
		if n, err := offers.ExpireOffers(context.Background(), 100); err != nil || n != 1 {
			t.Fatalf("expired %d at the deadline (%v), want 1", n, err)
		}
		_, err = offers.AcceptOffer(agents[order[1]], bobOffer.ID)
		wantCode(t, err, switchboard.ECONFLICT)

		cidOffer := MustOnlyOffer(t, offers, agents[order[2]])
		task, err = offers.AcceptOffer(agents[order[2]], cidOffer.ID)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != switchboard.TaskAssigned || task.AgentID != order[2] {
			t.Fatalf("after Cid accepts: %s to %s", task.Status, task.AgentName)
		}
		_, err = offers.RejectOffer(agents[order[2]], cidOffer.ID)
		wantCode(t, err, switchboard.ECONFLICT)
		if _, err = f.tasks.CompleteTask(agents[order[2]], task.ID, "called back, resolved"); err != nil {
			t.Fatal(err)
		}
		if task, err = f.tasks.FindTaskByID(f.admin, task.ID); err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, h := range task.History {
			steps = append(steps, string(h.From)+">"+string(h.To)+" "+h.Reason)
		}
		want := []string{">queued ", "queued>offered routed by longest_idle", "offered>queued offer rejected",
			"queued>offered routed by longest_idle", "offered>queued offer timed out", "queued>offered routed by longest_idle",
			"offered>assigned offer accepted", "assigned>completed "}
		if strings.Join(steps, " | ") != strings.Join(want, " | ") {
			t.Errorf("history:\n%s\nwant\n%s", strings.Join(steps, "\n"), strings.Join(want, "\n"))
		}
		if task.Outcome != "called back, resolved" || task.CompletedAt == nil {
			t.Errorf("completed task = %+v", task)
		}
	})
}

// TestOffers_Escalation: after the queue's last offer, the task waits,
// escalated, and is not offered again by itself.
func TestOffers_Escalation(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		offers := sqlstore.NewOfferService(db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Two tries", OfferTimeout: time.Minute, MaxOffers: 2})
		ctxs := []context.Context{}
		for _, name := range []string{"Ann", "Bob", "Cid"} {
			_, ctx := f.MustAgent(t, name, 1, nil)
			ctxs = append(ctxs, ctx)
		}
		task := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Hard one"})
		for range 2 {
			var offer *switchboard.Offer
			for _, ctx := range ctxs {
				if mine, _ := offers.FindMyOffers(ctx); len(mine) == 1 {
					offer = mine[0]
					if task, _ = offers.RejectOffer(ctx, offer.ID); task == nil {
						t.Fatal("reject failed")
					}
					break
				}
			}
			if offer == nil {
				t.Fatal("no agent holds an offer")
			}
		}
		if task.Status != switchboard.TaskQueued || task.Offers != 2 {
			t.Fatalf("after two rejections: %s with %d offers, want queued with 2", task.Status, task.Offers)
		}
		page, err := sqlstore.NewEventService(db).FindEvents(f.admin, switchboard.EventFilter{Types: []string{"task.escalated"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].Subject.ID != task.ID {
			t.Errorf("escalation events = %d, want 1 for the task", len(page.Items))
		}
	})
}

// An agent who turns down an offer has room again: it is offered the next
// queued task it has not declined, instead of waiting for other news.
func TestOffers_RejectingAgentGetsOtherQueuedWork(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		offers := sqlstore.NewOfferService(db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Offers", OfferTimeout: time.Minute})
		_, ann := f.MustAgent(t, "Ann", 1, nil)
		first := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "First"})
		second := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Second"})
		if first.Status != switchboard.TaskOffered || second.Status != switchboard.TaskQueued {
			t.Fatalf("statuses %s %s, want offered and queued", first.Status, second.Status)
		}
		if _, err := offers.RejectOffer(ann, MustOnlyOffer(t, offers, ann).ID); err != nil {
			t.Fatal(err)
		}
		if o := MustOnlyOffer(t, offers, ann); o.TaskID != second.ID {
			t.Errorf("Ann is offered %s, want the second task", o.TaskTitle)
		}
		if got, _ := f.tasks.FindTaskByID(f.admin, first.ID); got.Status != switchboard.TaskQueued {
			t.Errorf("the declined task is %s, want queued", got.Status)
		}
	})
}
