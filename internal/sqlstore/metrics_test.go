package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestMetricsSnapshot counts unfinished tasks per queue (a queue without
// any shows zeros), leaves finished ones out, finds the oldest queued task,
// and counts pending offers and agents by status and presence.
func TestMetricsSnapshot(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		f := newRoutingFixture(t, db)
		offers := sqlstore.NewOfferService(db)
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Offers", OfferTimeout: time.Minute})
		idle := f.MustQueue(t, switchboard.NewQueue{Name: "Idle"})
		agents := map[string]context.Context{}
		for _, name := range []string{"Ann", "Bob"} {
			a, ctx := f.MustAgent(t, name, 1, nil)
			agents[a.ID] = ctx
		}
		if _, _, err := sqlstore.NewAgentService(db).CreateAgent(f.admin, switchboard.NewAgent{Name: "Cid", Kind: "machine",
			Status: switchboard.AgentPending, TeamIDs: []string{f.team.ID}}); err != nil {
			t.Fatal(err)
		}

		first := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Accepted"})
		if _, err := offers.AcceptOffer(agents[first.AgentID], MustOnlyOffer(t, offers, agents[first.AgentID]).ID); err != nil {
			t.Fatal(err)
		}
		clock.Advance(10 * time.Second)
		if second := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Offered"}); second.Status != switchboard.TaskOffered {
			t.Fatalf("second task %s, want offered", second.Status)
		}
		clock.Advance(10 * time.Second)
		oldest := clock.Now()
		f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Queued"})
		clock.Advance(10 * time.Second)
		cancelled := f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "Cancelled"})
		if _, err := f.tasks.CancelTask(f.admin, cancelled.ID, "not needed"); err != nil {
			t.Fatal(err)
		}

		snap, err := db.MetricsSnapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]switchboard.QueueMetrics{}
		for _, qm := range snap.Queues {
			byID[qm.ID] = qm
		}
		if len(snap.Queues) != 2 {
			t.Fatalf("%d queues, want 2", len(snap.Queues))
		}
		got := byID[q.ID]
		want := map[switchboard.TaskStatus]int{switchboard.TaskQueued: 1, switchboard.TaskOffered: 1, switchboard.TaskAssigned: 1}
		if got.Name != "Offers" || len(got.Tasks) != 3 {
			t.Fatalf("queue %q has %v, want Offers with 3 statuses", got.Name, got.Tasks)
		}
		for st, n := range want {
			if got.Tasks[st] != n {
				t.Errorf("Offers: %d %s tasks, want %d", got.Tasks[st], st, n)
			}
		}
		if !got.OldestQueued.Equal(oldest) {
			t.Errorf("oldest queued = %v, want %v", got.OldestQueued, oldest)
		}
		empty := byID[idle.ID]
		if empty.Name != "Idle" || empty.Tasks[switchboard.TaskQueued] != 0 || len(empty.Tasks) != 3 || !empty.OldestQueued.IsZero() {
			t.Errorf("idle queue = %+v, want zeros", empty)
		}
		if snap.PendingOffers != 1 {
			t.Errorf("pending offers = %d, want 1", snap.PendingOffers)
		}
		if snap.Agents.Total != 3 || snap.Agents.ByStatus[switchboard.AgentActive] != 2 || snap.Agents.ByStatus[switchboard.AgentPending] != 1 ||
			snap.Agents.ByStatus[switchboard.AgentRetired] != 0 {
			t.Errorf("agents by status = %v (total %d), want 2 active and 1 pending", snap.Agents.ByStatus, snap.Agents.Total)
		}
		present := 0
		for _, n := range snap.Agents.ByPresence {
			present += n
		}
		if present != 2 || len(snap.Agents.ByPresence) != len(switchboard.Presences) {
			t.Errorf("active agents by presence = %v, want 2 in all, every presence listed", snap.Agents.ByPresence)
		}
	})
}

// TestMetricsSnapshot_Outbox: the outbox's depth counts what is still to
// be delivered, and the dead, per channel; never what was sent, in-app
// notifications included, which are delivered as they are written.
func TestMetricsSnapshot_Outbox(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		db.Composer = linkComposer{}
		out := sqlstore.NewNotificationService(db)
		for _, email := range []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"} {
			MustInvite(t, db, email)
		}
		claimed := mustClaim(t, out, 3, time.Minute)
		for i, n := range claimed {
			// One sent, one failed, one dead; the fourth stays pending.
			var err error
			if i > 0 {
				err = errors.New("refused")
			}
			if _, ferr := out.FinishNotification(context.Background(), n, err, time.Minute, i == 2); ferr != nil {
				t.Fatal(ferr)
			}
		}
		ada := MustCreateUser(t, db, "ada@example.com", switchboard.RoleAgent)
		mustNotifyInApp(t, db, ada, "offered")

		snap, err := db.MetricsSnapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := map[switchboard.NotificationStatus]int{switchboard.NotificationPending: 1, switchboard.NotificationFailed: 1, switchboard.NotificationDead: 1}
		if got := snap.Outbox[switchboard.ChannelEmail]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("e-mail outbox = %v, want %v", got, want)
		}
		for _, ch := range switchboard.Channels {
			if ch == switchboard.ChannelEmail {
				continue
			}
			if got := snap.Outbox[ch]; len(got) != len(switchboard.OutboxStatuses) || got[switchboard.NotificationPending] != 0 {
				t.Errorf("%s outbox = %v, want every status at 0", ch, got)
			}
		}
	})
}
