package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
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
	OwnsUser   bool       `bun:"owns_user"` // the user was created for this agent, and ends with it
	Attributes string     `bun:"attributes"`
	Notify     string     `bun:"notify"`
	Metadata   string     `bun:"metadata"`
	LastSeenAt *time.Time `bun:"last_seen_at"`
	// SeenMark is the sweeper's copy of LastSeenAt, moved by heartbeats
	// only every seenMarkStep; never after it.
	SeenMark *time.Time `bun:"seen_mark"`
	// TeamSet is the key of the set of teams the agent is counted in (see
	// counts.go); every change of its teams changes it.
	TeamSet   string    `bun:"team_set"`
	CreatedAt time.Time `bun:"created_at"`
	UpdatedAt time.Time `bun:"updated_at"`
	Version   int       `bun:"version"`
	// SkillLevel is read by a list sorted by the level of a skill.
	SkillLevel int `bun:"skill_level,scanonly"`
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
	// LastAssignedAt and Ready are the agent's, kept with it (see
	// noteAssigned, noteReadiness), which routing reads a team's agents by.
	LastAssignedAt *time.Time `bun:"last_assigned_at"`
	Ready          bool       `bun:"ready"`
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
	_ = unmarshalJSON(r.Attributes, &a.Attributes)
	_ = json.Unmarshal([]byte(r.Notify), &a.Notify)
	_ = unmarshalJSON(r.Metadata, &a.Metadata)
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

// unmarshalJSON decodes JSON read from the database keeping numbers exact
// (as json.Number): free-form objects may hold integers above 2^53, which a
// float64 would round.
func unmarshalJSON(data string, v any) error {
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
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

// agentEvent is an event about an agent, for the supervisors of its teams
// (those it was in before the change too) and for the agent itself.
func agentEvent(typ string, a *switchboard.Agent, teamsBefore []string) switchboard.Event {
	return switchboard.Event{Type: typ, Subject: switchboard.EventSubject{Type: "agent", ID: a.ID, Name: a.Name},
		TeamIDs: teamsOfChange(teamsBefore, a.TeamIDs()), AgentID: a.ID}
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

// applyScope keeps the agents of a scope in a query on agents (alias a).
func applyScope(q *bun.SelectQuery, sc switchboard.Scope) *bun.SelectQuery {
	switch {
	case sc.All:
		return q
	case sc.SupervisorID != "":
		return q.Where("EXISTS (SELECT 1 FROM team_members stm JOIN team_supervisors sts ON sts.team_id = stm.team_id WHERE stm.agent_id = a.id AND sts.user_id = ?)", sc.SupervisorID)
	case sc.AgentID != "":
		return q.Where("a.id = ?", sc.AgentID)
	}
	return q.Where("a.user_id = ?", sc.UserID)
}

// managerScope is the scope of an actor who may manage agents.
func managerScope(ctx context.Context) (switchboard.Scope, error) {
	return switchboard.RequireManager(switchboard.ActorFromContext(ctx), "manage agents")
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
	sc, err := switchboard.ScopeOf(switchboard.ActorFromContext(ctx))
	if err != nil {
		return nil, err
	}
	return s.db.findAgent(ctx, s.db.bun, sc, "a.id = ?", id, false)
}

// FindAgentByUserID returns the agent linked to a user, within scope; a user
// may always see their own agent.
func (s *AgentService) FindAgentByUserID(ctx context.Context, userID string) (*switchboard.Agent, error) {
	sc, err := switchboard.ScopeOf(switchboard.ActorFromContext(ctx))
	if err != nil {
		return nil, err
	}
	if switchboard.ActorFromContext(ctx).UserID() == userID {
		sc = switchboard.Scope{UserID: userID}
	}
	return s.db.findAgent(ctx, s.db.bun, sc, "a.user_id = ?", userID, false)
}

// FindAgentsByUserIDs returns the agents within the actor's scope linked to
// any of the users.
func (s *AgentService) FindAgentsByUserIDs(ctx context.Context, userIDs []string) ([]*switchboard.Agent, error) {
	sc, err := switchboard.ScopeOf(switchboard.ActorFromContext(ctx))
	if err != nil {
		return nil, err
	}
	if len(userIDs) == 0 {
		return nil, nil
	}
	var rows []*agentRow
	if err := applyScope(s.db.bun.NewSelect().Model(&rows).Where("a.user_id IN (?)", bun.List(userIDs)), sc).Scan(ctx); err != nil {
		return nil, err
	}
	return s.db.loadAgents(ctx, s.db.bun, rows)
}

// findAgent returns the agent within scope that matches a condition.
// ENOTFOUND.
func (db *DB) findAgent(ctx context.Context, idb bun.IDB, sc switchboard.Scope, where string, arg any, lock bool) (*switchboard.Agent, error) {
	row, err := findAgentRow(ctx, idb, sc, where, arg, lock)
	if err != nil {
		return nil, err
	}
	agents, err := db.loadAgents(ctx, idb, []*agentRow{row})
	if err != nil {
		return nil, err
	}
	return agents[0], nil
}

// findAgentRow returns the row of the agent within scope that matches a
// condition, locked for update when lock is set. ENOTFOUND.
func findAgentRow(ctx context.Context, idb bun.IDB, sc switchboard.Scope, where string, arg any, lock bool) (*agentRow, error) {
	var row agentRow
	q := applyScope(idb.NewSelect().Model(&row).Where(where, arg), sc)
	if lock {
		q = forUpdate(q)
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

// CreateAgent creates an agent, linking or inviting the user of a human.
func (s *AgentService) CreateAgent(ctx context.Context, na switchboard.NewAgent) (*switchboard.Agent, *switchboard.Invitation, error) {
	sc, err := managerScope(ctx)
	if err != nil {
		return nil, nil, err
	}
	na.Normalize()
	invalid := na.Validate()
	var agent *switchboard.Agent
	var invitation *switchboard.Invitation
	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		// Teams that do not exist are reported with the other mistakes,
		// not after they are corrected.
		var v switchboard.Validation
		v.Merge(0, invalid)
		if !v.Has("teams") {
			if err := s.checkTeams(ctx, tx, sc, nil, na.TeamIDs, true); switchboard.ErrorCode(err) == switchboard.EINVALID {
				v.Merge(0, err)
			} else if err != nil {
				return err
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		row := newAgentRow(na, tx.now)
		if na.Kind == switchboard.HumanAgent {
			userID, inv, err := linkOrInvite(ctx, tx, na.Email, na.Name)
			if err != nil {
				return err
			}
			row.UserID, row.OwnsUser = &userID, inv != nil
			if inv != nil && na.Status == "" {
				// An invited person becomes active by accepting.
				row.Status = string(switchboard.AgentPending)
			}
			invitation = inv
		}
		if err := insertAgent(ctx, tx, row, na.Skills, na.TeamIDs); err != nil {
			return err
		}
		loaded, err := s.db.loadAgents(ctx, tx, []*agentRow{row})
		if err != nil {
			return err
		}
		agent = loaded[0]
		e := agentEvent(switchboard.AuditAgentCreated, agent, nil)
		e.After = agentSummary(agent)
		tx.Record(e)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return agent, invitation, nil
}

// newAgentRow is the row of a new agent.
func newAgentRow(na switchboard.NewAgent, now time.Time) *agentRow {
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

// insertAgent writes an agent with its skills and team memberships, and
// counts it.
func insertAgent(ctx context.Context, tx *Tx, row *agentRow, skills map[string]int, teamIDs []string) error {
	if err := tx.db.setTeams(ctx, tx, row, teamIDs); err != nil {
		return err
	}
	if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
		if isUniqueViolation(err) {
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "This user already has an agent.",
				Fields: []switchboard.FieldError{{Field: "email", Message: "The user with this e-mail address already has an agent."}}}
		}
		return err
	}
	tx.agentAdded(row)
	if err := replaceSkills(ctx, tx, row.ID, skills); err != nil {
		return err
	}
	return addMembers(ctx, tx, row.ID, teamIDs)
}

func replaceSkills(ctx context.Context, tx *Tx, agentID string, skills map[string]int) error {
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

// addMembers makes an agent a member of teams (see insertMemberships).
func addMembers(ctx context.Context, tx *Tx, agentID string, teamIDs []string) error {
	if len(teamIDs) == 0 {
		return nil
	}
	return insertMemberships(ctx, tx, teamIDs, []string{agentID})
}

// insertMemberships makes each agent a member of each team. A membership
// takes what routing reads a team's agents by (see teamCandidates) from
// its agent's row, which the change must have locked or made.
func insertMemberships(ctx context.Context, tx *Tx, teamIDs, agentIDs []string) error {
	res, err := tx.NewRaw("INSERT INTO team_members (team_id, agent_id, last_assigned_at, ready) "+
		"SELECT t.id, a.id, a.last_assigned_at, "+agentReady+" FROM teams AS t JOIN agents AS a ON a.id IN (?) WHERE t.id IN (?)",
		bun.List(agentIDs), bun.List(teamIDs)).Exec(ctx)
	if err != nil {
		return err
	}
	// A team deleted since the change checked it joins nothing: a foreign
	// key would have refused the membership, and so must this.
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	tx.membershipsAdded += int(n)
	if want := len(distinct(teamIDs)) * len(distinct(agentIDs)); int(n) != want {
		return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "One of the teams or agents was deleted meanwhile; try again.",
			Fields: []switchboard.FieldError{{Field: "teams", Message: "One of the teams or agents was deleted meanwhile."}}}
	}
	return nil
}

// distinct is ids without repeats.
func distinct(ids []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(ids)))
}

// ready reports whether the agent may take work, as far as its status and
// presence say: what its memberships keep (see noteReadiness).
func (r *agentRow) ready() bool {
	return r.Status == string(switchboard.AgentActive) &&
		(r.Presence == string(switchboard.PresenceAvailable) || r.Presence == string(switchboard.PresenceBusy))
}

// noteReadiness gives an agent's memberships whether it may take work, when
// a change of its status or presence made it so or not; was is what the
// row said before. The row is locked, as routing locks it before the
// memberships (see noteAssigned).
func noteReadiness(ctx context.Context, tx *Tx, row *agentRow, was bool) error {
	if row.ready() == was {
		return nil
	}
	_, err := tx.NewUpdate().Table("team_members").Set("ready = ?", row.ready()).Where("agent_id = ?", row.ID).Exec(ctx)
	return err
}

// checkTeams verifies that every team of after exists, and that a
// supervisor changes only memberships of teams they supervise. A new agent
// made by a supervisor must join at least one of their teams, or they could
// not see it afterwards.
func (s *AgentService) checkTeams(ctx context.Context, tx bun.IDB, sc switchboard.Scope, before, after []string, creating bool) error {
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
	if sc.All {
		return nil
	}
	own, err := s.db.supervisedTeams(ctx, tx, sc.SupervisorID)
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
	sc, err := managerScope(ctx)
	if err != nil {
		return nil, err
	}
	var agent *switchboard.Agent
	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		row, err := findAgentRow(ctx, tx, sc, "a.id = ?", id, true)
		if err != nil {
			return err
		}
		if upd.IfVersion != 0 && upd.IfVersion != row.Version {
			return errStale("agent")
		}
		was := row.count()
		if row.Status == string(switchboard.AgentRetired) {
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "The agent is retired; retired agents are kept unchanged for history.",
				State: &switchboard.StateConflict{Current: row.Status, Requested: row.Status}}
		}
		// Every mistake at once: the fields', then those only the database
		// shows (teams that do not exist).
		var v switchboard.Validation
		v.Merge(0, upd.Validate(switchboard.AgentKind(row.Kind)))
		if upd.Email != nil && row.Kind == string(switchboard.HumanAgent) && *upd.Email != deref(row.Email) && !v.Has("email") {
			v.Add("email", "A human agent's e-mail is their sign-in address and cannot be changed here.")
		}
		loaded, err := s.db.loadAgents(ctx, tx, []*agentRow{row})
		if err != nil {
			return err
		}
		before := loaded[0]
		if upd.TeamIDs != nil && !v.Has("teams") {
			if err := s.checkTeams(ctx, tx, sc, before.TeamIDs(), *upd.TeamIDs, false); switchboard.ErrorCode(err) == switchboard.EINVALID {
				v.Merge(0, err)
			} else if err != nil {
				return err
			}
		}
		if err := v.Err(); err != nil {
			return err
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
		if upd.TeamIDs != nil {
			if err := s.db.setTeams(ctx, tx, row, *upd.TeamIDs); err != nil {
				return err
			}
		}
		row.Version++
		row.UpdatedAt = tx.now
		if _, err := tx.NewUpdate().Model(row).Column("name", "sort_name", "email", "phone", "capacity", "attributes", "notify", "team_set", "version", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		tx.agentChanged(was, row)
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
		e := agentEvent(switchboard.AuditAgentUpdated, agent, before.TeamIDs())
		e.Before, e.After = changes(agentSummary(before), agentSummary(agent))
		tx.Record(e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return agent, nil
}

// SetAgentStatus moves an agent through its lifecycle.
func (s *AgentService) SetAgentStatus(ctx context.Context, id string, status switchboard.AgentStatus, ifVersion int) (*switchboard.Agent, error) {
	sc, err := managerScope(ctx)
	if err != nil {
		return nil, err
	}
	var agent *switchboard.Agent
	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		row, err := findAgentRow(ctx, tx, sc, "a.id = ?", id, true)
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
		agent, err = s.setStatus(ctx, tx, row, status)
		return err
	})
	if err != nil {
		return nil, err
	}
	return agent, nil
}

// setStatus moves the agent of a locked row to a status its own allows, and
// records the change: for one agent and for many alike.
func (s *AgentService) setStatus(ctx context.Context, tx *Tx, row *agentRow, status switchboard.AgentStatus) (*switchboard.Agent, error) {
	from, was, wasReady := switchboard.AgentStatus(row.Status), row.count(), row.ready()
	row.Status = string(status)
	row.Version++
	row.UpdatedAt = tx.now
	if _, err := tx.NewUpdate().Model(row).Column("status", "version", "updated_at").WherePK().Exec(ctx); err != nil {
		return nil, err
	}
	tx.agentChanged(was, row)
	if err := noteReadiness(ctx, tx, row, wasReady); err != nil {
		return nil, err
	}
	if status != switchboard.AgentActive {
		// Only active agents take work, so only they may look available.
		if err := s.db.changePresence(ctx, tx, row, switchboard.PresenceOffline, "agent "+string(status)); err != nil {
			return nil, err
		}
	}
	if status == switchboard.AgentRetired && row.UserID != nil && row.OwnsUser {
		if err := s.retireUser(ctx, tx, *row.UserID); err != nil {
			return nil, err
		}
	}
	loaded, err := s.db.loadAgents(ctx, tx, []*agentRow{row})
	if err != nil {
		return nil, err
	}
	e := agentEvent(switchboard.AuditAgentStatusChanged, loaded[0], nil)
	e.Before, e.After = map[string]any{"status": from}, map[string]any{"status": status}
	tx.Record(e)
	return loaded[0], nil
}

// retireUser disables the user created for a retired human agent when being
// an agent is still all they are there for, so that the person's access
// ends with their work. An account an admin linked to the agent, and anyone
// since made an admin or supervisor, keeps it.
func (s *AgentService) retireUser(ctx context.Context, tx *Tx, userID string) error {
	var u userRow
	if err := forUpdate(tx.NewSelect().Model(&u).Where("u.id = ?", userID)).Scan(ctx); err != nil {
		return err
	}
	if u.Role != string(switchboard.RoleAgent) || u.Status != string(switchboard.UserActive) {
		return nil
	}
	before := userSummary(&u)
	u.Status = string(switchboard.UserDisabled)
	u.Version++
	u.AuthVersion++
	u.UpdatedAt = tx.now
	if _, err := tx.NewUpdate().Model(&u).Column("status", "version", "auth_version", "updated_at").WherePK().Exec(ctx); err != nil {
		return err
	}
	if err := voidInvitations(ctx, tx, u.ID); err != nil {
		return err
	}
	tx.recordChange(switchboard.AuditUserUpdated, userSubject(&u), before, userSummary(&u), eventScope{})
	return revokeBeyondStanding(ctx, tx, &u, before)
}

// DeleteAgent removes a pending agent, with the invited user made for it.
func (s *AgentService) DeleteAgent(ctx context.Context, id string) error {
	sc, err := managerScope(ctx)
	if err != nil {
		return err
	}
	return s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		row, err := findAgentRow(ctx, tx, sc, "a.id = ?", id, true)
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
		tx.agentRemoved(row)
		if row.UserID != nil && row.OwnsUser {
			// The user invited for this agent never signed in: it goes too.
			res, err := tx.NewDelete().Model((*userRow)(nil)).
				Where("id = ? AND password_hash = '' AND role = ?", *row.UserID, switchboard.RoleAgent).
				Where("NOT EXISTS (SELECT 1 FROM api_tokens WHERE api_tokens.user_id = ?)", *row.UserID).Exec(ctx)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			tx.usersAdded -= int(n)
		}
		e := agentEvent(switchboard.AuditAgentDeleted, loaded[0], nil)
		e.Before = agentSummary(loaded[0])
		tx.Record(e)
		return nil
	})
}
