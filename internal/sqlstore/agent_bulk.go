package sqlstore

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// BulkAgents applies one action to many agents, all in one change: every
// agent is checked first, and one refusal leaves them all unchanged. Each
// agent's change is recorded as the single-agent action records it.
func (s *AgentService) BulkAgents(ctx context.Context, b switchboard.AgentBulk) (*switchboard.BulkResult, error) {
	sc, err := managerScope(ctx)
	if err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	var res *switchboard.BulkResult
	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		res = &switchboard.BulkResult{Action: b.Action}
		var team switchboard.TeamRef
		if b.TeamAction() {
			if team, err = s.bulkTeam(ctx, tx, sc, b.TeamID); err != nil {
				return err
			}
		}
		rows, refused, err := s.bulkRows(ctx, tx, sc, &b)
		if err != nil {
			return err
		}
		agents, err := s.db.loadAgents(ctx, tx, rows)
		if err != nil {
			return err
		}
		to, lifecycle := b.Status()
		var todo []int
		for i, a := range agents {
			reason := ""
			switch {
			case lifecycle:
				reason = transitionRefusal(a.Status, to)
			case a.Status == switchboard.AgentRetired:
				reason = "retired; retired agents are kept unchanged"
			case b.Action == switchboard.BulkAddToTeam && slices.Contains(a.TeamIDs(), team.ID),
				b.Action == switchboard.BulkRemoveFromTeam && !slices.Contains(a.TeamIDs(), team.ID):
				res.Unchanged++
				continue
			case b.Action == switchboard.BulkAddToTeam && len(a.Teams) >= switchboard.MaxTeamsPerAgent:
				reason = "already in the most teams an agent can be in"
			}
			if reason != "" {
				refused = append(refused, switchboard.BulkItemError{AgentID: a.ID, Name: a.Name, Reason: reason})
				continue
			}
			todo = append(todo, i)
		}
		if len(refused) > 0 {
			return switchboard.ErrBulkRefused(&b, refused)
		}
		for _, i := range todo {
			if lifecycle {
				if _, err := s.setStatus(ctx, tx, rows[i], to); err != nil {
					return err
				}
			} else if err := s.changeTeam(ctx, tx, rows[i], agents[i], b.Action, team); err != nil {
				return err
			}
			res.Changed = append(res.Changed, switchboard.TeamRef{ID: agents[i].ID, Name: agents[i].Name})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// transitionRefusal says why an agent in status from cannot move to to, or
// "" when it can.
func transitionRefusal(from, to switchboard.AgentStatus) string {
	switch {
	case from.CanTransition(to):
		return ""
	case from == to:
		return "already " + string(to)
	case from == switchboard.AgentRetired:
		return "retired, which is final"
	}
	return string(from) + ", and cannot become " + string(to)
}

// bulkTeam returns the team of a team action: one that exists and, for a
// supervisor, one they supervise.
func (s *AgentService) bulkTeam(ctx context.Context, tx *Tx, sc switchboard.Scope, id string) (switchboard.TeamRef, error) {
	var t teamRow
	err := tx.NewSelect().Model(&t).Column("id", "name").Where("id = ?", id).Scan(ctx)
	if errors.Is(err, errNoRows) {
		return switchboard.TeamRef{}, &switchboard.Error{Code: switchboard.EINVALID, Message: "There is no such team.",
			Fields: []switchboard.FieldError{{Field: "team_id", Message: "There is no such team."}}}
	}
	if err != nil {
		return switchboard.TeamRef{}, err
	}
	if !sc.All {
		own, err := s.db.supervisedTeams(ctx, tx, sc.SupervisorID)
		if err != nil {
			return switchboard.TeamRef{}, err
		}
		if !own[id] {
			return switchboard.TeamRef{}, &switchboard.Error{Code: switchboard.EFORBIDDEN,
				Message: "You can only add agents to, or remove them from, teams you supervise.",
				Fields:  []switchboard.FieldError{{Field: "team_id", Message: "You do not supervise this team."}}}
		}
	}
	return switchboard.TeamRef{ID: t.ID, Name: t.Name}, nil
}

// bulkRows reads and locks the rows of a bulk action's agents, in ID order
// (the order every change locks agents in, against deadlocks). Agents named
// by ID that are not in the actor's scope are refused.
func (s *AgentService) bulkRows(ctx context.Context, tx *Tx, sc switchboard.Scope, b *switchboard.AgentBulk) ([]*agentRow, []switchboard.BulkItemError, error) {
	var rows []*agentRow
	q := tx.NewSelect().Model(&rows)
	if b.Filter == nil {
		q = applyScope(q.Where("a.id IN (?)", bun.List(b.IDs)), sc)
	} else {
		var err error
		if q, err = s.filterAgents(ctx, tx, q, sc, *b.Filter, inSet); err != nil {
			return nil, nil, err
		}
		q = q.Limit(switchboard.MaxBulkAgents + 1)
	}
	if err := forUpdate(q.OrderExpr("a.id")).Scan(ctx); err != nil {
		return nil, nil, err
	}
	if b.Filter != nil {
		switch {
		case len(rows) > switchboard.MaxBulkAgents:
			return nil, nil, &switchboard.Error{Code: switchboard.EINVALID,
				Message: "The filter matches more than 1000 agents; narrow it, and act on at most 1000 at once.",
				Fields:  []switchboard.FieldError{{Field: "filter", Message: "Matches more than 1000 agents."}}}
		case len(rows) == 0:
			return nil, nil, &switchboard.Error{Code: switchboard.EINVALID, Message: "No agent matches the filter.",
				Fields: []switchboard.FieldError{{Field: "filter", Message: "No agent matches."}}}
		}
		return rows, nil, nil
	}
	found := make(map[string]bool, len(rows))
	for _, r := range rows {
		found[r.ID] = true
	}
	reason := "no such agent"
	if !sc.All {
		reason = "no such agent in your teams"
	}
	var refused []switchboard.BulkItemError
	for _, id := range b.IDs {
		if !found[id] {
			refused = append(refused, switchboard.BulkItemError{AgentID: id, Reason: reason})
		}
	}
	return rows, refused, nil
}

// changeTeam adds an agent to a team or removes it, recorded as a change of
// the agent's teams, as an edit of the agent records it.
func (s *AgentService) changeTeam(ctx context.Context, tx *Tx, row *agentRow, before *switchboard.Agent, action string, team switchboard.TeamRef) error {
	after := *before
	if action == switchboard.BulkAddToTeam {
		if err := addMembers(ctx, tx, row.ID, []string{team.ID}); err != nil {
			return err
		}
		after.Teams = append(slices.Clone(before.Teams), team)
		slices.SortFunc(after.Teams, func(a, b switchboard.TeamRef) int {
			return strings.Compare(a.Name+"\x00"+a.ID, b.Name+"\x00"+b.ID)
		})
	} else {
		if _, err := tx.NewDelete().Model((*teamMemberRow)(nil)).Where("team_id = ? AND agent_id = ?", team.ID, row.ID).Exec(ctx); err != nil {
			return err
		}
		after.Teams = slices.DeleteFunc(slices.Clone(before.Teams), func(t switchboard.TeamRef) bool { return t.ID == team.ID })
	}
	was := row.count()
	if err := s.db.setTeams(ctx, tx, row, after.TeamIDs()); err != nil {
		return err
	}
	row.Version++
	row.UpdatedAt = tx.now
	if _, err := tx.NewUpdate().Model(row).Column("team_set", "version", "updated_at").WherePK().Exec(ctx); err != nil {
		return err
	}
	tx.agentChanged(was, row)
	after.Version, after.UpdatedAt = row.Version, row.UpdatedAt
	e := agentEvent(switchboard.AuditAgentUpdated, &after, before.TeamIDs())
	e.Before, e.After = changes(agentSummary(before), agentSummary(&after))
	tx.Record(e)
	return nil
}
