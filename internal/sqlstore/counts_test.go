package sqlstore_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// checkAgentCounts compares the counts kept as agents change with the
// agents counted again from their rows.
func checkAgentCounts(t *testing.T, db *sqlstore.DB, step string) {
	t.Helper()
	kept, err := db.AgentCountRows(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CountAgain(t.Context()); err != nil {
		t.Fatal(err)
	}
	counted, err := db.AgentCountRows(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(kept, counted) {
		t.Errorf("after %s, the counts kept are\n%v\ncounted again\n%v", step, kept, counted)
	}
	users, err := sqlstore.NewUserService(db).CountUsers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var want int
	if err := db.QueryRow(t.Context(), "SELECT COUNT(*) FROM users").Scan(&want); err != nil || users != want {
		t.Errorf("after %s, %d users counted, %d in the table (%v)", step, users, want, err)
	}
}

// Every change of an agent's status, presence, capacity or teams moves
// its count in the same change: after each, the counts kept are those of
// the agents.
func TestAgentCounts_FollowEveryChange(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		ctx := systemCtx()
		agents := sqlstore.NewAgentService(db)
		teams := sqlstore.NewTeamService(db)
		presence := sqlstore.NewPresenceService(db)
		red, blue := MustCreateTeam(t, db, "Red"), MustCreateTeam(t, db, "Blue")
		checkAgentCounts(t, db, "nothing")

		ann := MustCreateMachine(t, db, "Ann", nil, red)
		bob := MustCreateMachine(t, db, "Bob", nil, red, blue)
		cid := MustCreateMachine(t, db, "Cid", nil)
		checkAgentCounts(t, db, "creating agents")
		human, inv, err := agents.CreateAgent(ctx, switchboard.NewAgent{Name: "Hu", Kind: "human", Email: "hu@example.com", TeamIDs: []string{blue.ID}})
		if err != nil {
			t.Fatal(err)
		}
		checkAgentCounts(t, db, "inviting a human agent")
		if _, err := sqlstore.NewUserService(db).AcceptInvitation(t.Context(), inv.Secret, "a long new password"); err != nil {
			t.Fatal(err)
		}
		MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
		checkAgentCounts(t, db, "the human accepting")
		if _, err := agents.ImportAgents(ctx, mustParse(t, "name,kind,email,skills,capacity,teams\n"+
			"Imp,machine,,,3,Red;Blue\nOrt,machine,,,2,\nPat,human,pat@example.com,,1,Blue\n")); err != nil {
			t.Fatal(err)
		}
		checkAgentCounts(t, db, "an import")
		key, secret, err := sqlstore.NewEnrollmentService(db).CreateEnrollmentKey(ctx, switchboard.NewEnrollmentKey{Name: "k", TeamID: red.ID, MaxUses: 1})
		if err != nil || key == nil {
			t.Fatal(err)
		}
		if _, _, err := sqlstore.NewEnrollmentService(db).Enroll(t.Context(), switchboard.Enrollment{Key: secret, Name: "host-1"}); err != nil {
			t.Fatal(err)
		}
		checkAgentCounts(t, db, "an enrollment")

		annCtx := switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{Agent: ann})
		bobCtx := switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{Agent: bob})
		if _, err := presence.SetPresence(annCtx, switchboard.PresenceAvailable); err != nil {
			t.Fatal(err)
		}
		if _, err := presence.SetPresence(bobCtx, switchboard.PresenceAway); err != nil {
			t.Fatal(err)
		}
		checkAgentCounts(t, db, "presence changes")
		capacity := 4
		if _, err := agents.UpdateAgent(ctx, ann.ID, switchboard.AgentUpdate{Capacity: &capacity}); err != nil {
			t.Fatal(err)
		}
		checkAgentCounts(t, db, "a change of capacity")
		both := []string{red.ID, blue.ID}
		if _, err := agents.UpdateAgent(ctx, ann.ID, switchboard.AgentUpdate{TeamIDs: &both}); err != nil {
			t.Fatal(err)
		}
		checkAgentCounts(t, db, "a change of an agent's teams")
		if _, err := agents.BulkAgents(ctx, switchboard.AgentBulk{Action: switchboard.BulkAddToTeam, TeamID: blue.ID, IDs: []string{cid.ID}}); err != nil {
			t.Fatal(err)
		}
		if _, err := agents.BulkAgents(ctx, switchboard.AgentBulk{Action: switchboard.BulkRemoveFromTeam, TeamID: red.ID, IDs: []string{bob.ID}}); err != nil {
			t.Fatal(err)
		}
		checkAgentCounts(t, db, "bulk team changes")
		if _, err := teams.UpdateTeam(ctx, red.ID, switchboard.TeamUpdate{AddMembers: []string{cid.ID, human.ID}, RemoveMembers: []string{ann.ID}}); err != nil {
			t.Fatal(err)
		}
		checkAgentCounts(t, db, "a change of a team's members")
		if _, err := agents.SetAgentStatus(ctx, ann.ID, switchboard.AgentSuspended, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := agents.BulkAgents(ctx, switchboard.AgentBulk{Action: "retire", IDs: []string{cid.ID}}); err != nil {
			t.Fatal(err)
		}
		checkAgentCounts(t, db, "status changes")
		if _, err := presence.SetPresence(bobCtx, switchboard.PresenceAvailable); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * testTTL)
		if n, err := presence.SweepPresence(context.Background(), testTTL, 100); err != nil || n != 1 {
			t.Fatalf("swept %d (%v), want Bob", n, err)
		}
		checkAgentCounts(t, db, "the sweeper")
		enrolled, err := agents.FindAgents(ctx, switchboard.AgentFilter{Query: "host-1"})
		if err != nil || len(enrolled.Items) != 1 {
			t.Fatal(err)
		}
		if err := agents.DeleteAgent(ctx, enrolled.Items[0].ID); err != nil {
			t.Fatal(err)
		}
		invited, _, err := agents.CreateAgent(ctx, switchboard.NewAgent{Name: "Iv", Kind: "human", Email: "iv@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if err := agents.DeleteAgent(ctx, invited.ID); err != nil {
			t.Fatal(err)
		}
		checkAgentCounts(t, db, "deleting pending agents")

		// A deleted team's agents keep their count, under a set that no
		// supervisor's team matches any more.
		if err := teams.DeleteTeam(ctx, blue.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := agents.UpdateAgent(ctx, bob.ID, switchboard.AgentUpdate{Capacity: &capacity}); err != nil {
			t.Fatal(err)
		}
		if _, err := presence.SetPresence(bobCtx, switchboard.PresenceAvailable); err != nil {
			t.Fatal(err)
		}
		st, err := sqlstore.NewStatsService(db).Stats(ctx, switchboard.StatsFilter{})
		if err != nil {
			t.Fatal(err)
		}
		// Ann suspended, Cid retired: Bob, Hu, Imp and Ort are active,
		// Bob available; Pat is invited.
		if want := (switchboard.AgentStats{Active: 4, Available: 1, Offline: 3, Pending: 1}); st.Agents != want || st.Utilisation.Capacity != 4 {
			t.Errorf("agents = %+v, capacity %d; want %+v, capacity 4", st.Agents, st.Utilisation.Capacity, want)
		}
	})
}

// Changes of many agents at once, on several connections, each moving
// counts: none is lost, and none waits for another for ever.
func TestAgentCounts_ConcurrentChanges(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		red, blue := MustCreateTeam(t, db, "Red"), MustCreateTeam(t, db, "Blue")
		agents := sqlstore.NewAgentService(db)
		presence := sqlstore.NewPresenceService(db)
		var fleet []*switchboard.Agent
		for i := range 12 {
			fleet = append(fleet, MustCreateMachine(t, db, fmt.Sprintf("A%02d", i), nil, red))
		}
		var wg sync.WaitGroup
		for i, a := range fleet {
			wg.Go(func() {
				ctx := switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{Agent: a})
				for round := range 6 {
					p := []switchboard.Presence{switchboard.PresenceAvailable, switchboard.PresenceAway, switchboard.PresenceOffline}[(i+round)%3]
					if _, err := presence.SetPresence(ctx, p); err != nil {
						t.Error(err)
						return
					}
					teams := [][]string{{red.ID}, {red.ID, blue.ID}, {blue.ID}, nil}[(i+round)%4]
					capacity := 1 + round
					if _, err := agents.UpdateAgent(systemCtx(), a.ID, switchboard.AgentUpdate{TeamIDs: &teams, Capacity: &capacity}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		checkAgentCounts(t, db, "concurrent changes")
	})
}

// Migration 20 starts counting agents: the agents of a database migrated
// with agents in it are counted when it is migrated, and the intervals
// kept get their row of every queue.
func TestMigrate_CountsAgents(t *testing.T) {
	for _, engine := range sqlstoretest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openMigratedTo(t, engine, 18)
			at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			exec := func(query string, args ...any) {
				t.Helper()
				if err := db.Exec(ctx, query, args...); err != nil {
					t.Fatal(err)
				}
			}
			for _, team := range []string{"red", "blue"} {
				exec("INSERT INTO teams (id, name, sort_name, description, created_at, updated_at, version) VALUES (?, ?, ?, '', ?, ?, 1)", team, team, team, at, at)
			}
			for _, a := range []struct {
				id, status, presence string
				capacity             int
				teams                []string
			}{
				{"ann", "active", "available", 2, []string{"red"}},
				{"bob", "active", "available", 3, []string{"red", "blue"}},
				{"cid", "active", "away", 1, nil},
				{"dan", "pending", "offline", 1, []string{"blue"}},
			} {
				exec("INSERT INTO agents (id, name, sort_name, kind, capacity, status, presence, attributes, notify, metadata, created_at, updated_at, version) "+
					"VALUES (?, ?, ?, 'machine', ?, ?, ?, '{}', '[]', '{}', ?, ?, 1)", a.id, a.id, a.id, a.capacity, a.status, a.presence, at, at)
				for _, team := range a.teams {
					exec("INSERT INTO team_members (team_id, agent_id) VALUES (?, ?)", team, a.id)
				}
			}
			for _, q := range []string{"q1", "q2"} {
				exec("INSERT INTO stats_buckets (bucket_start, queue_id, created) VALUES (?, ?, 2)", at, q)
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			counts, err := db.AgentCountRows(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := counts["/active/available"]; got != [2]int{2, 5} {
				t.Errorf("every agent active and available: %v, want 2 agents of capacity 5 (in %v)", got, counts)
			}
			checkAgentCounts(t, db, "migrating")
			var created int
			if err := db.QueryRow(ctx, "SELECT created FROM stats_buckets WHERE queue_id = ''").Scan(&created); err != nil || created != 4 {
				t.Errorf("every queue's interval: %d created (%v), want 4", created, err)
			}
		})
	}
}
