package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// ImportAgents creates every agent of rows, or none. Every row is checked
// against the database before anything is written: team names must exist,
// e-mail addresses must not repeat within the file, and a person must not
// already have an agent. Rows with problems found while reading the file are
// checked too, so that every problem of the file is reported at once.
func (s *AgentService) ImportAgents(ctx context.Context, rows []switchboard.ImportRow) (*switchboard.ImportResult, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var v switchboard.Validation
	if len(rows) == 0 {
		v.AddLine(2, "row", "The file has no agents.")
		return nil, v.Err()
	}
	if len(rows) > switchboard.MaxImportRows {
		v.AddLine(rows[switchboard.MaxImportRows].Line, "row", "An import holds at most %d agents; split the file.", switchboard.MaxImportRows)
		return nil, v.Err()
	}
	for i := range rows {
		if len(rows[i].Problems) > 0 {
			// Found while reading the file, the agent's validation included.
			for _, p := range rows[i].Problems {
				v.AddLine(rows[i].Line, p.Field, "%s", p.Message)
			}
			continue
		}
		rows[i].Agent.Normalize()
		if err := rows[i].Agent.Validate(); err != nil {
			v.Merge(rows[i].Line, err)
		}
	}

	result := &switchboard.ImportResult{}
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		teamIDs, err := s.resolveTeamNames(ctx, tx, rows, &v)
		if err != nil {
			return err
		}
		users, err := s.existingUsers(ctx, tx, rows, &v)
		if err != nil {
			return err
		}
		if err := v.Err(); err != nil {
			return err
		}

		now := tx.now
		var (
			agentRows   []*agentRow
			skillRows   []agentSkillRow
			memberRows  []teamMemberRow
			userRows    []*userRow
			inviteRows  []*invitationRow
			invitations []*switchboard.Invitation
			teamSets    = map[string][]string{}
		)
		for _, r := range rows {
			a := r.Agent
			row := newAgentRow(a, now)
			if a.Kind == switchboard.HumanAgent {
				if id, ok := users[a.Email]; ok {
					row.UserID = &id
				} else {
					u := invitedUserRow(a.Email, a.Name, now)
					inv, secret := newInvitation(u.ID, switchboard.KindInvitation, now)
					userRows, inviteRows = append(userRows, u), append(inviteRows, inv)
					invitation := inv.domain(u, secret)
					invitations = append(invitations, invitation)
					tx.Record(switchboard.Event{Type: switchboard.AuditUserInvited, Subject: userSubject(u), After: userSummary(u)})
					if err := notifyInvitation(tx, invitation); err != nil {
						return err
					}
					row.UserID, row.OwnsUser = &u.ID, true
					if a.Status == "" {
						row.Status = string(switchboard.AgentPending)
					}
				}
			}
			agentRows = append(agentRows, row)
			for _, name := range switchboard.SortedSkills(a.Skills) {
				skillRows = append(skillRows, agentSkillRow{AgentID: row.ID, Skill: name, Level: a.Skills[name]})
			}
			summary := map[string]any{
				"name": a.Name, "kind": a.Kind, "email": a.Email, "phone": a.Phone, "skills": a.Skills,
				"capacity": a.Capacity, "teams": r.TeamNames, "status": row.Status,
			}
			var teams []string
			for _, name := range r.TeamNames {
				teams = append(teams, teamIDs[strings.ToLower(name)])
				// A new agent: never assigned.
				memberRows = append(memberRows, teamMemberRow{TeamID: teamIDs[strings.ToLower(name)], AgentID: row.ID, Ready: row.ready()})
			}
			row.TeamSet = teamSetKey(teams)
			teamSets[row.TeamSet] = teams
			tx.agentAdded(row)
			tx.Record(switchboard.Event{Type: switchboard.AuditAgentsImported, Subject: switchboard.EventSubject{Type: "agent", ID: row.ID, Name: row.Name},
				After: summary, TeamIDs: teams, AgentID: row.ID})
		}
		for _, batch := range []func() error{
			func() error { return insertChunks(ctx, s.db, tx, userRows) },
			func() error { return insertChunks(ctx, s.db, tx, inviteRows) },
			func() error { return insertChunks(ctx, s.db, tx, agentRows) },
			func() error { return insertChunks(ctx, s.db, tx, skillRows) },
			func() error { tx.membershipsAdded += len(memberRows); return insertChunks(ctx, s.db, tx, memberRows) },
			func() error { return s.db.registerTeamSets(ctx, tx, teamSets) },
		} {
			if err := batch(); err != nil {
				return err
			}
		}
		tx.usersAdded += len(userRows)
		result.Created, result.Invited, result.Invitations = len(agentRows), len(userRows), invitations
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.db.refreshStatistics(ctx, result.Created)
	return result, nil
}

// refreshStatistics brings the planner's statistics up to date after a bulk
// insert of n agents. Until PostgreSQL's autovacuum or InnoDB's background
// recalculation gets to it, the planner believes the tables as small as
// before and picks plans that make the agent list ten times slower
// (BenchmarkAgentLists, MariaDB: 29 ms for the first page of 100,000 agents
// without, 3 ms with). Both read a sample, so they are quick whatever the
// tables' size; they are bounded all the same, since the import waits for
// them. SQLite keeps no statistics unless asked. Failing to refresh costs
// only speed, so an error is ignored.
func (db *DB) refreshStatistics(ctx context.Context, n int) {
	const worthIt = 1000
	if n < worthIt {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = db.analyze(ctx, "agents", "agent_skills", "team_members", "users", "invitations")
}

// resolveTeamNames maps every team name of the rows (in any case) to its ID,
// reporting unknown names on their lines.
func (s *AgentService) resolveTeamNames(ctx context.Context, tx *Tx, rows []switchboard.ImportRow, v *switchboard.Validation) (map[string]string, error) {
	var teams []struct {
		ID   string `bun:"id"`
		Name string `bun:"name"`
	}
	if err := tx.NewSelect().Table("teams").Column("id", "name").Scan(ctx, &teams); err != nil {
		return nil, err
	}
	ids := make(map[string]string, len(teams))
	for _, t := range teams {
		ids[strings.ToLower(t.Name)] = t.ID
	}
	for i, r := range rows {
		seen := map[string]bool{}
		var unique []string
		for _, name := range r.TeamNames {
			key := strings.ToLower(name)
			if _, ok := ids[key]; !ok {
				v.AddLine(r.Line, "teams", "There is no team named %q.", name)
			}
			if !seen[key] {
				seen[key] = true
				unique = append(unique, name)
			}
		}
		rows[i].TeamNames = unique
		if len(unique) > switchboard.MaxTeamsPerAgent {
			v.AddLine(r.Line, "teams", "An agent can be in at most %d teams.", switchboard.MaxTeamsPerAgent)
		}
	}
	return ids, nil
}

// existingUsers returns the IDs of users who have the e-mail addresses of the
// human rows, and reports addresses that repeat in the file or belong to a
// user who already has an agent.
func (s *AgentService) existingUsers(ctx context.Context, tx *Tx, rows []switchboard.ImportRow, v *switchboard.Validation) (map[string]string, error) {
	firstLine := map[string]int{}
	var emails []string
	for _, r := range rows {
		if r.Agent.Kind != switchboard.HumanAgent || r.Agent.Email == "" {
			continue
		}
		if line, dup := firstLine[r.Agent.Email]; dup {
			v.AddLine(r.Line, "email", "%s is also on line %d; each person can have one agent.", r.Agent.Email, line)
			continue
		}
		firstLine[r.Agent.Email] = r.Line
		emails = append(emails, r.Agent.Email)
	}
	users := make(map[string]string, len(emails))
	for start := 0; start < len(emails); start += insertChunk {
		var found []struct {
			ID      string  `bun:"id"`
			Email   string  `bun:"email"`
			AgentID *string `bun:"agent_id"`
		}
		err := tx.NewSelect().TableExpr("users AS u").
			Join("LEFT JOIN agents AS a ON a.user_id = u.id").
			ColumnExpr("u.id, u.email, a.id AS agent_id").
			Where("u.email IN (?)", bun.List(emails[start:min(start+insertChunk, len(emails))])).
			Scan(ctx, &found)
		if err != nil {
			return nil, err
		}
		for _, u := range found {
			if u.AgentID != nil {
				v.AddLine(firstLine[u.Email], "email", "%s already has an agent.", u.Email)
			}
			users[u.Email] = u.ID
		}
	}
	return users, nil
}
