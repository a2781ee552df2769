package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/routing"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// BenchmarkRouting_AgentsOutsideTheQueue creates a task that routing
// assigns, and completes it, for a queue whose reach is 50 agents: first
// alone in the database, then beside an idle team of many agents (20,000
// unless SWITCHBOARD_BENCH_AGENTS says otherwise), available and never
// assigned, so first of all in the fleet's idle order. The queues: of the
// 50 agents' team (Team); of no team, requiring a skill only the 50 hold
// (Skill); of the idle team, which the 50 are members of too, requiring
// that skill (TeamSkill); and of the 50 agents' team requiring the skill,
// routed by each strategy that ranks all the agents it reaches. The cost
// must not grow with the others. It reports the median and 99th
// percentile of one creation and completion:
//
//	go test ./internal/sqlstore -run '^$' -bench Routing_AgentsOutside -benchtime 500x
func BenchmarkRouting_AgentsOutsideTheQueue(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("SWITCHBOARD_BENCH_AGENTS")); err == nil && v > 0 {
		n = v
	}
	for _, engine := range sqlstoretest.Engines {
		b.Run(string(engine), func(b *testing.B) {
			db := sqlstoretest.Open(b, engine)
			db.Selector = routing.Engine{}
			team := MustCreateTeam(b, db, "Busy")
			idle := MustCreateTeam(b, db, "Idle")
			rare := map[string]int{"rare": 2}
			queues := []struct {
				name  string
				queue switchboard.NewQueue
				id    string
			}{
				{name: "Team", queue: switchboard.NewQueue{TeamIDs: []string{team.ID}}},
				{name: "Skill", queue: switchboard.NewQueue{RequiredSkills: rare}},
				{name: "TeamSkill", queue: switchboard.NewQueue{TeamIDs: []string{idle.ID}, RequiredSkills: rare}},
				{name: "LeastLoaded", queue: switchboard.NewQueue{TeamIDs: []string{team.ID}, RequiredSkills: rare, Strategy: switchboard.LeastLoaded}},
				{name: "RoundRobin", queue: switchboard.NewQueue{TeamIDs: []string{team.ID}, RequiredSkills: rare, Strategy: switchboard.RoundRobin}},
				{name: "MostSkilled", queue: switchboard.NewQueue{TeamIDs: []string{team.ID}, RequiredSkills: rare, Strategy: switchboard.MostSkilled}},
			}
			for i := range queues {
				queues[i].queue.Name = queues[i].name
				q, err := sqlstore.NewQueueService(db).CreateQueue(systemCtx(), queues[i].queue)
				if err != nil {
					b.Fatal(err)
				}
				queues[i].id = q.ID
			}
			agentCtx := map[string]context.Context{}
			for i := range 50 {
				a, _, err := sqlstore.NewAgentService(db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: fmt.Sprintf("Busy %d", i),
					Kind: "machine", Capacity: 1, TeamIDs: []string{team.ID, idle.ID}, Skills: map[string]int{"rare": 3}})
				if err != nil {
					b.Fatal(err)
				}
				agentCtx[a.ID] = switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{Agent: a})
				if _, err := sqlstore.NewPresenceService(db).SetPresence(agentCtx[a.ID], switchboard.PresenceAvailable); err != nil {
					b.Fatal(err)
				}
			}
			tasks := sqlstore.NewTaskService(db)
			lifecycle := func(queueID string) error {
				task, _, err := tasks.CreateTask(systemCtx(), switchboard.NewTask{QueueID: queueID, Title: "Route me"})
				if err != nil {
					return err
				}
				if task.Status != switchboard.TaskAssigned {
					return fmt.Errorf("task %s, want assigned", task.Status)
				}
				_, err = tasks.CompleteTask(agentCtx[task.AgentID], task.ID, "done")
				return err
			}
			for _, q := range queues {
				b.Run(q.name+"/Alone", func(b *testing.B) { measure(b, func() error { return lifecycle(q.id) }) })
			}
			seedIdleTeam(b, db, n)
			for _, q := range queues {
				b.Run(fmt.Sprintf("%s/Beside%d", q.name, n), func(b *testing.B) { measure(b, func() error { return lifecycle(q.id) }) })
			}
		})
	}
}

// seedIdleTeam imports n machine agents into the team Idle and makes them
// available, as a fleet that waits for work of its own.
func seedIdleTeam(b *testing.B, db *sqlstore.DB, n int) {
	b.Helper()
	const batch = 10_000
	for from := 0; from < n; from += batch {
		var csv strings.Builder
		csv.WriteString("name,kind,capacity,teams\n")
		for i := from; i < min(from+batch, n); i++ {
			fmt.Fprintf(&csv, "Idle %06d,machine,1,Idle\n", i)
		}
		rows, err := switchboard.ParseAgentCSV(strings.NewReader(csv.String()))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sqlstore.NewAgentService(db).ImportAgents(systemCtx(), rows); err != nil {
			b.Fatal(err, switchboard.ErrorFields(err))
		}
	}
	// Available without each agent's own change: the test of routing only.
	if err := db.Exec(context.Background(), "UPDATE agents SET status = 'active', presence = 'available' WHERE name LIKE 'Idle %'"); err != nil {
		b.Fatal(err)
	}
	if err := db.Exec(context.Background(), "UPDATE team_members SET ready = TRUE WHERE agent_id IN (SELECT id FROM agents WHERE name LIKE 'Idle %')"); err != nil {
		b.Fatal(err)
	}
	if err := db.Analyze(context.Background(), "agents", "team_members"); err != nil {
		b.Fatal(err)
	}
}
