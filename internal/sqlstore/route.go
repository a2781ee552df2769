package sqlstore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type offerRow struct {
	bun.BaseModel `bun:"table:offers,alias:o"`

	ID          string     `bun:"id,pk"`
	TaskID      string     `bun:"task_id"`
	AgentID     string     `bun:"agent_id"`
	Status      string     `bun:"status"`
	CreatedAt   time.Time  `bun:"created_at"`
	ExpiresAt   time.Time  `bun:"expires_at"`
	RespondedAt *time.Time `bun:"responded_at"`
}

// candidateLimit is how many agents one routing reads: the strategy's best
// few, found by an indexed query. The rest only matter when routers on
// other instances take these at the same moment.
const candidateLimit = 20

// routeTask offers or assigns a queued task to the agent its queue's
// strategy ranks first, in the transaction tx, and reports whether one took
// it. The agent's capacity is taken by a conditional update, so that two
// routers never fill one agent beyond it, whatever the instance.
func (db *DB) routeTask(ctx context.Context, tx *Tx, t *taskRow, q *switchboard.Queue) (bool, error) {
	if q.Strategy == switchboard.Manual || t.Status != string(switchboard.TaskQueued) {
		return false, nil
	}
	if db.Selector == nil {
		return false, errors.New("sqlstore: no routing engine (DB.Selector) to route tasks with")
	}
	if q.OfferTimeout > 0 && t.Offers >= q.MaxOffers {
		return false, nil // escalated: it waits for a supervisor
	}
	var lastAgent string
	if q.Strategy == switchboard.RoundRobin {
		if err := tx.NewSelect().Table("queues").Column("last_agent_id").Where("id = ?", q.ID).Scan(ctx, &lastAgent); err != nil {
			return false, err
		}
	}
	rt := routingRequest(t, q, lastAgent)
	candidates, err := db.candidates(ctx, tx, rt, t.ID, candidateLimit)
	if err != nil {
		return false, err
	}
	var ranked []string
	for _, v := range db.Selector.Rank(rt, candidates) {
		if v.Eligible {
			ranked = append(ranked, v.Candidate.AgentID)
		}
	}
	agentID, err := db.reserveFirst(ctx, tx, ranked)
	if err != nil || agentID == "" {
		return false, err
	}
	for _, c := range candidates {
		if c.AgentID == agentID {
			t.agentName = c.Name
		}
	}
	return true, db.giveTask(ctx, tx, t, q, agentID)
}

// reserveFirst takes one unit of capacity of the first of the ranked agents
// who may take work now, and returns that agent's ID ("" if none may). An
// agent whose row another transaction holds is passed over, not waited
// for: concurrent routers all rank the same agent first, and waiting for
// it would make them route one at a time.
func (db *DB) reserveFirst(ctx context.Context, tx *Tx, ranked []string) (string, error) {
	if len(ranked) == 0 {
		return "", nil
	}
	if db.engine != SQLite { // SQLite's one writer never meets a held row
		id, err := db.reserveFirstFree(ctx, tx, ranked)
		if err != nil || id != "" {
			return id, err
		}
	}
	// None is free, or some may be held by routers that are about to fill
	// them: wait for each in turn rather than leave the task queued beside
	// free capacity. Not in a shared transaction, though (see
	// errRouteAlone).
	if db.engine != SQLite && ctx.Value(inBatchKey{}) != nil {
		return "", errRouteAlone
	}
	for _, id := range ranked {
		if ok, err := db.reserveWaiting(ctx, tx, id); err != nil || ok {
			return id, err
		}
	}
	return "", nil
}

// reserveWaiting is reserveAgent for an agent that routing waits for. On
// PostgreSQL an agent found unable to take work once its row is free is
// let go at once: the update that waited keeps the row's lock even when
// its condition then fails, so routing would hold this agent while it
// waits for the next one, and a batch giving this agent capacity back
// (a completion) would wait for it while holding the next: a deadlock,
// which PostgreSQL breaks only after a second. A savepoint rolled back
// releases the lock. Seen about once in twenty 15-second runs of the
// lifecycle load with 384 requests in flight. (InnoDB keeps the locks of
// a savepoint rolled back to, so MySQL is left as it was.)
func (db *DB) reserveWaiting(ctx context.Context, tx *Tx, agentID string) (bool, error) {
	if db.engine != Postgres {
		return reserveAgent(ctx, tx, agentID)
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT reserve_agent"); err != nil {
		return false, err
	}
	ok, err := reserveAgent(ctx, tx, agentID)
	switch {
	case err != nil:
		return false, err // the transaction fails as a whole
	case !ok:
		return false, rollBackTo(ctx, tx, "reserve_agent")
	}
	_, err = tx.ExecContext(ctx, "RELEASE SAVEPOINT reserve_agent")
	return true, err
}

// errRouteAlone is a change's answer, in a shared transaction, when it
// would route a task by waiting for agents other transactions hold. A
// batch holds the agents its sets reserved until its commit; two batches
// each waiting for an agent the other holds deadlock, which PostgreSQL
// breaks only after a second. The change is undone to its savepoint and
// made again in a transaction of its own, which holds none of a batch's
// reservations while it waits (a rejection made alone still holds its own
// agent). Other changes made one by one in a batch still lock agents
// they must (an offer's release, a presence change): rarer, and a
// deadlock among them is broken and the batch retried as before.
var errRouteAlone = errors.New("sqlstore: routing must wait for agents other transactions hold")

// reserveFirstFree reserves the first of the ranked agents who may take
// work now and whose row no other transaction holds.
func (db *DB) reserveFirstFree(ctx context.Context, tx *Tx, ranked []string) (string, error) {
	order, orderArgs := rankOrder(ranked)
	var ids []string
	if db.engine == Postgres {
		// One statement, prepared (see takeAgents): the update takes
		// the row the look-up locked.
		// The arguments in the order of their placeholders: the time,
		// the IDs of the IN list, then the same IDs in the ORDER BY.
		args := append(append([]any{tx.now}, orderArgs...), orderArgs...)
		taken, err := tx.takeAgents(ctx, "UPDATE agents AS a SET workload = a.workload + 1, last_assigned_at = ? WHERE a.id = ("+
			"SELECT a.id FROM agents AS a WHERE "+agentMayTakeWorkByID+" AND a.id IN ("+placeholders(len(ranked))+") "+
			"ORDER BY "+order+" LIMIT 1 FOR UPDATE SKIP LOCKED) AND "+agentMayTakeWorkByID, args...)
		if err != nil || len(taken) == 0 {
			return "", err
		}
		return taken[0], nil
	}
	first := db.forUpdateSkipLocked(tx.NewSelect().TableExpr("agents AS a").Column("a.id").
		Where("a.id IN (?)", bun.List(ranked)).Where(agentMayTakeWorkByID).
		OrderExpr(order, orderArgs...).Limit(1))
	// MySQL cannot update a table that a subquery of the update reads.
	if err := first.Scan(ctx, &ids); err != nil || len(ids) == 0 {
		return "", err
	}
	// Locked by this transaction now, and its conditions checked again.
	if ok, err := reserveAgent(ctx, tx, ids[0]); err != nil || !ok {
		return "", err
	}
	return ids[0], nil
}

// rankOrder is an ORDER BY expression that sorts agents (aliased a) in
// the order of ranked, CASE a.id WHEN ? THEN 0 … END, with its arguments.
func rankOrder(ranked []string) (string, []any) {
	var b strings.Builder
	b.WriteString("CASE a.id")
	args := make([]any, len(ranked))
	for i, id := range ranked {
		b.WriteString(" WHEN ? THEN " + strconv.Itoa(i))
		args[i] = id
	}
	b.WriteString(" END")
	return b.String(), args
}

// unchangedSinceRead is MySQL's condition that each of the ranked agents
// (aliased a) has the last assignment it had when read, seen[i] for
// ranked[i] (see reserveSet), with its arguments.
func unchangedSinceRead(ranked []string, seen []*time.Time) (string, []any) {
	var b strings.Builder
	b.WriteString("(CASE a.id")
	args := make([]any, 0, 2*len(ranked))
	for i, id := range ranked {
		b.WriteString(" WHEN ? THEN a.last_assigned_at <=> ?")
		args = append(args, id, seen[i])
	}
	b.WriteString(" END) = 1")
	return b.String(), args
}

// agentMayTakeWork is the condition on an agent (aliased a) that it may
// take work now: active, present, below capacity. Its values are written
// in, as agents_ready_idx's condition is: a prepared statement's cached
// plan can use the index only when the statement states the index's
// condition (see scanPrepared).
var agentMayTakeWork = "a.status = " + quoted(switchboard.AgentActive) +
	" AND a.presence IN (" + quoted(switchboard.PresenceAvailable, switchboard.PresenceBusy) + ") AND a.workload < a.capacity"

// agentReady is an agent's (aliased a) readiness as its memberships keep
// it (see agentRow.ready): agentMayTakeWork but for its capacity, as a
// value of every engine's booleans.
var agentReady = "CASE WHEN a.status = " + quoted(switchboard.AgentActive) + " AND a.presence IN (" +
	quoted(switchboard.PresenceAvailable, switchboard.PresenceBusy) + ") THEN TRUE ELSE FALSE END"

// byKeyOnly is cond in a form that no index answers, for a statement that
// finds its rows by their keys: they are to be found by those. A planner
// whose statistics lag what just changed otherwise reads them through an
// index of cond (see agentMayTakeWorkByID). Under load PostgreSQL guessed
// that few rows had a status and read them through the status index, whose
// entries for rows updated since the last vacuum stay until it comes: a
// completion of 68 tasks stepped through 4,000 entries of
// tasks_status_created_idx and 200 pages of tasks (2.8 ms, against 0.5 by
// the primary key), an acceptance through 7,000 of offers_pending_idx.
func byKeyOnly(cond string) string {
	return "(CASE WHEN " + cond + " THEN 1 ELSE 0 END) = 1"
}

// agentMayTakeWorkByID is agentMayTakeWork for statements that find agents
// by their IDs (see byKeyOnly). When PostgreSQL's planner can match it with
// agents_ready_idx's condition, and the table's statistics are stale (a new
// database, a fleet that just came online), it reads the whole partial
// index to find a few IDs, since the index's own size was estimated when
// it held nearly nothing: about a millisecond and 800 buffers a
// reservation with 1,000 agents present, against a few buffers through the
// primary key.
var agentMayTakeWorkByID = byKeyOnly(agentMayTakeWork)

// reserveAgent takes one unit of an agent's capacity if the agent may take
// work now: active, present, below capacity. The condition is checked by
// the update itself, under the row's lock, so that routers on any number of
// instances never fill an agent beyond its capacity.
func reserveAgent(ctx context.Context, tx *Tx, agentID string) (bool, error) {
	res, err := tx.NewUpdate().Model((*agentRow)(nil)).
		Set("workload = workload + 1").Set("last_assigned_at = ?", tx.now).
		Where("a.id = ?", agentID).Where(agentMayTakeWorkByID).Exec(ctx)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	return true, noteAssigned(ctx, tx, agentID)
}

// routedReason begins the reason of a task's move that routing made.
const routedReason = "routed by "

// giveTask offers a task to an agent whose capacity is already reserved,
// or assigns it at once when the queue has no offer timeout.
func (db *DB) giveTask(ctx context.Context, tx *Tx, t *taskRow, q *switchboard.Queue, agentID string) error {
	from := switchboard.TaskStatus(t.Status)
	t.AgentID, t.UpdatedAt, t.Version = &agentID, tx.now, t.Version+1
	typ, data := switchboard.AuditTaskAssigned, map[string]any(nil)
	var offer *offerRow
	columns := []string{"status", "agent_id", "assigned_at", "updated_at", "version"}
	if q.OfferTimeout > 0 {
		offer = &offerRow{ID: uuid.Must(uuid.NewV7()).String(), TaskID: t.ID, AgentID: agentID,
			Status: "pending", CreatedAt: tx.now, ExpiresAt: tx.now.Add(q.OfferTimeout)}
		t.Status, t.OfferedAt, t.Offers, t.offer = string(switchboard.TaskOffered), &tx.now, t.Offers+1, offer
		columns = []string{"status", "agent_id", "offered_at", "offers", "updated_at", "version"}
		typ, data = switchboard.AuditTaskOffered, map[string]any{"offer_id": offer.ID, "expires_at": offer.ExpiresAt}
	} else {
		t.Status, t.AssignedAt = string(switchboard.TaskAssigned), &tx.now
	}
	// A task being created is written by its creation, with its offer,
	// in the state left here.
	if !t.unsaved {
		if err := writeGivenTask(ctx, tx, t, from, offer, columns); err != nil {
			return err
		}
	}
	if q.Strategy == switchboard.RoundRobin {
		if _, err := tx.NewUpdate().Table("queues").Set("last_agent_id = ?", agentID).Where("id = ?", q.ID).Exec(ctx); err != nil {
			return err
		}
	}
	return moveTask(ctx, tx, t, from, q.TeamIDs, typ, routedReason+string(q.Strategy), data)
}

// writeGivenTask writes what giveTask did to a stored task: its offer, if
// any, and its columns, on condition that it is still as routing found it.
func writeGivenTask(ctx context.Context, tx *Tx, t *taskRow, from switchboard.TaskStatus, offer *offerRow, columns []string) error {
	if offer != nil {
		if _, err := tx.NewInsert().Model(offer).Returning("NULL").Exec(ctx); err != nil {
			return err
		}
	}
	res, err := tx.NewUpdate().Model(t).Where("status = ?", from).Column(columns...).WherePK().Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		// Another instance moved the task first; this change must not
		// stand, and the retry sees the task as it is now.
		return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "The task changed while it was being routed; try again."}
	}
	return nil
}

// readsInIdleOrder reports whether a strategy reads agents longest idle
// first, the order of agents_ready_idx and team_members_idle_idx.
func readsInIdleOrder(rt switchboard.RoutingRequest) bool {
	return rt.Strategy != switchboard.LeastLoaded && rt.Strategy != switchboard.RoundRobin &&
		(rt.Strategy != switchboard.MostSkilled || len(rt.RequiredSkills) == 0)
}

// agentsInIdleOrder names the agents table for a candidates query. When
// the strategy reads agents longest idle first, SQLite is told to read them
// from agents_ready_idx, which holds only the agents who may take work, in
// that order: without statistics its planner prefers the index on status
// and presence, and then sorts every present agent to find the first few.
// The server engines choose well from their statistics.
func (db *DB) agentsInIdleOrder(rt switchboard.RoutingRequest) string {
	if db.engine == SQLite && readsInIdleOrder(rt) {
		return "agents AS a INDEXED BY agents_ready_idx"
	}
	return "agents AS a"
}

// candidateRow is an agent as a candidates query reads it.
type candidateRow struct {
	ID             string     `bun:"id"`
	Name           string     `bun:"name"`
	Status         string     `bun:"status"`
	Presence       string     `bun:"presence"`
	Workload       int        `bun:"workload"`
	Capacity       int        `bun:"capacity"`
	LastAssignedAt *time.Time `bun:"last_assigned_at"`
}

const candidateColumns = "a.id, a.name, a.status, a.presence, a.workload, a.capacity, a.last_assigned_at"

// candidates reads the agents who may take a task, in the order the
// strategy offers them work, at most limit of them. Every
// condition is one of routing.Ineligibility's, so that the database does
// the filtering an index can do and routing checks the rest; agents
// outside the queue's teams are never read when the strategy reads agents
// longest idle first (see teamCandidates), and otherwise the planner
// weighs the teams' members against the agents who may take work.
func (db *DB) candidates(ctx context.Context, tx *Tx, rt switchboard.RoutingRequest, taskID string, limit int) ([]*switchboard.Candidate, error) {
	var rows []candidateRow
	var err error
	switch {
	case db.engine == SQLite && readsInIdleOrder(rt) && len(rt.RequiredSkills) > 0:
		rows, err = db.skillHolderCandidates(ctx, tx, rt, taskID, limit)
	case len(rt.TeamIDs) > 0 && readsInIdleOrder(rt):
		rows, err = db.teamCandidates(ctx, tx, rt, taskID, limit)
	default:
		rows, err = db.fleetCandidates(ctx, tx, rt, taskID, limit)
	}
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	skills := switchboard.SortedSkills(rt.RequiredSkills)
	candidates := make([]*switchboard.Candidate, len(rows))
	byID := make(map[string]*switchboard.Candidate, len(rows))
	ids := make([]string, len(rows))
	for i, r := range rows {
		c := &switchboard.Candidate{AgentID: r.ID, Name: r.Name, Status: switchboard.AgentStatus(r.Status),
			Presence: switchboard.Presence(r.Presence), Load: r.Workload, Capacity: r.Capacity, Skills: map[string]int{}}
		if r.LastAssignedAt != nil {
			c.LastAssignedAt = r.LastAssignedAt.UTC()
		}
		candidates[i], byID[r.ID], ids[i] = c, c, r.ID
	}
	// The skills and teams routing weighs, for these few agents only.
	if len(skills) > 0 {
		var found []agentSkillRow
		if err := tx.NewSelect().Model(&found).Where("sk.agent_id IN (?) AND sk.skill IN (?)", bun.List(ids), bun.List(skills)).Scan(ctx); err != nil {
			return nil, err
		}
		for _, s := range found {
			byID[s.AgentID].Skills[s.Skill] = s.Level
		}
	}
	// Every candidate was found as a member of one of the queue's teams,
	// which is all that routing asks of its teams: it is not read again.
	for _, c := range candidates {
		c.TeamIDs = rt.TeamIDs
	}
	return candidates, nil
}

// candidateFilter is the condition on a candidate agent (aliased a) beside
// the queue's teams: it may take work now, did not turn the task down, and
// has the required skills. It returns the condition and its arguments.
func candidateFilter(rt switchboard.RoutingRequest, taskID string) (string, []any) {
	var b strings.Builder
	b.WriteString(agentMayTakeWork +
		" AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.task_id = ? AND o.agent_id = a.id AND o.status IN (" +
		quoted(switchboard.OfferRejected, switchboard.OfferTimedOut) + "))")
	args := []any{taskID}
	for _, skill := range switchboard.SortedSkills(rt.RequiredSkills) {
		b.WriteString(" AND EXISTS (SELECT 1 FROM agent_skills s WHERE s.agent_id = a.id AND s.skill = ? AND s.level >= ?)")
		args = append(args, skill, rt.RequiredSkills[skill])
	}
	return b.String(), args
}

// idleOrder is the order of agents longest idle first, never-assigned
// agents before all, on the columns of table alias t (a for agents, tm for
// team_members): the order of agents_ready_idx and team_members_idle_idx.
func (db *DB) idleOrder(t, id string) string {
	if db.engine == Postgres { // the others sort NULL first already
		return t + ".last_assigned_at NULLS FIRST, " + t + "." + id
	}
	return t + ".last_assigned_at, " + t + "." + id
}

// fleetCandidates is candidates read from all the agents who may take
// work, the queue's teams a condition on each.
func (db *DB) fleetCandidates(ctx context.Context, tx *Tx, rt switchboard.RoutingRequest, taskID string, limit int) ([]candidateRow, error) {
	// The statement's text depends only on the queue's shape, so that it
	// is prepared once (see scanPrepared).
	from, args, byTeams := db.agentsInReach(rt)
	filter, filterArgs := candidateFilter(rt, taskID)
	args = append(args, filterArgs...)
	var b strings.Builder
	b.WriteString("SELECT " + candidateColumns + " FROM " + from + " WHERE " + filter)
	if len(rt.TeamIDs) > 0 && !byTeams {
		b.WriteString(" AND a.id IN (SELECT tm.agent_id FROM team_members tm WHERE tm.team_id IN (" + placeholders(len(rt.TeamIDs)) + "))")
		args = append(args, teamArgs(rt)...)
	}
	skills := switchboard.SortedSkills(rt.RequiredSkills)
	b.WriteString(" ORDER BY ")
	switch {
	case rt.Strategy == switchboard.LeastLoaded:
		b.WriteString("a.workload * 1.0 / a.capacity, " + db.idleOrder("a", "id"))
	case rt.Strategy == switchboard.MostSkilled && len(skills) > 0:
		b.WriteString("(SELECT COALESCE(SUM(s.level), 0) FROM agent_skills s WHERE s.agent_id = a.id AND s.skill IN (" +
			placeholders(len(skills)) + ")) DESC, " + db.idleOrder("a", "id"))
		for _, skill := range skills {
			args = append(args, skill)
		}
	case rt.Strategy == switchboard.RoundRobin:
		b.WriteString("CASE WHEN a.id > ? THEN 0 ELSE 1 END, a.id")
		args = append(args, rt.LastAgentID)
	default:
		// Longest idle first: the order of agents_ready_idx, so that the
		// query reads a few rows and stops.
		b.WriteString(db.idleOrder("a", "id"))
	}
	b.WriteString(" LIMIT " + strconv.Itoa(limit))
	var rows []candidateRow
	err := tx.scanPrepared(ctx, &rows, b.String(), args...)
	return rows, err
}

// agentsInReach is the FROM clause of fleetCandidates, with its arguments,
// and whether it reads the queue's teams alone (else the teams are a
// condition on each agent).
// On SQLite, for a strategy that reads every agent the queue may reach to
// rank them, it names those agents first, and joins them to agents in that
// order (a CROSS JOIN in SQLite keeps its order): the ready members of the
// queue's teams, else the holders of its first skill. With the teams or
// the skill a condition on each agent, its planner read every ready agent
// of the fleet: beside 20,000 of another team, a routing by least load,
// round robin or skill took 13 ms against 3. The server engines choose
// from their statistics.
func (db *DB) agentsInReach(rt switchboard.RoutingRequest) (from string, args []any, byTeams bool) {
	switch {
	case db.engine != SQLite || readsInIdleOrder(rt):
		return db.agentsInIdleOrder(rt), nil, false
	case len(rt.TeamIDs) > 0:
		return "(SELECT DISTINCT tm.agent_id FROM team_members AS tm WHERE tm.team_id IN (" + placeholders(len(rt.TeamIDs)) +
			") AND tm.ready = TRUE) AS reach CROSS JOIN agents AS a ON a.id = reach.agent_id", teamArgs(rt), true
	case len(rt.RequiredSkills) > 0:
		skill := switchboard.SortedSkills(rt.RequiredSkills)[0]
		return "agent_skills AS reach INDEXED BY agent_skills_skill_idx CROSS JOIN agents AS a ON a.id = reach.agent_id" +
			" AND reach.skill = ? AND reach.level >= ?", []any{skill, rt.RequiredSkills[skill]}, false
	}
	return "agents AS a", nil, false
}

// skillHolderCandidates is candidates on SQLite for a queue that requires
// skills, read longest idle first. Read from agents_ready_idx (or a team's
// team_members_idle_idx) with the skills a condition on each agent, as the
// server engines' planners choose when the skill is common, the query
// stepped over every ready agent without them who had been idle longer:
// beside 20,000 such agents a routing took 26 ms against 2.2, and 50 ms
// against 2.8 when they were in the queue's team. SQLite has no
// statistics of how rare a skill is, so it looks in two places: first in
// the idle order (see idleWindows), which answers a common skill and a
// small team; else among the holders of the first skill required, through
// agent_skills_skill_idx, which reads only agents who hold it.
func (db *DB) skillHolderCandidates(ctx context.Context, tx *Tx, rt switchboard.RoutingRequest, taskID string, limit int) ([]candidateRow, error) {
	rows, answered, err := db.idleWindows(ctx, tx, rt, taskID, limit)
	if err != nil || answered {
		return rows, err
	}
	filter, filterArgs := candidateFilter(rt, taskID)
	skills := switchboard.SortedSkills(rt.RequiredSkills)
	holders := "SELECT " + candidateColumns + " FROM agent_skills AS hs INDEXED BY agent_skills_skill_idx JOIN agents AS a ON a.id = hs.agent_id" +
		" WHERE hs.skill = ? AND hs.level >= ? AND " + filter
	args := append([]any{skills[0], rt.RequiredSkills[skills[0]]}, filterArgs...)
	if len(rt.TeamIDs) > 0 {
		// Looked up for each holder: an IN list of the teams' members
		// would read all of them.
		holders += " AND EXISTS (SELECT 1 FROM team_members tm WHERE tm.agent_id = a.id AND tm.team_id IN (" + placeholders(len(rt.TeamIDs)) + "))"
		args = append(args, teamArgs(rt)...)
	}
	var found []candidateRow
	err = tx.scanPrepared(ctx, &found, holders+" ORDER BY "+db.idleOrder("a", "id")+" LIMIT "+strconv.Itoa(limit), args...)
	return found, err
}

// idleWindows reads the candidates among the first skillProbe ready
// agents per candidate sought, in idle order, of the fleet or of each of
// the queue's teams (a window each). They are the first of all (answered)
// unless a window was full and gave fewer than limit: more may follow it.
func (db *DB) idleWindows(ctx context.Context, tx *Tx, rt switchboard.RoutingRequest, taskID string, limit int) (rows []candidateRow, answered bool, err error) {
	filter, filterArgs := candidateFilter(rt, taskID)
	size := skillProbe * limit
	window := func(from, order string) string {
		return "SELECT a.* FROM " + from + " ORDER BY " + order + " LIMIT " + strconv.Itoa(size)
	}
	windows := [][]any{nil} // the arguments of each window: the fleet's, none
	query := window("agents AS a INDEXED BY agents_ready_idx WHERE "+agentMayTakeWork, db.idleOrder("a", "id"))
	if len(rt.TeamIDs) > 0 {
		windows = windows[:0]
		for _, id := range rt.TeamIDs {
			windows = append(windows, []any{id})
		}
		query = window("team_members AS tm INDEXED BY team_members_idle_idx JOIN agents AS a ON a.id = tm.agent_id"+
			" WHERE tm.team_id = ? AND tm.ready = TRUE", db.idleOrder("tm", "agent_id"))
	}
	answered = true
	for _, args := range windows {
		var found []candidateRow
		if err := tx.scanPrepared(ctx, &found, "SELECT "+candidateColumns+" FROM ("+query+") AS a WHERE "+filter+
			" ORDER BY "+db.idleOrder("a", "id")+" LIMIT "+strconv.Itoa(limit), append(slices.Clone(args), filterArgs...)...); err != nil {
			return nil, false, err
		}
		rows = append(rows, found...)
		if len(found) < limit {
			var n int
			if err := tx.scanPrepared(ctx, &n, "SELECT COUNT(*) FROM ("+query+") AS w", args...); err != nil {
				return nil, false, err
			}
			answered = answered && n < size
		}
	}
	return mergeIdleOrder(rows, limit), answered, nil
}

// teamArgs is the queue's teams as the arguments of an IN list.
func teamArgs(rt switchboard.RoutingRequest) []any {
	args := make([]any, len(rt.TeamIDs))
	for i, id := range rt.TeamIDs {
		args[i] = id
	}
	return args
}

// skillProbe is how many ready agents per candidate sought a routing on
// SQLite reads in idle order before it reads the holders of a required
// skill instead (see skillHolderCandidates).
const skillProbe = 8

// teamCandidates is candidates for a strategy that reads agents longest
// idle first, read team by team from team_members_idle_idx, which holds
// each membership with its agent's last assignment and whether the agent
// may take work (see noteAssigned, noteReadiness): a query reads about as
// many entries as it returns (those of agents at capacity besides),
// whatever the number of agents in other teams or absent from this one.
// Read from agents_ready_idx instead, with the teams a condition, it
// stepped over every agent of other teams idle longer: a team kept busy
// while another waits is the usual case, and with 20,000 agents of an idle
// team a routing of the busy team's queue read 20,000 entries. A queue of
// several teams reads each team's first limit agents; they are merged in
// that order, an agent in two of the teams once.
func (db *DB) teamCandidates(ctx context.Context, tx *Tx, rt switchboard.RoutingRequest, taskID string, limit int) ([]candidateRow, error) {
	members := "team_members AS tm"
	if db.engine == SQLite { // see agentsInIdleOrder
		members += " INDEXED BY team_members_idle_idx"
	}
	// The agent's condition in the form the planner has statistics for: in
	// agentMayTakeWorkByID's, it guessed few agents ready, and rather than
	// step through the team's entries to find the first few it joined
	// every agent and sorted the team (13 ms with 21,000 agents, against
	// 0.2).
	filter, filterArgs := candidateFilter(rt, taskID)
	var b strings.Builder
	var args []any
	for i, teamID := range rt.TeamIDs {
		one := "SELECT " + candidateColumns + " FROM " + members + " JOIN agents AS a ON a.id = tm.agent_id" +
			" WHERE tm.team_id = ? AND tm.ready = TRUE AND " + filter + " ORDER BY " + db.idleOrder("tm", "agent_id") + " LIMIT " + strconv.Itoa(limit)
		if len(rt.TeamIDs) > 1 {
			if i > 0 {
				b.WriteString(" UNION ALL ")
			}
			one = "SELECT * FROM (" + one + ") AS t" + strconv.Itoa(i)
		}
		b.WriteString(one)
		args = append(append(args, teamID), filterArgs...)
	}
	var rows []candidateRow
	if err := tx.scanPrepared(ctx, &rows, b.String(), args...); err != nil || len(rt.TeamIDs) == 1 {
		return rows, err
	}
	return mergeIdleOrder(rows, limit), nil
}

// mergeIdleOrder merges lists of candidates each in idle order (of
// several teams) into the first limit of them, an agent in two once.
func mergeIdleOrder(rows []candidateRow, limit int) []candidateRow {
	slices.SortStableFunc(rows, func(x, y candidateRow) int {
		switch {
		case x.LastAssignedAt == nil && y.LastAssignedAt != nil:
			return -1
		case x.LastAssignedAt != nil && y.LastAssignedAt == nil:
			return 1
		case x.LastAssignedAt != nil:
			if c := x.LastAssignedAt.Compare(*y.LastAssignedAt); c != 0 {
				return c
			}
		}
		return strings.Compare(x.ID, y.ID)
	})
	rows = slices.CompactFunc(rows, func(x, y candidateRow) bool { return x.ID == y.ID })
	return rows[:min(len(rows), limit)]
}

// noteAssigned gives agents' memberships the last assignment just given
// the agents, which routing reads a team's agents in (see teamCandidates).
// Every statement that moves an agent's last assignment is followed by it,
// or does the same in a WITH clause (takeAgents).
func noteAssigned(ctx context.Context, tx *Tx, agentIDs ...string) error {
	if len(agentIDs) == 0 {
		return nil
	}
	_, err := tx.NewUpdate().Table("team_members").Set("last_assigned_at = ?", tx.now).
		Where("agent_id IN (?)", bun.List(agentIDs)).Exec(ctx)
	return err
}

// takeAgents runs update, a PostgreSQL statement that takes agents for
// work (their workload and last assignment; without RETURNING), prepared
// (see scanPrepared), with its arguments. In the same round trip it gives
// their memberships the same last assignment (see noteAssigned), and
// reads the agents taken as the people their notifications go to (see
// Tx.people). It returns the IDs of the agents taken.
func (tx *Tx) takeAgents(ctx context.Context, update string, args ...any) ([]string, error) {
	query := "WITH taken AS (" + update + " RETURNING " + recipientAgentColumns + "), " +
		"members AS (UPDATE team_members SET last_assigned_at = ? WHERE agent_id IN (SELECT id FROM taken)) " + takenRecipients
	var taken []*person
	if err := tx.scanPrepared(ctx, &taken, query, append(slices.Clip(args), tx.now)...); err != nil {
		return nil, err
	}
	ids := make([]string, len(taken))
	for i, p := range taken {
		ids[i] = *p.AgentID
		tx.knowPerson(p)
	}
	return ids, nil
}
