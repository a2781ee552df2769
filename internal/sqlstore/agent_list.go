package sqlstore

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// agentRowsInOrder reads the whole rows of the agents of keys, in the order
// of keys. An agent deleted since its key was read is left out.
func (db *DB) agentRowsInOrder(ctx context.Context, keys []*agentRow) ([]*agentRow, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	var found []*agentRow
	if err := db.bun.NewSelect().Model(&found).Where("a.id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	byID := make(map[string]*agentRow, len(found))
	for _, r := range found {
		byID[r.ID] = r
	}
	rows := make([]*agentRow, 0, len(keys))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// FindAgents returns one page of the agents in the actor's scope.
func (s *AgentService) FindAgents(ctx context.Context, f switchboard.AgentFilter) (*switchboard.Page[*switchboard.Agent], error) {
	sc, err := switchboard.ScopeOf(switchboard.ActorFromContext(ctx))
	if err != nil {
		return nil, err
	}
	if !sc.Manages() {
		return nil, &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only admins and supervisors may list agents."}
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	limit := f.Limit

	// The page is found first by the columns of the list's indexes alone,
	// then its rows are read by ID: a search then scans an index, not the
	// table (MySQL reads whole rows to test a condition on an index scan).
	var keys []*agentRow
	q := s.db.bun.NewSelect().Model(&keys).Column("a.id")
	q, err = s.filterAgents(ctx, s.db.bun, q, sc, f, s.db.keepOrdered)
	if err != nil {
		return nil, err
	}
	order := newListOrder(f.Sort, "a.id", map[string]string{"name": "a.sort_name", "status": "a.status", "presence": "a.presence",
		"created_at": "a.created_at", "skill_level": "ks.level"}, "created_at")
	if order.column == "ks.level" {
		order.isInt = true
		q = q.Join("JOIN agent_skills AS ks ON ks.agent_id = a.id AND ks.skill = ?", switchboard.NormalizeSkill(f.Skill)).
			ColumnExpr("ks.level AS skill_level")
	} else {
		q = q.Column(order.column) // with the ID, all the page's query reads
	}
	load := func(keys []*agentRow) ([]*switchboard.Agent, error) {
		rows, err := s.db.agentRowsInOrder(ctx, keys)
		if err != nil {
			return nil, err
		}
		return s.db.loadAgents(ctx, s.db.bun, rows)
	}
	return listPage(ctx, q, &keys, order, f.Cursor, limit, load, func(k *agentRow) (any, string) {
		switch order.column {
		case "a.created_at":
			return k.CreatedAt, k.ID
		case "a.status":
			return k.Status, k.ID
		case "a.presence":
			return k.Presence, k.ID
		case "ks.level":
			return k.SkillLevel, k.ID
		}
		return k.SortName, k.ID
	})
}

// filterAgents adds the conditions of a filter (its order, limit and cursor
// aside) and the actor's scope to a query on agents (alias a). keep adds the
// condition of membership in a set: keepOrdered for a page read in order,
// inSet for a count or a bulk action, which read every match.
func (s *AgentService) filterAgents(ctx context.Context, idb bun.IDB, q *bun.SelectQuery, sc switchboard.Scope, f switchboard.AgentFilter,
	keep func(context.Context, *bun.SelectQuery, agentSet) (*bun.SelectQuery, error)) (*bun.SelectQuery, error) {
	teams, filtered, err := s.listTeams(ctx, idb, sc, f.TeamID)
	switch {
	case err != nil:
		return nil, err
	case !filtered:
		q = applyScope(q, sc)
	case len(teams) == 0:
		q = inTeams(q, nil)
	default:
		if q, err = keep(ctx, q, teamMembers(teams)); err != nil {
			return nil, err
		}
	}
	if f.Query != "" {
		// sort_name is the name in lower case, and e-mail addresses are
		// stored in lower case.
		pattern := likePattern(strings.ToLower(f.Query))
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where(s.db.lowerLike("a.sort_name"), pattern).WhereOr(s.db.lowerLike("a.email"), pattern)
		})
	}
	switch {
	case f.Status != "":
		q = q.Where("a.status = ?", f.Status)
	case f.HideRetired:
		q = q.Where("a.status <> ?", switchboard.AgentRetired)
	}
	if f.Presence != "" {
		q = q.Where("a.presence = ?", f.Presence)
	}
	if f.Kind != "" {
		q = q.Where("a.kind = ?", f.Kind)
	}
	if f.Skill != "" {
		set := agentSet{from: "agent_skills s WHERE s.skill = ? AND s.level >= ?", args: []any{switchboard.NormalizeSkill(f.Skill), max(f.MinLevel, 1)}}
		if q, err = keep(ctx, q, set); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// inSet keeps the agents of set, for filterAgents.
func inSet(_ context.Context, q *bun.SelectQuery, set agentSet) (*bun.SelectQuery, error) {
	return q.Where("a.id IN (SELECT s.agent_id FROM "+set.from+")", set.args...), nil
}

// CountMatchingAgents counts the agents in the actor's scope that f matches.
func (s *AgentService) CountMatchingAgents(ctx context.Context, f switchboard.AgentFilter) (int, error) {
	sc, err := switchboard.ScopeOf(switchboard.ActorFromContext(ctx))
	if err != nil {
		return 0, err
	}
	if !sc.Manages() {
		return 0, &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only admins and supervisors may count agents."}
	}
	f.Sort, f.Cursor = "", ""
	if err := f.Validate(); err != nil {
		return 0, err
	}
	q, err := s.filterAgents(ctx, s.db.bun, s.db.bun.NewSelect().Model((*agentRow)(nil)), sc, f, inSet)
	if err != nil {
		return 0, err
	}
	n, err := q.Count(ctx)
	return int(n), translate(err)
}

// listTeams returns the teams whose agents a list shows, when it shows those
// of some teams only: a supervisor's teams, or the team of the filter, or
// both (then the filter's team if the supervisor has it, else none).
func (s *AgentService) listTeams(ctx context.Context, idb bun.IDB, sc switchboard.Scope, teamID string) ([]string, bool, error) {
	if sc.SupervisorID == "" {
		if teamID == "" {
			return nil, false, nil
		}
		return []string{teamID}, true, nil
	}
	supervised, err := s.db.supervisedTeams(ctx, idb, sc.SupervisorID)
	if err != nil {
		return nil, false, err
	}
	if teamID != "" {
		if !supervised[teamID] {
			return nil, true, nil
		}
		return []string{teamID}, true, nil
	}
	return slices.Sorted(maps.Keys(supervised)), true, nil
}

// agentSet is a set of agents named by the agent_id column of another
// table's rows, for a list's filter: from is "TABLE s WHERE CONDITION".
type agentSet struct {
	from string
	args []any
}

func teamMembers(teamIDs []string) agentSet {
	return agentSet{from: "team_members s WHERE s.team_id IN (?)", args: []any{bun.List(teamIDs)}}
}

// smallSet is how many agents a filter's set may hold for a list of them to
// be read agent by agent; see keepOrdered.
const smallSet = 2000

// keepOrdered keeps the agents of set in a list that is read in order up to
// a page. How best to do that depends on the set's size, which planners
// misjudge (SQLite keeps no per-value statistics; MariaDB flattens either
// form into a join it may order badly): a few agents are fetched one by one
// and sorted; many are checked row by row along the list's index, where a
// page fills after a few rows. Finding which costs a count that stops at
// smallSet.
func (db *DB) keepOrdered(ctx context.Context, q *bun.SelectQuery, set agentSet) (*bun.SelectQuery, error) {
	var n int
	args := append(slices.Clip(set.args), smallSet+1)
	err := db.bun.NewRaw("SELECT COUNT(*) FROM (SELECT 1 FROM "+set.from+" LIMIT ?) AS m", args...).Scan(ctx, &n)
	if err != nil {
		return nil, err
	}
	if n <= smallSet {
		return q.Where("a.id IN (SELECT s.agent_id FROM "+set.from+")", set.args...), nil
	}
	// A scalar subquery, which no engine turns into a join.
	return q.Where("(SELECT 1 FROM "+set.from+" AND s.agent_id = a.id LIMIT 1) = 1", set.args...), nil
}

// inTeams keeps the agents of any of teams.
func inTeams(q *bun.SelectQuery, teamIDs []string) *bun.SelectQuery {
	if len(teamIDs) == 0 {
		return q.Where("1 = 0")
	}
	set := teamMembers(teamIDs)
	return q.Where("a.id IN (SELECT s.agent_id FROM "+set.from+")", set.args...)
}

// CountAgents counts the agents in the actor's scope.
func (s *AgentService) CountAgents(ctx context.Context) (*switchboard.AgentCounts, error) {
	sc, err := switchboard.ScopeOf(switchboard.ActorFromContext(ctx))
	if err != nil {
		return nil, err
	}
	if !sc.Manages() {
		return nil, &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only admins and supervisors may count agents."}
	}
	var groups []struct {
		Status   string `bun:"status"`
		Presence string `bun:"presence"`
		N        int    `bun:"n"`
	}
	q := s.db.bun.NewSelect().Model((*agentRow)(nil)).ColumnExpr("a.status, a.presence, COUNT(*) AS n").Group("a.status", "a.presence")
	if teams, filtered, err := s.listTeams(ctx, s.db.bun, sc, ""); err != nil {
		return nil, err
	} else if filtered {
		q = inTeams(q, teams)
	}
	if err := q.Scan(ctx, &groups); err != nil {
		return nil, translate(err)
	}
	c := &switchboard.AgentCounts{ByStatus: map[switchboard.AgentStatus]int{}, ByPresence: map[switchboard.Presence]int{}}
	for _, g := range groups {
		c.Total += g.N
		c.ByStatus[switchboard.AgentStatus(g.Status)] += g.N
		if g.Status == string(switchboard.AgentActive) {
			c.ByPresence[switchboard.Presence(g.Presence)] += g.N
		}
	}
	return c, nil
}
