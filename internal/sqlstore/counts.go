package sqlstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// The dashboard counts agents by status and presence from agent_counts,
// and users from row_counts, which every change keeps up to date in its
// own transaction (see migration 00020): reading them costs a few rows
// whatever the size of the fleet. Each agent is counted under its team
// set, the set of teams it is in, and under everyAgent. A supervisor's
// agents are those of the sets that share a team with theirs: each agent
// is in exactly one set, so an agent in two of their teams counts once.
//
// An agent's count moves only under the lock of its row, which every
// change of its status, presence, capacity or teams holds (deleting a
// team moves none: its agents keep their set, whose other teams still
// match): changes of different agents add up in any order. A change adds
// its moves up and writes them as it commits, after the event positions,
// so that changes take the rows of the counts one at a time.

// everyAgent is the team set under which every agent is counted too.
const everyAgent = ""

// teamSetKey names the set of teams an agent is in: the same teams, the
// same key, in any order.
func teamSetKey(teamIDs []string) string {
	ids := distinct(teamIDs)
	sum := sha256.Sum256([]byte(strings.Join(ids, ",")))
	return hex.EncodeToString(sum[:16])
}

// agentCount is where an agent is counted, and the capacity it brings.
type agentCount struct {
	teamSet, status, presence string
	capacity                  int
}

func (r *agentRow) count() agentCount {
	return agentCount{teamSet: r.TeamSet, status: r.Status, presence: r.Presence, capacity: r.Capacity}
}

type agentCountKey struct {
	teamSet, status, presence string
}

type agentCountDelta struct {
	agents, capacity int
}

// add counts an agent in its set and among every agent, n times (1 or -1).
func (tx *Tx) addAgentCount(c agentCount, n int) {
	if tx.agentCounts == nil {
		tx.agentCounts = map[agentCountKey]agentCountDelta{}
	}
	for _, set := range []string{c.teamSet, everyAgent} {
		k := agentCountKey{teamSet: set, status: c.status, presence: c.presence}
		d := tx.agentCounts[k]
		d.agents += n
		d.capacity += n * c.capacity
		tx.agentCounts[k] = d
	}
}

// agentAdded counts a new agent.
func (tx *Tx) agentAdded(row *agentRow) { tx.addAgentCount(row.count(), 1) }

// agentRemoved stops counting a deleted agent.
func (tx *Tx) agentRemoved(row *agentRow) { tx.addAgentCount(row.count(), -1) }

// agentChanged moves an agent counted as was to where its row says now.
func (tx *Tx) agentChanged(was agentCount, row *agentRow) {
	if now := row.count(); now != was {
		tx.addAgentCount(was, -1)
		tx.addAgentCount(now, 1)
	}
}

// setTeams gives a locked agent row the team set of teamIDs, which the
// change has made its teams; the caller writes the team_set column.
func (db *DB) setTeams(ctx context.Context, tx *Tx, row *agentRow, teamIDs []string) error {
	row.TeamSet = teamSetKey(teamIDs)
	return db.registerTeamSets(ctx, tx, map[string][]string{row.TeamSet: teamIDs})
}

// teamsChanged moves agents a change added to a team or removed from one
// to the team set of the teams they are in now, locking their rows in ID
// order.
func (db *DB) teamsChanged(ctx context.Context, tx *Tx, agentIDs []string) error {
	if len(agentIDs) == 0 {
		return nil
	}
	var rows []*agentRow
	if err := forUpdate(tx.NewSelect().Model(&rows).Where("a.id IN (?)", bun.List(agentIDs)).OrderExpr("a.id")).Scan(ctx); err != nil {
		return err
	}
	var members []teamMemberRow
	if err := tx.NewSelect().Model(&members).Where("tm.agent_id IN (?)", bun.List(agentIDs)).Scan(ctx); err != nil {
		return err
	}
	teamsOf := map[string][]string{}
	for _, m := range members {
		teamsOf[m.AgentID] = append(teamsOf[m.AgentID], m.TeamID)
	}
	sets := map[string][]string{}
	moves := map[string][]string{} // team set → the agents that move to it
	for _, r := range rows {
		was := r.count()
		r.TeamSet = teamSetKey(teamsOf[r.ID])
		if r.TeamSet != was.teamSet {
			sets[r.TeamSet] = teamsOf[r.ID]
			moves[r.TeamSet] = append(moves[r.TeamSet], r.ID)
			tx.agentChanged(was, r)
		}
	}
	if err := db.registerTeamSets(ctx, tx, sets); err != nil {
		return err
	}
	return moveToTeamSets(ctx, tx, moves)
}

// moveToTeamSets writes the team sets of agents (key → agent IDs).
func moveToTeamSets(ctx context.Context, idb bun.IDB, moves map[string][]string) error {
	for _, key := range slices.Sorted(maps.Keys(moves)) {
		for chunk := range slices.Chunk(moves[key], 1000) {
			if _, err := idb.NewUpdate().Table("agents").Set("team_set = ?", key).Where("id IN (?)", bun.List(chunk)).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// teamSetRow is one team of a team set.
type teamSetRow struct {
	bun.BaseModel `bun:"table:team_sets,alias:team_sets"`

	TeamID  string `bun:"team_id,pk"`
	TeamSet string `bun:"team_set,pk"`
}

// registerTeamSets writes the teams of sets (key → team IDs) that are not
// written yet. A set's teams never change, so an existing row is left as
// it is.
func (db *DB) registerTeamSets(ctx context.Context, idb bun.IDB, sets map[string][]string) error {
	var rows []teamSetRow
	for key, teams := range sets {
		for _, t := range distinct(teams) {
			rows = append(rows, teamSetRow{TeamID: t, TeamSet: key})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	slices.SortFunc(rows, func(a, b teamSetRow) int {
		return cmp.Or(strings.Compare(a.TeamID, b.TeamID), strings.Compare(a.TeamSet, b.TeamSet))
	})
	for chunk := range slices.Chunk(rows, insertChunk) {
		q := idb.NewInsert().Model(&chunk)
		if _, err := db.insertLockingExisting(q, "team_set").Returning("NULL").Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// agentCountRow is one row of agent_counts.
type agentCountRow struct {
	bun.BaseModel `bun:"table:agent_counts,alias:agent_counts"`

	TeamSet  string `bun:"team_set,pk"`
	Status   string `bun:"status,pk"`
	Presence string `bun:"presence,pk"`
	Agents   int    `bun:"agents"`
	Capacity int    `bun:"capacity"`
}

// rowCountRow is one total kept in row_counts.
type rowCountRow struct {
	bun.BaseModel `bun:"table:row_counts,alias:row_counts"`

	Name string `bun:"name,pk"`
	N    int    `bun:"n"`
}

// usersCount names the number of users in row_counts.
const usersCount = "users"

// writeCounts adds what the changes of a transaction counted (see
// countsOf) to agent_counts and row_counts, in key order.
func (db *DB) writeCounts(ctx context.Context, idb bun.IDB, users int, rows []*agentCountRow) error {
	if users != 0 {
		_, err := idb.NewUpdate().Model((*rowCountRow)(nil)).Set("n = n + ?", users).Where("name = ?", usersCount).Exec(ctx)
		if err != nil {
			return err
		}
	}
	if len(rows) == 0 {
		return nil
	}
	slices.SortFunc(rows, func(a, b *agentCountRow) int {
		return cmp.Or(strings.Compare(a.TeamSet, b.TeamSet), strings.Compare(a.Status, b.Status), strings.Compare(a.Presence, b.Presence))
	})
	for chunk := range slices.Chunk(rows, insertChunk) {
		q := idb.NewInsert().Model(&chunk)
		if _, err := db.upsert(q, "team_set, status, presence", []string{"agents", "capacity"}, true).Returning("NULL").Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// countsOf sums what changes move between the counts: users added, and
// agents moved between the rows of agent_counts.
func countsOf(changes []*Tx) (users int, rows []*agentCountRow) {
	sum := map[agentCountKey]agentCountDelta{}
	for _, tx := range changes {
		users += tx.usersAdded
		for k, d := range tx.agentCounts {
			s := sum[k]
			s.agents += d.agents
			s.capacity += d.capacity
			sum[k] = s
		}
	}
	for k, d := range sum {
		if d != (agentCountDelta{}) {
			rows = append(rows, &agentCountRow{TeamSet: k.teamSet, Status: k.status, Presence: k.presence, Agents: d.agents, Capacity: d.capacity})
		}
	}
	return users, rows
}

// agentTotals are agents counted by status and presence.
type agentTotals []struct {
	Status   string `bun:"status"`
	Presence string `bun:"presence"`
	Agents   int    `bun:"agents"`
	Capacity int    `bun:"capacity"`
}

// countAgents reads the counts of every agent (all) or of the agents in
// any of teams.
func (db *DB) countAgents(ctx context.Context, idb bun.IDB, all bool, teams []string) (agentTotals, error) {
	var totals agentTotals
	q := idb.NewSelect().Model((*agentCountRow)(nil)).
		ColumnExpr("status, presence, SUM(agents) AS agents, SUM(capacity) AS capacity").GroupExpr("status, presence")
	err := inTeamSets(q, all, teams).Scan(ctx, &totals)
	return totals, err
}

// inTeamSets keeps the rows kept per team set (agent_counts,
// stats_presence) of every agent when all is set, or else of the sets
// that share a team with teams: each agent is in one of them however many
// of teams it is in.
func inTeamSets(q *bun.SelectQuery, all bool, teams []string) *bun.SelectQuery {
	switch {
	case all:
		return q.Where("team_set = ?", everyAgent)
	case len(teams) == 0:
		return q.Where("1 = 0")
	}
	return q.Where("team_set IN (SELECT team_set FROM team_sets WHERE team_id IN (?))", bun.List(teams))
}

// CountAgain counts the users and agents again from their tables,
// giving every agent the team set of its teams: for rows written before
// they were counted, or written directly.
func (db *DB) CountAgain(ctx context.Context) error {
	return db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := lockEventSequence(ctx, db, tx); err != nil {
			return err
		}
		return db.countAgain(ctx, tx)
	})
}

// lockEventSequence holds the event sequence's row until the transaction
// ends. Every change that moves counts writes them holding it (see
// writeEvents), so that counting again neither loses a change nor counts
// one twice: those committed are in the agents it reads, those after it
// move the counts it writes.
func lockEventSequence(ctx context.Context, db *DB, tx bun.Tx) error {
	_, err := db.takePositions(ctx, tx, 0)
	return err
}

// countAgentsIfNeeded counts the agents of a database that has agents and
// no counts: one migrated from before they were counted.
func (db *DB) countAgentsIfNeeded(ctx context.Context) error {
	const uncounted = "SELECT CASE WHEN EXISTS (SELECT 1 FROM agents) AND NOT EXISTS (SELECT 1 FROM agent_counts) THEN 1 ELSE 0 END"
	var need int
	if err := db.bun.NewRaw(uncounted).Scan(ctx, &need); err != nil || need == 0 {
		return err
	}
	return db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := lockEventSequence(ctx, db, tx); err != nil {
			return err
		}
		// Another instance may have counted them while this one waited.
		if err := tx.NewRaw(uncounted).Scan(ctx, &need); err != nil || need == 0 {
			return err
		}
		return db.countAgain(ctx, tx)
	})
}

func (db *DB) countAgain(ctx context.Context, tx bun.Tx) error {
	_, err := tx.NewUpdate().Model((*rowCountRow)(nil)).Set("n = (SELECT COUNT(*) FROM users)").Where("name = ?", usersCount).Exec(ctx)
	if err != nil {
		return err
	}
	var members []struct {
		AgentID string `bun:"agent_id"`
		TeamID  string `bun:"team_id"`
	}
	if err := tx.NewSelect().Table("team_members").Column("agent_id", "team_id").Scan(ctx, &members); err != nil {
		return err
	}
	teamsOf := map[string][]string{}
	for _, m := range members {
		teamsOf[m.AgentID] = append(teamsOf[m.AgentID], m.TeamID)
	}
	var agents []struct {
		ID      string `bun:"id"`
		TeamSet string `bun:"team_set"`
	}
	if err := tx.NewSelect().Table("agents").Column("id", "team_set").Scan(ctx, &agents); err != nil {
		return err
	}
	sets := map[string][]string{}
	moves := map[string][]string{} // team set → the agents that move to it
	for _, a := range agents {
		key := teamSetKey(teamsOf[a.ID])
		sets[key] = teamsOf[a.ID]
		if a.TeamSet != key {
			moves[key] = append(moves[key], a.ID)
		}
	}
	if err := moveToTeamSets(ctx, tx, moves); err != nil {
		return err
	}
	if err := db.registerTeamSets(ctx, tx, sets); err != nil {
		return err
	}
	if _, err := tx.NewDelete().Model((*agentCountRow)(nil)).Where("1 = 1").Exec(ctx); err != nil {
		return err
	}
	var rows []*agentCountRow
	err = tx.NewSelect().Model((*agentRow)(nil)).
		ColumnExpr("a.team_set, a.status, a.presence, COUNT(*) AS agents, COALESCE(SUM(a.capacity), 0) AS capacity").
		GroupExpr("a.team_set, a.status, a.presence").Scan(ctx, &rows)
	if err != nil {
		return err
	}
	all := map[agentCountKey]*agentCountRow{}
	for _, r := range slices.Clone(rows) {
		k := agentCountKey{teamSet: everyAgent, status: r.Status, presence: r.Presence}
		if all[k] == nil {
			all[k] = &agentCountRow{TeamSet: everyAgent, Status: r.Status, Presence: r.Presence}
			rows = append(rows, all[k])
		}
		all[k].Agents += r.Agents
		all[k].Capacity += r.Capacity
	}
	return insertChunks(ctx, db, tx, rows)
}

// stats adds up totals: the agents by status and presence, and the
// capacity of those present.
func (t agentTotals) stats() (a switchboard.AgentStats, capacity int) {
	for _, g := range t {
		if g.Status == string(switchboard.AgentPending) {
			a.Pending += g.Agents
			continue
		}
		if g.Status != string(switchboard.AgentActive) {
			continue
		}
		a.Active += g.Agents
		switch switchboard.Presence(g.Presence) {
		case switchboard.PresenceAvailable, switchboard.PresenceBusy:
			a.Available += g.Agents
			capacity += g.Capacity
		case switchboard.PresenceAway:
			a.Away += g.Agents
		default:
			a.Offline += g.Agents
		}
	}
	return a, capacity
}
