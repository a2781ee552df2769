package sqlstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// A queue's agents are read from its teams' own idle order: the agents of
// other teams idle longer are not read, a queue of several teams merges
// theirs, and an agent in two of them comes once.
func TestRouting_CandidatesComeFromTheQueuesTeams(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		f := newRoutingFixture(t, db)
		other := MustCreateTeam(t, db, "Other")
		newAgent := func(name string, teams ...string) string { return f.mustCreateAgent(t, name, 1, nil, teams...).ID }
		ops, idle := f.team.ID, []string{}
		a1 := newAgent("A1", ops) // never assigned
		c1 := newAgent("C1", ops, other.ID)
		a2 := newAgent("A2", ops)
		a3 := newAgent("A3", ops)
		for i := range 5 { // never assigned, so first of all in the fleet's idle order
			idle = append(idle, newAgent(fmt.Sprintf("B%d", i), other.ID))
		}
		base := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
		for i, id := range []string{c1, a2, a3} {
			setLastAssigned(t, db, id, base.Add(time.Duration(i)*time.Minute))
		}
		all := append([]string{a1, c1, a2, a3}, idle...)
		if err := db.MakeAvailable(ctx, all...); err != nil {
			t.Fatal(err)
		}
		read := func(teams []string, limit int) []string {
			t.Helper()
			return candidateIDs(t, f, switchboard.RoutingRequest{Strategy: switchboard.LongestIdle, TeamIDs: teams}, limit)
		}
		if got, want := read([]string{ops}, 10), []string{a1, c1, a2, a3}; !slices.Equal(got, want) {
			t.Errorf("one team: %v, want %v", got, want)
		}
		if got, want := read([]string{ops}, 2), []string{a1, c1}; !slices.Equal(got, want) {
			t.Errorf("one team, two of them: %v, want %v", got, want)
		}
		never := append([]string{a1}, idle...)
		slices.Sort(never)
		want := append(never, c1, a2, a3)
		if got := read([]string{ops, other.ID}, 20); !slices.Equal(got, want) {
			t.Errorf("two teams: %v, want %v", got, want)
		}
		if got := read([]string{other.ID, ops}, 7); !slices.Equal(got, want[:7]) {
			t.Errorf("two teams, seven of them: %v, want %v", got, want[:7])
		}
		// A member who may not take work is not read.
		if _, err := sqlstore.NewAgentService(db).SetAgentStatus(f.admin, a1, switchboard.AgentSuspended, 0); err != nil {
			t.Fatal(err)
		}
		if got, want := read([]string{ops}, 10), []string{c1, a2, a3}; !slices.Equal(got, want) {
			t.Errorf("one team, one suspended: %v, want %v", got, want)
		}
	})
}

// Every way an agent is given work moves the last assignment of its
// memberships with its own, and an agent joining a team brings it along:
// routing reads a team's agents in that order.
func TestRouting_MembershipsKeepTheirAgentsLastAssignment(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		f := newRoutingFixture(t, db)
		other := MustCreateTeam(t, db, "Other")
		q := f.MustQueue(t, switchboard.NewQueue{Name: "Direct", TeamIDs: []string{f.team.ID}})
		manual := f.MustQueue(t, switchboard.NewQueue{Name: "By hand", TeamIDs: []string{f.team.ID}, Strategy: switchboard.Manual})
		var agents []*switchboard.Agent
		for i := range 4 {
			a, _ := f.MustAgent(t, fmt.Sprintf("Agent %d", i), 3, nil)
			agents = append(agents, a)
		}
		// Routed: one at a time, and several at once (made together in a
		// batch where the engine does so).
		f.MustTask(t, switchboard.NewTask{QueueID: q.ID, Title: "One"})
		errs := make(chan error, 4)
		for i := range 4 {
			go func() {
				_, _, err := f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: fmt.Sprintf("Together %d", i)})
				errs <- err
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		// By hand.
		byHand := f.MustTask(t, switchboard.NewTask{QueueID: manual.ID, Title: "By hand"})
		if _, err := f.tasks.AssignTask(f.admin, byHand.ID, agents[3].ID, false); err != nil {
			t.Fatal(err)
		}
		// Joining a team, by an edit and by the team's members.
		if _, err := sqlstore.NewAgentService(db).UpdateAgent(f.admin, agents[0].ID, switchboard.AgentUpdate{TeamIDs: &[]string{f.team.ID, other.ID}}); err != nil {
			t.Fatal(err)
		}
		if _, err := sqlstore.NewTeamService(db).UpdateTeam(f.admin, other.ID, switchboard.TeamUpdate{AddMembers: []string{agents[1].ID}}); err != nil {
			t.Fatal(err)
		}
		// Routed again together, in a set, to agents of two teams: each
		// takes one task however many memberships it has.
		var calls []func()
		for i := range 4 {
			calls = append(calls, func() {
				if _, _, err := f.tasks.CreateTask(f.admin, switchboard.NewTask{QueueID: q.ID, Title: fmt.Sprintf("Again %d", i)}); err != nil {
					t.Error(err)
				}
			})
		}
		if together(t, db, calls) == 0 {
			t.Error("no creation was made in a set: the test did not test them")
		}
		var workload int
		if err := db.QueryRow(ctx, "SELECT SUM(workload) FROM agents").Scan(&workload); err != nil {
			t.Fatal(err)
		}
		if workload != 10 {
			t.Errorf("agents hold %d tasks, want the 10 assigned", workload)
		}

		var assigned, members, differ int
		if err := db.QueryRow(ctx, "SELECT count(*) FROM agents WHERE last_assigned_at IS NOT NULL").Scan(&assigned); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, "SELECT count(*) FROM team_members WHERE last_assigned_at IS NOT NULL").Scan(&members); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, "SELECT count(*) FROM team_members tm JOIN agents a ON a.id = tm.agent_id "+
			"WHERE (tm.last_assigned_at IS NULL) <> (a.last_assigned_at IS NULL) OR tm.last_assigned_at <> a.last_assigned_at "+
			"OR tm.ready <> (a.status = 'active' AND a.presence IN ('available', 'busy'))").Scan(&differ); err != nil {
			t.Fatal(err)
		}
		if assigned != 4 || members != 6 || differ != 0 {
			t.Errorf("%d agents assigned, %d memberships with a last assignment, %d unlike their agent's; want 4, 6 and 0",
				assigned, members, differ)
		}
	})
}

// A queue's agents are read from team_members_idle_idx in its order, with
// no sort. SQLite's planner is deterministic, so its plan is checked.
func TestRouting_TeamCandidatesReadTheTeamsIdleIndex(t *testing.T) {
	db := sqlstoretest.Open(t, sqlstore.SQLite)
	f := newRoutingFixture(t, db)
	q := f.MustQueue(t, switchboard.NewQueue{Name: "Ops", TeamIDs: []string{f.team.ID}})
	for i := range 3 {
		f.MustAgent(t, fmt.Sprintf("Agent %d", i), 1, nil)
	}
	candidates, plan := candidatesPlan(t, db, f, q)
	if !strings.Contains(candidates, "team_members AS tm") {
		t.Fatalf("candidates not read from the team: %s", candidates)
	}
	if !strings.Contains(plan, "team_members_idle_idx") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("candidates are not read in the order of team_members_idle_idx:\n%s\n%s", candidates, plan)
	}
}

// A queue that requires a skill reads its holders longest idle first,
// however many agents without it were idle longer, and a common skill is
// read in the idle order; with no team and with a team. On SQLite, with
// more agents without the skill idle longer than it looks through first,
// the holders are read from the skill's index.
func TestRouting_SkillQueueReadsItsHolders(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		newAgent := func(name string, skills map[string]int) string {
			a, _ := f.MustAgent(t, name, 1, skills)
			return a.ID
		}
		// Assigned in this order, long ago: idle longer than all others.
		var holders []string
		for i, level := range []int{5, 2, 3} {
			id := newAgent(fmt.Sprintf("Holder %d", i), map[string]int{"rare": level, "common": 1})
			holders = append(holders, id)
			setLastAssigned(t, db, id, time.Date(2026, 1, 1, 9, i, 0, 0, time.UTC))
		}
		// Never assigned, so first of all in the idle order.
		others := []string{newAgent("Too junior", map[string]int{"rare": 1, "common": 1})}
		for i := range 30 {
			others = append(others, newAgent(fmt.Sprintf("Other %02d", i), map[string]int{"common": 1}))
		}
		slices.Sort(others)
		rare, common := map[string]int{"rare": 2}, map[string]int{"common": 1}
		// All agents are in the fixture's team: the queue of no team and
		// the team's queue read the same agents.
		for _, teams := range [][]string{nil, {f.team.ID}} {
			read := func(skills map[string]int, limit int) []string {
				t.Helper()
				return candidateIDs(t, f, switchboard.RoutingRequest{Strategy: switchboard.LongestIdle, TeamIDs: teams, RequiredSkills: skills}, limit)
			}
			if got := read(rare, 10); !slices.Equal(got, holders) {
				t.Errorf("teams %v, holders of rare at 2: %v, want %v", teams, got, holders)
			}
			var got []string
			queries := db.RecordQueries(func() { got = read(rare, 2) })
			if !slices.Equal(got, holders[:2]) {
				t.Errorf("teams %v, two holders of rare at 2: %v, want %v", teams, got, holders[:2])
			}
			if db.Engine() == sqlstore.SQLite {
				var last string
				for _, q := range queries {
					if strings.HasPrefix(q, "SELECT a.id") {
						last = q
					}
				}
				if plan := sqlitePlan(t, db, last); !strings.Contains(last, "agent_skills AS hs") || !strings.Contains(plan, "agent_skills_skill_idx") {
					t.Errorf("teams %v, holders not read from the skill's index:\n%s\n%s", teams, last, plan)
				}
			}
			if got := read(common, 3); !slices.Equal(got, others[:3]) {
				t.Errorf("teams %v, holders of common: %v, want %v", teams, got, others[:3])
			}
		}
	})
}

// The strategies that rank every agent a queue may reach read those: the
// ready agents of its teams, or of the fleet, who hold its skills; an
// agent in two of its teams once.
func TestRouting_RankingStrategiesReadTheQueuesReach(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		f := newRoutingFixture(t, db)
		other := MustCreateTeam(t, db, "Other")
		newAgent := func(name string, skills map[string]int, teams ...string) string {
			return f.mustCreateAgent(t, name, 2, skills, teams...).ID
		}
		ops := f.team.ID
		a := newAgent("A", map[string]int{"rare": 3}, ops)
		b := newAgent("B", map[string]int{"rare": 1}, ops)
		c := newAgent("C", nil, ops)
		d := newAgent("D", map[string]int{"rare": 5}, other.ID)
		e := newAgent("E", nil, other.ID)
		both := newAgent("Both", map[string]int{"rare": 2}, ops, other.ID)
		newAgent("Offline", map[string]int{"rare": 5}, ops, other.ID)
		if err := db.MakeAvailable(ctx, a, b, c, d, e, both); err != nil {
			t.Fatal(err)
		}
		read := func(rt switchboard.RoutingRequest) []string {
			t.Helper()
			return candidateIDs(t, f, rt, 20)
		}
		sorted := func(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }
		for _, strategy := range []switchboard.RoutingStrategy{switchboard.LeastLoaded, switchboard.RoundRobin, switchboard.MostSkilled} {
			cases := []struct {
				teams  []string
				skills map[string]int
				want   []string
				best   string // the most skilled
			}{
				{[]string{ops}, nil, sorted(a, b, c, both), ""},
				{[]string{ops}, map[string]int{"rare": 2}, sorted(a, both), a},
				{nil, map[string]int{"rare": 2}, sorted(a, d, both), d},
				{[]string{ops, other.ID}, map[string]int{"rare": 1}, sorted(a, b, d, both), d},
				{[]string{other.ID, ops}, nil, sorted(a, b, c, d, e, both), ""},
			}
			for _, tc := range cases {
				var got []string
				queries := db.RecordQueries(func() {
					got = read(switchboard.RoutingRequest{Strategy: strategy, TeamIDs: tc.teams, RequiredSkills: tc.skills})
				})
				if db.Engine() == sqlstore.SQLite {
					for _, q := range queries {
						if !strings.HasPrefix(q, "SELECT a.id") {
							continue
						}
						// The agents the queue reaches come first, and each is looked
						// up by its key.
						if plan := sqlitePlan(t, db, q); !strings.Contains(plan, "SEARCH a USING INDEX sqlite_autoindex_agents_1 (id=?)") {
							t.Errorf("%s, teams %v, skills %v: agents read beyond the queue's reach:\n%s\n%s", strategy, tc.teams, tc.skills, q, plan)
						}
					}
				}
				if strategy == switchboard.MostSkilled && tc.best != "" && (len(got) == 0 || got[0] != tc.best) {
					t.Errorf("%s, teams %v, skills %v: %v, want %s first", strategy, tc.teams, tc.skills, got, tc.best)
				}
				if got := sorted(got...); !slices.Equal(got, tc.want) {
					t.Errorf("%s, teams %v, skills %v: %v, want %v", strategy, tc.teams, tc.skills, got, tc.want)
				}
			}
		}
	})
}

// A membership of a team deleted after the change checked it is refused,
// as the foreign key refused it before memberships were inserted from
// their agents' rows, and the change makes none.
func TestRouting_MembershipOfADeletedTeamIsRefused(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		a, _ := f.MustAgent(t, "Ada", 1, nil)
		err := db.Write(f.admin, func(ctx context.Context, tx *sqlstore.Tx) error {
			return tx.InsertMemberships(ctx, []string{f.team.ID, "01a00000-0000-7000-8000-000000000000"}, []string{a.ID})
		})
		if switchboard.ErrorCode(err) != switchboard.ECONFLICT {
			t.Fatalf("membership of a team that is gone: %v, want a conflict", err)
		}
		var n int
		if err := db.QueryRow(context.Background(), "SELECT COUNT(*) FROM team_members WHERE agent_id = ?", a.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("the agent has %d memberships, want its one team's", n)
		}
	})
}

// A fleet that comes online is analyzed by the instance that enrolls it,
// without waiting for autovacuum: the planner reads a team's agents in
// their idle order only once it knows the team's size.
func TestRouting_NewMembershipsAreAnalyzed(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		if db.Engine() != sqlstore.Postgres {
			t.Skip("PostgreSQL only: MySQL recomputes its statistics by itself, and SQLite is told its indexes")
		}
		t.Parallel()
		f := newRoutingFixture(t, db)
		analyzed := func() bool {
			t.Helper()
			db.WaitForRoutingStatistics()
			var done bool
			if err := db.QueryRow(context.Background(), "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'team_members' AND schemaname = current_schema()").Scan(&done); err != nil {
				t.Fatal(err)
			}
			return done
		}
		for i := range 99 {
			f.MustAgent(t, fmt.Sprintf("Agent %d", i), 1, nil)
		}
		if analyzed() {
			t.Fatal("analyzed after 99 memberships, fewer than it takes")
		}
		f.MustAgent(t, "Agent 99", 1, nil)
		if !analyzed() {
			t.Error("not analyzed after 100 memberships")
		}
	})
}

// candidateIDs reads, in a change, the IDs of the agents routing reads
// for rt, in their order.
func candidateIDs(t *testing.T, f *routingFixture, rt switchboard.RoutingRequest, limit int) []string {
	t.Helper()
	var ids []string
	err := f.db.Write(f.admin, func(ctx context.Context, tx *sqlstore.Tx) error {
		var err error
		ids, err = tx.CandidateIDs(ctx, rt, "no-task", limit)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// setLastAssigned gives an agent, and its memberships as routing keeps
// them, a last assignment.
func setLastAssigned(t *testing.T, db *sqlstore.DB, agentID string, at time.Time) {
	t.Helper()
	for table, column := range map[string]string{"agents": "id", "team_members": "agent_id"} {
		if err := db.Exec(context.Background(), "UPDATE "+table+" SET last_assigned_at = ? WHERE "+column+" = ?", at, agentID); err != nil {
			t.Fatal(err)
		}
	}
}
