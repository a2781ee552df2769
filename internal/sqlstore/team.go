package sqlstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type teamRow struct {
	bun.BaseModel `bun:"table:teams,alias:t"`

	ID          string    `bun:"id,pk"`
	Name        string    `bun:"name"`
	SortName    string    `bun:"sort_name"`
	Description string    `bun:"description"`
	CreatedAt   time.Time `bun:"created_at"`
	UpdatedAt   time.Time `bun:"updated_at"`
	Version     int       `bun:"version"`
}

type teamSupervisorRow struct {
	bun.BaseModel `bun:"table:team_supervisors,alias:ts"`

	TeamID string `bun:"team_id,pk"`
	UserID string `bun:"user_id,pk"`
}

// teamEvent is an event about a team, for admins and its supervisors.
func teamEvent(typ string, t *switchboard.Team) switchboard.Event {
	return switchboard.Event{Type: typ, Subject: switchboard.EventSubject{Type: "team", ID: t.ID, Name: t.Name}, TeamIDs: []string{t.ID}}
}

func teamSummary(t *switchboard.Team) map[string]any {
	sups := make([]string, len(t.Supervisors))
	for i, s := range t.Supervisors {
		sups[i] = s.Email
	}
	return map[string]any{"name": t.Name, "description": t.Description, "supervisors": sups}
}

// TeamService implements switchboard.TeamService.
type TeamService struct {
	db *DB
}

var _ switchboard.TeamService = (*TeamService)(nil)

// NewTeamService returns the team service on db.
func NewTeamService(db *DB) *TeamService { return &TeamService{db: db} }

func errTeamNotFound() error {
	return &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "No such team."}
}

// teamScope limits a query to the teams the actor may see.
func teamScope(ctx context.Context, q *bun.SelectQuery) (*bun.SelectQuery, error) {
	a := switchboard.ActorFromContext(ctx)
	switch {
	case a == nil:
		return nil, switchboard.ErrSignInFirst
	case a.IsAdmin():
		return q, nil
	case a.Role() == switchboard.RoleSupervisor:
		return q.Where("EXISTS (SELECT 1 FROM team_supervisors sts WHERE sts.team_id = t.id AND sts.user_id = ?)", a.User.ID), nil
	}
	return nil, &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only admins and supervisors may see teams."}
}

// FindTeamByID returns a team the actor may see.
func (s *TeamService) FindTeamByID(ctx context.Context, id string) (*switchboard.Team, error) {
	return s.find(ctx, s.db.bun, id, false)
}

func (s *TeamService) find(ctx context.Context, idb bun.IDB, id string, lock bool) (*switchboard.Team, error) {
	var row teamRow
	q, err := teamScope(ctx, idb.NewSelect().Model(&row).Where("t.id = ?", id))
	if err != nil {
		return nil, err
	}
	if lock {
		q = forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, errNoRows) {
			return nil, errTeamNotFound()
		}
		return nil, translate(err)
	}
	teams, err := s.load(ctx, idb, []*teamRow{&row})
	if err != nil {
		return nil, translate(err)
	}
	return teams[0], nil
}

// load turns rows into teams with supervisors and member counts.
func (s *TeamService) load(ctx context.Context, idb bun.IDB, rows []*teamRow) ([]*switchboard.Team, error) {
	teams := make([]*switchboard.Team, len(rows))
	byID := make(map[string]*switchboard.Team, len(rows))
	ids := make([]string, len(rows))
	for i, r := range rows {
		teams[i] = &switchboard.Team{ID: r.ID, Name: r.Name, Description: r.Description,
			CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Version: r.Version, Supervisors: []switchboard.UserRef{}}
		byID[r.ID] = teams[i]
		ids[i] = r.ID
	}
	if len(ids) == 0 {
		return teams, nil
	}
	var sups []struct {
		TeamID string `bun:"team_id"`
		ID     string `bun:"id"`
		Name   string `bun:"name"`
		Email  string `bun:"email"`
	}
	err := idb.NewSelect().TableExpr("team_supervisors AS ts").Join("JOIN users AS u ON u.id = ts.user_id").
		ColumnExpr("ts.team_id, u.id, u.name, u.email").Where("ts.team_id IN (?)", bun.List(ids)).
		OrderExpr("u.name, u.id").Scan(ctx, &sups)
	if err != nil {
		return nil, err
	}
	for _, su := range sups {
		t := byID[su.TeamID]
		t.Supervisors = append(t.Supervisors, switchboard.UserRef{ID: su.ID, Name: su.Name, Email: su.Email})
	}
	var counts []struct {
		TeamID string `bun:"team_id"`
		N      int    `bun:"n"`
	}
	err = idb.NewSelect().Table("team_members").ColumnExpr("team_id, COUNT(*) AS n").
		Where("team_id IN (?)", bun.List(ids)).Group("team_id").Scan(ctx, &counts)
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		byID[c.TeamID].MemberCount = c.N
	}
	return teams, nil
}

// FindTeams returns one page of the teams the actor may see, by name.
func (s *TeamService) FindTeams(ctx context.Context, f switchboard.TeamFilter) (*switchboard.Page[*switchboard.Team], error) {
	var v switchboard.Validation
	limit := switchboard.PageLimit(&v, f.Limit)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var rows []*teamRow
	q, err := teamScope(ctx, s.db.bun.NewSelect().Model(&rows))
	if err != nil {
		return nil, err
	}
	if f.Query != "" {
		q = q.Where(s.db.ilike("t.name"), likePattern(f.Query))
	}
	order := newListOrder("name", "t.id", map[string]string{"name": "t.sort_name"})
	load := func(rows []*teamRow) ([]*switchboard.Team, error) { return s.load(ctx, s.db.bun, rows) }
	return listPage(ctx, q, &rows, order, f.Cursor, limit, load,
		func(r *teamRow) (any, string) { return r.SortName, r.ID })
}

func errTeamNameTaken() error {
	return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "A team with this name already exists.",
		Fields: []switchboard.FieldError{{Field: "name", Message: "A team with this name already exists."}}}
}

// moreProblems adds to invalid, the fields' problems, those that only the
// database shows and that would otherwise be reported only once the others
// are corrected: a name another team has, supervisors who cannot be.
func (s *TeamService) moreProblems(ctx context.Context, invalid error, id string, name *string, supervisorIDs *[]string) error {
	var v switchboard.Validation
	v.Merge(0, invalid)
	if name != nil && !v.Has("name") {
		n, err := s.db.bun.NewSelect().Model((*teamRow)(nil)).Where("sort_name = ? AND id <> ?", strings.ToLower(*name), id).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			v.Add("name", "A team with this name already exists.")
		}
	}
	if supervisorIDs != nil && len(*supervisorIDs) > 0 && !v.Has("supervisors") {
		n, err := s.db.bun.NewSelect().Model((*userRow)(nil)).
			Where("u.id IN (?) AND u.role IN (?) AND u.status = ?", bun.List(*supervisorIDs),
				bun.List([]switchboard.Role{switchboard.RoleSupervisor, switchboard.RoleAdmin}), switchboard.UserActive).Count(ctx)
		if err != nil {
			return err
		}
		if n != int64(len(*supervisorIDs)) {
			v.Add("supervisors", "Supervisors must be active users with the supervisor or admin role.")
		}
	}
	return v.Err()
}

// CreateTeam creates a team.
func (s *TeamService) CreateTeam(ctx context.Context, nt switchboard.NewTeam) (*switchboard.Team, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := nt.Validate(); err != nil {
		return nil, s.moreProblems(ctx, err, "", &nt.Name, &nt.SupervisorIDs)
	}
	var team *switchboard.Team
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		now := tx.now
		row := &teamRow{ID: uuid.Must(uuid.NewV7()).String(), Name: nt.Name, SortName: strings.ToLower(nt.Name), Description: nt.Description, CreatedAt: now, UpdatedAt: now, Version: 1}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			if isUniqueViolation(err) {
				return errTeamNameTaken()
			}
			return err
		}
		if err := s.setSupervisors(ctx, tx, row.ID, nt.SupervisorIDs); err != nil {
			return err
		}
		teams, err := s.load(ctx, tx, []*teamRow{row})
		if err != nil {
			return err
		}
		team = teams[0]
		e := teamEvent(switchboard.AuditTeamCreated, team)
		e.After = teamSummary(team)
		tx.Record(e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return team, nil
}

// setSupervisors replaces a team's supervisors, who must be active users in
// role supervisor or admin. A supervisor who leaves the team loses the
// enrollment keys they made for it.
func (s *TeamService) setSupervisors(ctx context.Context, tx *Tx, teamID string, userIDs []string) error {
	if len(userIDs) > 0 {
		// Lock the users, so that none is demoted while being made a
		// supervisor (UpdateUser locks the user too).
		var ids []string
		q := tx.NewSelect().Model((*userRow)(nil)).Column("id").
			Where("u.id IN (?) AND u.role IN (?) AND u.status = ?", bun.List(userIDs),
				bun.List([]switchboard.Role{switchboard.RoleSupervisor, switchboard.RoleAdmin}), switchboard.UserActive)
		if err := forUpdate(q).Scan(ctx, &ids); err != nil {
			return err
		}
		if len(ids) != len(userIDs) {
			return &switchboard.Error{Code: switchboard.EINVALID, Message: "Supervisors must be active users with the supervisor or admin role.",
				Fields: []switchboard.FieldError{{Field: "supervisors", Message: "Supervisors must be active users with the supervisor or admin role."}}}
		}
	}
	var previous []string
	if err := tx.NewSelect().Model((*teamSupervisorRow)(nil)).Column("user_id").Where("team_id = ?", teamID).Scan(ctx, &previous); err != nil {
		return err
	}
	if _, err := tx.NewDelete().Model((*teamSupervisorRow)(nil)).Where("team_id = ?", teamID).Exec(ctx); err != nil {
		return err
	}
	if len(userIDs) > 0 {
		rows := make([]teamSupervisorRow, len(userIDs))
		for i, id := range userIDs {
			rows[i] = teamSupervisorRow{TeamID: teamID, UserID: id}
		}
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return err
		}
	}
	for _, id := range previous {
		if !slices.Contains(userIDs, id) {
			if err := revokeKeysBeyondGrant(ctx, tx, id, "creator no longer supervises the team"); err != nil {
				return err
			}
		}
	}
	return nil
}

// UpdateTeam changes a team.
func (s *TeamService) UpdateTeam(ctx context.Context, id string, upd switchboard.TeamUpdate) (*switchboard.Team, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := upd.Validate(); err != nil {
		return nil, s.moreProblems(ctx, err, id, upd.Name, upd.SupervisorIDs)
	}
	var team *switchboard.Team
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		before, err := s.find(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if upd.IfVersion != 0 && upd.IfVersion != before.Version {
			return errStale("team")
		}
		row := &teamRow{ID: before.ID, Name: before.Name, Description: before.Description, CreatedAt: before.CreatedAt,
			UpdatedAt: tx.now, Version: before.Version + 1}
		if upd.Name != nil {
			row.Name = *upd.Name
		}
		row.SortName = strings.ToLower(row.Name)
		if upd.Description != nil {
			row.Description = *upd.Description
		}
		if _, err := tx.NewUpdate().Model(row).Column("name", "sort_name", "description", "updated_at", "version").WherePK().Exec(ctx); err != nil {
			if isUniqueViolation(err) {
				return errTeamNameTaken()
			}
			return err
		}
		if upd.SupervisorIDs != nil {
			if err := s.setSupervisors(ctx, tx, id, *upd.SupervisorIDs); err != nil {
				return err
			}
		}
		added, removed, err := s.changeMembers(ctx, tx, id, upd.AddMembers, upd.RemoveMembers)
		if err != nil {
			return err
		}
		teams, err := s.load(ctx, tx, []*teamRow{row})
		if err != nil {
			return err
		}
		team = teams[0]
		e := teamEvent(switchboard.AuditTeamUpdated, team)
		e.Before, e.After = changes(teamSummary(before), teamSummary(team))
		if len(added) > 0 {
			e.After["members_added"] = added
		}
		if len(removed) > 0 {
			e.Before["members_removed"] = removed
		}
		tx.Record(e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return team, nil
}

// lockAgents locks the agents that where selects, in the order of their
// IDs, before a change takes or deletes their memberships: routing takes
// an agent and then its memberships (see noteAssigned). The other way
// round, a routing holding an agent waited for a membership the change
// held, while the change waited for the agent.
func lockAgents(ctx context.Context, tx *Tx, where string, args ...any) error {
	var locked []string
	return forUpdate(tx.NewSelect().Model((*agentRow)(nil)).Column("a.id").Where(where, args...).OrderExpr("a.id")).Scan(ctx, &locked)
}

// changeMembers adds and removes agents, returning the names of those whose
// membership changed. Retired agents cannot join.
func (s *TeamService) changeMembers(ctx context.Context, tx *Tx, teamID string, add, remove []string) ([]string, []string, error) {
	var added, removed []string
	// The agents first, then their memberships (see lockAgents).
	if all := append(slices.Clone(add), remove...); len(all) > 0 {
		if err := lockAgents(ctx, tx, "a.id IN (?)", bun.List(all)); err != nil {
			return nil, nil, err
		}
	}
	if len(add) > 0 {
		var agents []struct {
			ID     string `bun:"id"`
			Name   string `bun:"name"`
			Status string `bun:"status"`
			Member bool   `bun:"member"`
		}
		err := tx.NewSelect().Model((*agentRow)(nil)).
			ColumnExpr("a.id, a.name, a.status").
			ColumnExpr("EXISTS (SELECT 1 FROM team_members m WHERE m.agent_id = a.id AND m.team_id = ?) AS member", teamID).
			Where("a.id IN (?)", bun.List(add)).Scan(ctx, &agents)
		if err != nil {
			return nil, nil, err
		}
		if len(agents) != len(add) {
			return nil, nil, &switchboard.Error{Code: switchboard.EINVALID, Message: "One of the agents to add does not exist.",
				Fields: []switchboard.FieldError{{Field: "add_members", Message: "One of the agents to add does not exist."}}}
		}
		var ids []string
		for _, a := range agents {
			if a.Status == string(switchboard.AgentRetired) {
				return nil, nil, &switchboard.Error{Code: switchboard.EINVALID, Message: "Agent " + a.Name + " is retired and cannot join a team.",
					Fields: []switchboard.FieldError{{Field: "add_members", Message: "Agent " + a.Name + " is retired."}}}
			}
			if !a.Member {
				ids = append(ids, a.ID)
				added = append(added, a.Name)
			}
		}
		if len(ids) > 0 {
			if err := insertMemberships(ctx, tx, []string{teamID}, ids); err != nil {
				return nil, nil, err
			}
		}
		if err := s.db.teamsChanged(ctx, tx, ids); err != nil {
			return nil, nil, err
		}
	}
	if len(remove) > 0 {
		err := tx.NewSelect().Model((*agentRow)(nil)).Column("name").
			Where("a.id IN (?) AND EXISTS (SELECT 1 FROM team_members m WHERE m.agent_id = a.id AND m.team_id = ?)", bun.List(remove), teamID).
			Scan(ctx, &removed)
		if err != nil {
			return nil, nil, err
		}
		if _, err := tx.NewDelete().Model((*teamMemberRow)(nil)).Where("team_id = ? AND agent_id IN (?)", teamID, bun.List(remove)).Exec(ctx); err != nil {
			return nil, nil, err
		}
		if err := s.db.teamsChanged(ctx, tx, remove); err != nil {
			return nil, nil, err
		}
	}
	return added, removed, nil
}

// DeleteTeam deletes a team; memberships and supervisions go with it.
func (s *TeamService) DeleteTeam(ctx context.Context, id string) error {
	if err := requireAdmin(ctx); err != nil {
		return err
	}
	return s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		team, err := s.find(ctx, tx, id, true)
		if err != nil {
			return err
		}
		// The members go with the team: their agents are locked first, as
		// routing locks an agent before its memberships.
		if err := lockAgents(ctx, tx, "a.id IN (SELECT tm.agent_id FROM team_members tm WHERE tm.team_id = ?)", id); err != nil {
			return err
		}
		// A key whose team is gone would enroll agents into no team, out of
		// its supervisor's sight: it ends with the team.
		var keys []*enrollmentKeyRow
		if err := forUpdate(tx.NewSelect().Model(&keys).ColumnExpr("ek.*").
			Where("ek.team_id = ? AND ek.revoked_at IS NULL", id)).Scan(ctx); err != nil {
			return err
		}
		for _, k := range keys {
			k.RevokedAt = &tx.now
			if _, err := tx.NewUpdate().Model(k).Column("revoked_at").WherePK().Exec(ctx); err != nil {
				return err
			}
			e := keyEvent(switchboard.AuditKeyRevoked, k)
			e.After = map[string]any{"reason": "its team was deleted"}
			tx.Record(e)
		}
		if _, err := tx.NewDelete().Model((*teamRow)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
			return err
		}
		summary := teamSummary(team)
		summary["members"] = team.MemberCount
		e := teamEvent(switchboard.AuditTeamDeleted, team)
		e.Before = summary
		tx.Record(e)
		return nil
	})
}
