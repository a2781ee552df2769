package sqlstore_test

import (
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

func TestQueues(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		admin := MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin)
		supA := MustCreateUser(t, db, "a@example.com", switchboard.RoleSupervisor)
		supB := MustCreateUser(t, db, "b@example.com", switchboard.RoleSupervisor)
		agentUser := MustCreateUser(t, db, "agent@example.com", switchboard.RoleAgent)
		teams := sqlstore.NewTeamService(db)
		teamA, err := teams.CreateTeam(asUser(admin), switchboard.NewTeam{Name: "A", SupervisorIDs: []string{supA.ID}})
		if err != nil {
			t.Fatal(err)
		}
		teamB, err := teams.CreateTeam(asUser(admin), switchboard.NewTeam{Name: "B", SupervisorIDs: []string{supB.ID}})
		if err != nil {
			t.Fatal(err)
		}
		queues := sqlstore.NewQueueService(db)

		t.Run("OK", func(t *testing.T) {
			q, err := queues.CreateQueue(asUser(supA), switchboard.NewQueue{Name: " Billing ", TeamIDs: []string{teamA.ID},
				RequiredSkills: map[string]int{"Billing": 3}, OfferTimeout: 30 * time.Second, SLATarget: 2 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if q.Name != "Billing" || q.Strategy != switchboard.LongestIdle || q.MaxOffers != switchboard.DefaultMaxOffers ||
				q.RequiredSkills["billing"] != 3 || len(q.Teams) != 1 || q.Teams[0].Name != "A" || q.OfferTimeout != 30*time.Second {
				t.Errorf("queue = %+v", q)
			}
			strategy := switchboard.MostSkilled
			timeout := time.Duration(0)
			got, err := queues.UpdateQueue(asUser(supA), q.ID, switchboard.QueueUpdate{Strategy: &strategy, OfferTimeout: &timeout, IfVersion: q.Version})
			if err != nil {
				t.Fatal(err)
			}
			if got.Strategy != switchboard.MostSkilled || got.OfferTimeout != 0 || got.Version != q.Version+1 {
				t.Errorf("updated = %+v", got)
			}
			_, err = queues.UpdateQueue(asUser(supA), q.ID, switchboard.QueueUpdate{Strategy: &strategy, IfVersion: q.Version})
			wantCode(t, err, switchboard.EPRECONDITION)

			entries, err := sqlstore.NewAuditService(db).FindAuditEntries(asUser(supA), switchboard.AuditFilter{TargetID: q.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries.Items) != 2 || entries.Items[0].Action != "queue.updated" || entries.Items[1].Action != "queue.created" {
				t.Errorf("audit of the queue for its supervisor: %+v", entries.Items)
			}
		})

		t.Run("ErrInvalid_AllAtOnce", func(t *testing.T) {
			_, err := queues.CreateQueue(asUser(admin), switchboard.NewQueue{Name: "", Strategy: "fastest",
				OfferTimeout: -time.Second, MaxOffers: 1000, RequiredSkills: map[string]int{"x": 11}})
			wantCode(t, err, switchboard.EINVALID)
			fields := map[string]bool{}
			for _, f := range switchboard.ErrorFields(err) {
				fields[f.Field] = true
			}
			for _, f := range []string{"name", "strategy", "offer_timeout_seconds", "max_offers", "required_skills.x"} {
				if !fields[f] {
					t.Errorf("no error for %s in %v", f, switchboard.ErrorFields(err))
				}
			}
		})

		t.Run("ErrConflict_NameTaken", func(t *testing.T) {
			if _, err := queues.CreateQueue(asUser(admin), switchboard.NewQueue{Name: "Sales"}); err != nil {
				t.Fatal(err)
			}
			_, err := queues.CreateQueue(asUser(admin), switchboard.NewQueue{Name: "sales"})
			wantCode(t, err, switchboard.ECONFLICT)
		})

		t.Run("SupervisorScope", func(t *testing.T) {
			_, err := queues.CreateQueue(asUser(supA), switchboard.NewQueue{Name: "Theirs", TeamIDs: []string{teamB.ID}})
			wantCode(t, err, switchboard.EFORBIDDEN)
			_, err = queues.CreateQueue(asUser(supA), switchboard.NewQueue{Name: "Everyone"})
			wantCode(t, err, switchboard.EFORBIDDEN)
			mixed, err := queues.CreateQueue(asUser(admin), switchboard.NewQueue{Name: "Mixed", TeamIDs: []string{teamA.ID, teamB.ID}})
			if err != nil {
				t.Fatal(err)
			}
			onlyB, err := queues.CreateQueue(asUser(admin), switchboard.NewQueue{Name: "Only B", TeamIDs: []string{teamB.ID}})
			if err != nil {
				t.Fatal(err)
			}
			name := "Renamed"
			_, err = queues.UpdateQueue(asUser(supA), mixed.ID, switchboard.QueueUpdate{Name: &name})
			wantCode(t, err, switchboard.EFORBIDDEN)
			_, err = queues.FindQueueByID(asUser(supA), onlyB.ID)
			wantCode(t, err, switchboard.ENOTFOUND)
			_, err = queues.UpdateQueue(asUser(supA), onlyB.ID, switchboard.QueueUpdate{Name: &name})
			wantCode(t, err, switchboard.ENOTFOUND)
			err = queues.DeleteQueue(asUser(supB), onlyB.ID)
			wantCode(t, err, switchboard.EFORBIDDEN)
			_, err = queues.FindQueues(asUser(agentUser), switchboard.QueueFilter{})
			wantCode(t, err, switchboard.EFORBIDDEN)

			page, err := queues.FindQueues(asUser(supB), switchboard.QueueFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, q := range page.Items {
				names = append(names, q.Name)
			}
			if len(names) != 2 || names[0] != "Mixed" || names[1] != "Only B" {
				t.Errorf("supervisor B sees %q, want Mixed and Only B", names)
			}
			if err := queues.DeleteQueue(asUser(admin), onlyB.ID); err != nil {
				t.Fatal(err)
			}
			_, err = queues.FindQueueByID(asUser(admin), onlyB.ID)
			wantCode(t, err, switchboard.ENOTFOUND)
		})
	})
}
