package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type agentRow struct {
	bun.BaseModel `bun:"table:agents,alias:a"`

	ID         string     `bun:"id,pk"`
	Name       string     `bun:"name"`
	SortName   string     `bun:"sort_name"` // lower-case name: lists sort the same on every engine
	Kind       string     `bun:"kind"`
	Email      *string    `bun:"email"`
	Phone      *string    `bun:"phone"`
	Capacity   int        `bun:"capacity"`
	Status     string     `bun:"status"`
	Presence   string     `bun:"presence"`
	UserID     *string    `bun:"user_id"`
	Attributes string     `bun:"attributes"`
	Notify     string     `bun:"notify"`
	Metadata   string     `bun:"metadata"`
	LastSeenAt *time.Time `bun:"last_seen_at"`
	CreatedAt  time.Time  `bun:"created_at"`
	UpdatedAt  time.Time  `bun:"updated_at"`
	Version    int        `bun:"version"`
}

type agentSkillRow struct {
	bun.BaseModel `bun:"table:agent_skills,alias:sk"`

	AgentID string `bun:"agent_id,pk"`
	Skill   string `bun:"skill,pk"`
	Level   int    `bun:"level"`
}

type teamMemberRow struct {
	bun.BaseModel `bun:"table:team_members,alias:tm"`

	TeamID  string `bun:"team_id,pk"`
	AgentID string `bun:"agent_id,pk"`
}

func (r *agentRow) domain() *switchboard.Agent {
	a := &switchboard.Agent{
		ID:         r.ID,
		Name:       r.Name,
		Kind:       switchboard.AgentKind(r.Kind),
		Email:      deref(r.Email),
		Phone:      deref(r.Phone),
		Capacity:   r.Capacity,
		Status:     switchboard.AgentStatus(r.Status),
		Presence:   switchboard.Presence(r.Presence),
		UserID:     deref(r.UserID),
		LastSeenAt: utcPtr(r.LastSeenAt),
		CreatedAt:  r.CreatedAt.UTC(),
		UpdatedAt:  r.UpdatedAt.UTC(),
		Version:    r.Version,
		Skills:     map[string]int{},
		Teams:      []switchboard.TeamRef{},
	}
	_ = json.Unmarshal([]byte(r.Attributes), &a.Attributes)
	_ = json.Unmarshal([]byte(r.Notify), &a.Notify)
	_ = json.Unmarshal([]byte(r.Metadata), &a.Metadata)
	if a.Attributes == nil {
		a.Attributes = map[string]any{}
	}
	if a.Metadata == nil {
		a.Metadata = map[string]any{}
	}
	if a.Notify == nil {
		a.Notify = []switchboard.Channel{}
	}
	return a
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// agentSummary is what the audit log records of an agent.
func agentSummary(a *switchboard.Agent) map[string]any {
	teams := make([]string, len(a.Teams))
	for i, t := range a.Teams {
		teams[i] = t.Name
	}
	return map[string]any{
		"name": a.Name, "kind": a.Kind, "email": a.Email, "phone": a.Phone, "skills": a.Skills,
		"capacity": a.Capacity, "teams": teams, "status": a.Status, "attributes": a.Attributes, "notify": a.Notify,
	}
}

func agentTarget(a *switchboard.Agent) auditTarget {
	return auditTarget{Type: "agent", ID: a.ID, Name: a.Name}
}

// AgentService implements switchboard.AgentService.
type AgentService struct {
	db *DB
}

var _ switchboard.AgentService = (*AgentService)(nil)

// NewAgentService returns the agent service on db.
func NewAgentService(db *DB) *AgentService { return &AgentService{db: db} }

func errAgentNotFound() error {
	return &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "No such agent."}
}

// agentScope is the set of agents an actor may see.
type agentScope struct {
	all          bool
	supervisorID string // agents of the teams this user supervises
	userID       string // only the agent linked to this user
	agentID      string // only this agent
}

func scopeOf(ctx context.Context) (agentScope, error) {
	a := switchboard.ActorFromContext(ctx)
	switch {
	case a == nil:
		return agentScope{}, errNoActor
	case a.IsAdmin():
		return agentScope{all: true}, nil
	case a.Agent != nil:
		return agentScope{agentID: a.Agent.ID}, nil
	case a.Role() == switchboard.RoleSupervisor:
		return agentScope{supervisorID: a.User.ID}, nil
	}
	return agentScope{userID: a.UserID()}, nil
}

// manages reports whether the scope may change agents (not only see them).
func (sc agentScope) manages() bool { return sc.all || sc.supervisorID != "" }

func (sc agentScope) apply(q *bun.SelectQuery) *bun.SelectQuery {
	switch {
	case sc.all:
		return q
	case sc.supervisorID != "":
		return q.Where("EXISTS (SELECT 1 FROM team_members stm JOIN team_supervisors sts ON sts.team_id = stm.team_id WHERE stm.agent_id = a.id AND sts.user_id = ?)", sc.supervisorID)
	case sc.agentID != "":
		return q.Where("a.id = ?", sc.agentID)
	}
	return q.Where("a.user_id = ?", sc.userID)
}

func errManageForbidden() error {
	return &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only admins and supervisors may manage agents."}
}

// supervisedTeams returns the IDs of the teams a user supervises.
func (db *DB) supervisedTeams(ctx context.Context, idb bun.IDB, userID string) (map[string]bool, error) {
	var ids []string
	err := idb.NewSelect().Table("team_supervisors").Column("team_id").Where("user_id = ?", userID).Scan(ctx, &ids)
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set, err
}

// FindAgentByID returns an agent within the actor's scope.
func (s *AgentService) FindAgentByID(ctx context.Context, id string) (*switchboard.Agent, error) {
	sc, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	return s.find(ctx, s.db.bun, sc, "a.id = ?", id, false)
}

// FindAgentByUserID returns the agent linked to a user, within scope; a user
// may always see their own agent.
func (s *AgentService) FindAgentByUserID(ctx context.Context, userID string) (*switchboard.Agent, error) {
	sc, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	if switchboard.ActorFromContext(ctx).UserID() == userID {
		sc = agentScope{userID: userID}
	}
	return s.find(ctx, s.db.bun, sc, "a.user_id = ?", userID, false)
}

func (s *AgentService) find(ctx context.Context, idb bun.IDB, sc agentScope, where string, arg any, forUpdate bool) (*switchboard.Agent, error) {
	row, err := s.findRow(ctx, idb, sc, where, arg, forUpdate)
	if err != nil {
		return nil, err
	}
	agents, err := s.db.loadAgents(ctx, idb, []*agentRow{row})
	if err != nil {
		return nil, err
	}
	return agents[0], nil
}

func (s *AgentService) findRow(ctx context.Context, idb bun.IDB, sc agentScope, where string, arg any, forUpdate bool) (*agentRow, error) {
	var row agentRow
	q := sc.apply(idb.NewSelect().Model(&row).Where(where, arg))
	if forUpdate {
		q = s.db.forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, errNoRows) {
			return nil, errAgentNotFound()
		}
		return nil, err
	}
	return &row, nil
}

// loadAgents turns rows into agents with their skills and teams, in two
// queries whatever the number of rows.
func (db *DB) loadAgents(ctx context.Context, idb bun.IDB, rows []*agentRow) ([]*switchboard.Agent, error) {
	agents := make([]*switchboard.Agent, len(rows))
	byID := make(map[string]*switchboard.Agent, len(rows))
	ids := make([]string, len(rows))
	for i, r := range rows {
		agents[i] = r.domain()
		byID[r.ID] = agents[i]
		ids[i] = r.ID
	}
	if len(ids) == 0 {
		return agents, nil
	}
	var skills []agentSkillRow
	if err := idb.NewSelect().Model(&skills).Where("sk.agent_id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	for _, sk := range skills {
		byID[sk.AgentID].Skills[sk.Skill] = sk.Level
	}
	var teams []struct {
		AgentID string `bun:"agent_id"`
		ID      string `bun:"id"`
		Name    string `bun:"name"`
	}
	err := idb.NewSelect().TableExpr("team_members AS tm").Join("JOIN teams AS t ON t.id = tm.team_id").
		ColumnExpr("tm.agent_id, t.id, t.name").Where("tm.agent_id IN (?)", bun.List(ids)).
		OrderExpr("t.name, t.id").Scan(ctx, &teams)
	if err != nil {
		return nil, err
	}
	for _, t := range teams {
		a := byID[t.AgentID]
		a.Teams = append(a.Teams, switchboard.TeamRef{ID: t.ID, Name: t.Name})
	}
	return agents, nil
}

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
	sc, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	if !sc.manages() {
		return nil, &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only admins and supervisors may list agents."}
	}
	var v switchboard.Validation
	limit := switchboard.PageLimit(&v, f.Limit)
	if f.Sort == "" {
		f.Sort = "name"
	}
	switchboard.ValidSort(&v, f.Sort, switchboard.AgentSorts)
	if f.Status != "" && !f.Status.Valid() {
		v.Add("status", "Status must be pending, active, suspended or retired.")
	}
	if f.Presence != "" && !f.Presence.Valid() {
		v.Add("presence", "Presence must be available, busy, away or offline.")
	}
	if f.Kind != "" && !f.Kind.Valid() {
		v.Add("kind", "Kind must be human or machine.")
	}
	if f.MinLevel < 0 || f.MinLevel > switchboard.MaxSkillLevel {
		v.Add("min_level", "Minimum level goes from 1 to %d.", switchboard.MaxSkillLevel)
	}
	if f.MinLevel > 0 && f.Skill == "" {
		v.Add("min_level", "A minimum level needs a skill to apply to.")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}

	// The page is found first by the columns of the list's indexes alone,
	// then its rows are read by ID: a search then scans an index, not the
	// table (MySQL reads whole rows to test a condition on an index scan).
	var keys []*agentRow
	q := s.db.bun.NewSelect().Model(&keys).Column("a.id")
	teams, filtered, err := s.listTeams(ctx, sc, f.TeamID)
	switch {
	case err != nil:
		return nil, err
	case !filtered:
		q = sc.apply(q)
	case len(teams) == 0:
		q = inTeams(q, nil)
	default:
		if q, err = s.db.keepOrdered(ctx, q, teamMembers(teams)); err != nil {
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
	if f.Status != "" {
		q = q.Where("a.status = ?", f.Status)
	}
	if f.Presence != "" {
		q = q.Where("a.presence = ?", f.Presence)
	}
	if f.Kind != "" {
		q = q.Where("a.kind = ?", f.Kind)
	}
	if f.Skill != "" {
		set := agentSet{from: "agent_skills s WHERE s.skill = ? AND s.level >= ?", args: []any{switchboard.NormalizeSkill(f.Skill), max(f.MinLevel, 1)}}
		if q, err = s.db.keepOrdered(ctx, q, set); err != nil {
			return nil, err
		}
	}
	order := newListOrder(f.Sort, "a.id", map[string]string{"name": "a.sort_name", "created_at": "a.created_at"}, "created_at")
	q = q.Column(order.column) // with the ID, all the page's query reads
	load := func(keys []*agentRow) ([]*switchboard.Agent, error) {
		rows, err := s.db.agentRowsInOrder(ctx, keys)
		if err != nil {
			return nil, err
		}
		return s.db.loadAgents(ctx, s.db.bun, rows)
	}
	return listPage(ctx, q, &keys, order, f.Cursor, limit, load, func(k *agentRow) (any, string) {
		if order.isTime {
			return k.CreatedAt, k.ID
		}
		return k.SortName, k.ID
	})
}

// listTeams returns the teams whose agents a list shows, when it shows those
// of some teams only: a supervisor's teams, or the team of the filter, or
// both (then the filter's team if the supervisor has it, else none).
func (s *AgentService) listTeams(ctx context.Context, sc agentScope, teamID string) ([]string, bool, error) {
	if sc.supervisorID == "" {
		if teamID == "" {
			return nil, false, nil
		}
		return []string{teamID}, true, nil
	}
	supervised, err := s.db.supervisedTeams(ctx, s.db.bun, sc.supervisorID)
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
	sc, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	if !sc.manages() {
		return nil, &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only admins and supervisors may count agents."}
	}
	var groups []struct {
		Status   string `bun:"status"`
		Presence string `bun:"presence"`
		N        int    `bun:"n"`
	}
	q := s.db.bun.NewSelect().Model((*agentRow)(nil)).ColumnExpr("a.status, a.presence, COUNT(*) AS n").Group("a.status", "a.presence")
	if teams, filtered, err := s.listTeams(ctx, sc, ""); err != nil {
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

// CreateAgent creates an agent, linking or inviting the user of a human.
func (s *AgentService) CreateAgent(ctx context.Context, na switchboard.NewAgent) (*switchboard.Agent, *switchboard.Invitation, error) {
	sc, err := scopeOf(ctx)
	if err != nil {
		return nil, nil, err
	}
	if !sc.manages() {
		return nil, nil, errManageForbidden()
	}
	na.Normalize()
	if err := na.Validate(); err != nil {
		return nil, nil, err
	}
	var agent *switchboard.Agent
	var invitation *switchboard.Invitation
	err = s.db.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.checkTeams(ctx, tx, sc, nil, na.TeamIDs, true); err != nil {
			return err
		}
		now := s.db.now()
		row := s.newRow(na, now)
		if na.Kind == switchboard.HumanAgent {
			userID, inv, err := s.db.linkOrInvite(ctx, tx, na.Email, na.Name, now)
			if err != nil {
				return err
			}
			row.UserID = &userID
			if inv != nil && na.Status == "" {
				// An invited person becomes active by accepting.
				row.Status = string(switchboard.AgentPending)
			}
			invitation = inv
		}
		if err := s.insert(ctx, tx, row, na.Skills, na.TeamIDs); err != nil {
			return err
		}
		loaded, err := s.db.loadAgents(ctx, tx, []*agentRow{row})
		if err != nil {
			return err
		}
		agent = loaded[0]
		return s.db.audit(ctx, tx, switchboard.AuditAgentCreated, agentTarget(agent), nil, agentSummary(agent))
	})
	if err != nil {
		return nil, nil, err
	}
	return agent, invitation, nil
}

func (s *AgentService) newRow(na switchboard.NewAgent, now time.Time) *agentRow {
	status := na.Status
	if status == "" {
		status = switchboard.AgentActive
	}
	attributes := na.Attributes
	if attributes == nil {
		attributes = map[string]any{}
	}
	return &agentRow{
		ID:         uuid.Must(uuid.NewV7()).String(),
		Name:       na.Name,
		SortName:   strings.ToLower(na.Name),
		Kind:       string(na.Kind),
		Email:      nilIfEmpty(na.Email),
		Phone:      nilIfEmpty(na.Phone),
		Capacity:   na.Capacity,
		Status:     string(status),
		Presence:   string(switchboard.PresenceOffline),
		Attributes: mustJSON(attributes),
		Notify:     mustJSON(na.Notify),
		Metadata:   "{}",
		CreatedAt:  now,
		UpdatedAt:  now,
		Version:    1,
	}
}

// insert writes an agent with its skills and team memberships.
func (s *AgentService) insert(ctx context.Context, tx bun.Tx, row *agentRow, skills map[string]int, teamIDs []string) error {
	if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
		if isUniqueViolation(err) {
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "This user already has an agent.",
				Fields: []switchboard.FieldError{{Field: "email", Message: "The user with this e-mail address already has an agent."}}}
		}
		return err
	}
	if err := replaceSkills(ctx, tx, row.ID, skills); err != nil {
		return err
	}
	return addMembers(ctx, tx, row.ID, teamIDs)
}

func replaceSkills(ctx context.Context, tx bun.Tx, agentID string, skills map[string]int) error {
	if _, err := tx.NewDelete().Model((*agentSkillRow)(nil)).Where("agent_id = ?", agentID).Exec(ctx); err != nil {
		return err
	}
	if len(skills) == 0 {
		return nil
	}
	rows := make([]agentSkillRow, 0, len(skills))
	for _, name := range switchboard.SortedSkills(skills) {
		rows = append(rows, agentSkillRow{AgentID: agentID, Skill: name, Level: skills[name]})
	}
	_, err := tx.NewInsert().Model(&rows).Exec(ctx)
	return err
}

func addMembers(ctx context.Context, tx bun.Tx, agentID string, teamIDs []string) error {
	if len(teamIDs) == 0 {
		return nil
	}
	rows := make([]teamMemberRow, len(teamIDs))
	for i, t := range teamIDs {
		rows[i] = teamMemberRow{TeamID: t, AgentID: agentID}
	}
	_, err := tx.NewInsert().Model(&rows).Exec(ctx)
	return err
}

// checkTeams verifies that every team of after exists, and that a
// supervisor changes only memberships of teams they supervise. A new agent
// made by a supervisor must join at least one of their teams, or they could
// not see it afterwards.
func (s *AgentService) checkTeams(ctx context.Context, tx bun.IDB, sc agentScope, before, after []string, creating bool) error {
	if len(after) > 0 {
		n, err := tx.NewSelect().Table("teams").Where("id IN (?)", bun.List(after)).Count(ctx)
		if err != nil {
			return err
		}
		if n != int64(len(after)) {
			return &switchboard.Error{Code: switchboard.EINVALID, Message: "One of the teams does not exist.",
				Fields: []switchboard.FieldError{{Field: "teams", Message: "One of the teams does not exist."}}}
		}
	}
	if sc.all {
		return nil
	}
	own, err := s.db.supervisedTeams(ctx, tx, sc.supervisorID)
	if err != nil {
		return err
	}
	for _, id := range after {
		if !slices.Contains(before, id) && !own[id] {
			return errNotYourTeam()
		}
	}
	for _, id := range before {
		if !slices.Contains(after, id) && !own[id] {
			return errNotYourTeam()
		}
	}
	if creating {
		for _, id := range after {
			if own[id] {
				return nil
			}
		}
		return &switchboard.Error{Code: switchboard.EINVALID, Message: "Put the agent in at least one of your teams.",
			Fields: []switchboard.FieldError{{Field: "teams", Message: "Put the agent in at least one of your teams."}}}
	}
	return nil
}

func errNotYourTeam() error {
	return &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "You can only add agents to, or remove them from, teams you supervise.",
		Fields: []switchboard.FieldError{{Field: "teams", Message: "You can only change membership of teams you supervise."}}}
}

// UpdateAgent changes an agent within the actor's scope.
func (s *AgentService) UpdateAgent(ctx context.Context, id string, upd switchboard.AgentUpdate) (*switchboard.Agent, error) {
	sc, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	if !sc.manages() {
		return nil, errManageForbidden()
	}
	var agent *switchboard.Agent
	err = s.db.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row, err := s.findRow(ctx, tx, sc, "a.id = ?", id, true)
		if err != nil {
			return err
		}
		if upd.IfVersion != 0 && upd.IfVersion != row.Version {
			return errStale("agent")
		}
		if row.Status == string(switchboard.AgentRetired) {
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "The agent is retired; retired agents are kept unchanged for history.",
				State: &switchboard.StateConflict{Current: row.Status, Requested: row.Status}}
		}
		if err := upd.Validate(switchboard.AgentKind(row.Kind)); err != nil {
			return err
		}
		if upd.Email != nil && row.Kind == string(switchboard.HumanAgent) && *upd.Email != deref(row.Email) {
			return &switchboard.Error{Code: switchboard.EINVALID, Message: "A human agent's e-mail is the address they sign in with; it cannot be changed here.",
				Fields: []switchboard.FieldError{{Field: "email", Message: "A human agent's e-mail is their sign-in address and cannot be changed here."}}}
		}
		loaded, err := s.db.loadAgents(ctx, tx, []*agentRow{row})
		if err != nil {
			return err
		}
		before := loaded[0]
		if upd.TeamIDs != nil {
			if err := s.checkTeams(ctx, tx, sc, before.TeamIDs(), *upd.TeamIDs, false); err != nil {
				return err
			}
		}
		if upd.Name != nil {
			row.Name, row.SortName = *upd.Name, strings.ToLower(*upd.Name)
		}
		if upd.Email != nil {
			row.Email = nilIfEmpty(*upd.Email)
		}
		if upd.Phone != nil {
			row.Phone = nilIfEmpty(*upd.Phone)
		}
		if upd.Capacity != nil {
			row.Capacity = *upd.Capacity
		}
		if upd.Attributes != nil {
			row.Attributes = mustJSON(*upd.Attributes)
		}
		if upd.Notify != nil {
			row.Notify = mustJSON(*upd.Notify)
		}
		row.Version++
		row.UpdatedAt = s.db.now()
		if _, err := tx.NewUpdate().Model(row).Column("name", "sort_name", "email", "phone", "capacity", "attributes", "notify", "version", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		if upd.Skills != nil {
			if err := replaceSkills(ctx, tx, row.ID, *upd.Skills); err != nil {
				return err
			}
		}
		if upd.TeamIDs != nil {
			if _, err := tx.NewDelete().Model((*teamMemberRow)(nil)).Where("agent_id = ?", row.ID).Exec(ctx); err != nil {
				return err
			}
			if err := addMembers(ctx, tx, row.ID, *upd.TeamIDs); err != nil {
				return err
			}
		}
		if loaded, err = s.db.loadAgents(ctx, tx, []*agentRow{row}); err != nil {
			return err
		}
		agent = loaded[0]
		b, a := changes(agentSummary(before), agentSummary(agent))
		return s.db.audit(ctx, tx, switchboard.AuditAgentUpdated, agentTarget(agent), b, a)
	})
	if err != nil {
		return nil, err
	}
	return agent, nil
}

// SetAgentStatus moves an agent through its lifecycle.
func (s *AgentService) SetAgentStatus(ctx context.Context, id string, status switchboard.AgentStatus, ifVersion int) (*switchboard.Agent, error) {
	sc, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	if !sc.manages() {
		return nil, errManageForbidden()
	}
	var agent *switchboard.Agent
	err = s.db.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row, err := s.findRow(ctx, tx, sc, "a.id = ?", id, true)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != row.Version {
			return errStale("agent")
		}
		from := switchboard.AgentStatus(row.Status)
		if !from.CanTransition(status) {
			allowed := make([]string, 0, 2)
			for _, t := range from.Transitions() {
				allowed = append(allowed, string(t))
			}
			return switchboard.ErrTransition("agent", string(from), string(status), allowed)
		}
		row.Status = string(status)
		row.Version++
		row.UpdatedAt = s.db.now()
		if status != switchboard.AgentActive {
			// Only active agents take work, so only they may look available.
			row.Presence = string(switchboard.PresenceOffline)
		}
		if _, err := tx.NewUpdate().Model(row).Column("status", "presence", "version", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		if status == switchboard.AgentRetired && row.UserID != nil {
			if err := s.retireUser(ctx, tx, *row.UserID); err != nil {
				return err
			}
		}
		loaded, err := s.db.loadAgents(ctx, tx, []*agentRow{row})
		if err != nil {
			return err
		}
		agent = loaded[0]
		return s.db.audit(ctx, tx, switchboard.AuditAgentStatusChanged, agentTarget(agent),
			map[string]any{"status": from}, map[string]any{"status": status})
	})
	if err != nil {
		return nil, err
	}
	return agent, nil
}

// retireUser disables the user of a retired human agent when being an agent
// was all they were there for, so that the person's access ends with their
// work; admins and supervisors keep their accounts.
func (s *AgentService) retireUser(ctx context.Context, tx bun.Tx, userID string) error {
	var u userRow
	if err := s.db.forUpdate(tx.NewSelect().Model(&u).Where("u.id = ?", userID)).Scan(ctx); err != nil {
		return err
	}
	if u.Role != string(switchboard.RoleAgent) || u.Status != string(switchboard.UserActive) {
		return nil
	}
	before := userSummary(&u)
	u.Status = string(switchboard.UserDisabled)
	u.Version++
	u.AuthVersion++
	u.UpdatedAt = s.db.now()
	if _, err := tx.NewUpdate().Model(&u).Column("status", "version", "auth_version", "updated_at").WherePK().Exec(ctx); err != nil {
		return err
	}
	if err := s.db.voidInvitations(ctx, tx, u.ID); err != nil {
		return err
	}
	b, a := changes(before, userSummary(&u))
	return s.db.audit(ctx, tx, switchboard.AuditUserUpdated, userTarget(&u), b, a)
}

// DeleteAgent removes a pending agent, with the invited user made for it.
func (s *AgentService) DeleteAgent(ctx context.Context, id string) error {
	sc, err := scopeOf(ctx)
	if err != nil {
		return err
	}
	if !sc.manages() {
		return errManageForbidden()
	}
	return s.db.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row, err := s.findRow(ctx, tx, sc, "a.id = ?", id, true)
		if err != nil {
			return err
		}
		if row.Status != string(switchboard.AgentPending) {
			return &switchboard.Error{Code: switchboard.ECONFLICT,
				Message: "Only pending agents can be deleted; retire this one instead, which keeps its history.",
				State:   &switchboard.StateConflict{Current: row.Status, Requested: "deleted"}}
		}
		loaded, err := s.db.loadAgents(ctx, tx, []*agentRow{row})
		if err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model(row).WherePK().Exec(ctx); err != nil {
			return err
		}
		if row.UserID != nil {
			// The user invited for this agent never signed in: it goes too.
			if _, err := tx.NewDelete().Model((*userRow)(nil)).
				Where("id = ? AND password_hash = '' AND role = ?", *row.UserID, switchboard.RoleAgent).
				Where("NOT EXISTS (SELECT 1 FROM api_tokens WHERE api_tokens.user_id = ?)", *row.UserID).Exec(ctx); err != nil {
				return err
			}
		}
		return s.db.audit(ctx, tx, switchboard.AuditAgentDeleted, agentTarget(loaded[0]), agentSummary(loaded[0]), nil)
	})
}

// CreateAgentToken issues a token for a machine agent.
func (s *AgentService) CreateAgentToken(ctx context.Context, agentID string, nt switchboard.NewToken) (*switchboard.APIToken, string, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, "", err
	}
	now := s.db.now()
	if nt.ExpiresAt != nil {
		t := nt.ExpiresAt.UTC().Truncate(time.Microsecond)
		nt.ExpiresAt = &t
	}
	if err := nt.Validate(now); err != nil {
		return nil, "", err
	}
	var token *switchboard.APIToken
	var secret string
	err := s.db.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row, err := s.findRow(ctx, tx, agentScope{all: true}, "a.id = ?", agentID, true)
		if err != nil {
			return err
		}
		switch {
		case row.Kind != string(switchboard.MachineAgent):
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "Only machine agents have agent tokens; people sign in."}
		case row.Status == string(switchboard.AgentRetired):
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "The agent is retired.",
				State: &switchboard.StateConflict{Current: row.Status, Requested: row.Status}}
		}
		token, secret, err = s.db.insertAgentToken(ctx, tx, row, nt.Name, nt.ExpiresAt, now)
		if err != nil {
			return err
		}
		return s.db.audit(ctx, tx, switchboard.AuditTokenCreated, tokenTarget(token, row.Name), nil, tokenSummary(token))
	})
	if err != nil {
		return nil, "", err
	}
	return token, secret, nil
}

func (db *DB) insertAgentToken(ctx context.Context, tx bun.Tx, agent *agentRow, name string, expiresAt *time.Time, now time.Time) (*switchboard.APIToken, string, error) {
	secret := switchboard.NewSecret(switchboard.AgentTokenPrefix)
	row := &tokenRow{
		ID:         uuid.Must(uuid.NewV7()).String(),
		Kind:       string(switchboard.AgentToken),
		Name:       name,
		AgentID:    &agent.ID,
		Prefix:     switchboard.SecretPrefix(secret),
		SecretHash: switchboard.HashSecret(secret),
		CreatedAt:  now,
		ExpiresAt:  expiresAt,
	}
	if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
		return nil, "", err
	}
	return row.domain(), secret, nil
}

// FindAgentTokens lists an agent's tokens, newest first.
func (s *AgentService) FindAgentTokens(ctx context.Context, agentID string, f switchboard.TokenFilter) (*switchboard.Page[*switchboard.APIToken], error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if _, err := s.findRow(ctx, s.db.bun, agentScope{all: true}, "a.id = ?", agentID, false); err != nil {
		return nil, err
	}
	var v switchboard.Validation
	limit := switchboard.PageLimit(&v, f.Limit)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.db.tokenPage(ctx, "t.agent_id = ?", []any{agentID}, limit, f.Cursor)
}

// RevokeAgentToken revokes one of an agent's tokens.
func (s *AgentService) RevokeAgentToken(ctx context.Context, agentID, tokenID string) error {
	if err := requireAdmin(ctx); err != nil {
		return err
	}
	return s.db.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var row tokenRow
		err := s.db.forUpdate(tx.NewSelect().Model(&row).Where("t.id = ? AND t.agent_id = ?", tokenID, agentID)).Scan(ctx)
		if errors.Is(err, errNoRows) {
			return errTokenNotFound()
		} else if err != nil {
			return err
		}
		return s.db.revoke(ctx, tx, &row)
	})
}
