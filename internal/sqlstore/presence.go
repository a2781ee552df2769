package sqlstore

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// PresenceService implements switchboard.PresenceService.
type PresenceService struct {
	db *DB
}

var _ switchboard.PresenceService = (*PresenceService)(nil)

// NewPresenceService returns the presence service on db.
func NewPresenceService(db *DB) *PresenceService { return &PresenceService{db: db} }

// SetPresence sets the calling agent's presence and, when it becomes
// available, routes queued work to it in the same transaction.
func (s *PresenceService) SetPresence(ctx context.Context, p switchboard.Presence) (*switchboard.Agent, error) {
	actor := switchboard.ActorFromContext(ctx)
	if actor == nil {
		return nil, switchboard.ErrSignInFirst
	}
	if p != switchboard.PresenceAvailable && p != switchboard.PresenceAway && p != switchboard.PresenceOffline {
		return nil, &switchboard.Error{Code: switchboard.EINVALID, Message: "Presence must be available, away or offline.",
			Fields: []switchboard.FieldError{{Field: "presence", Message: "Presence must be available, away or offline."}}}
	}
	var agent *switchboard.Agent
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		where, arg := "a.user_id = ?", any(actor.UserID())
		if actor.Agent != nil {
			where, arg = "a.id = ?", actor.Agent.ID
		} else if actor.User == nil {
			return &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only agents have a presence."}
		}
		row, err := findAgentRow(ctx, tx, switchboard.Scope{All: true}, where, arg, true)
		if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
			return &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "You are not an agent, so you have no presence to set."}
		} else if err != nil {
			return err
		}
		if p == switchboard.PresenceAvailable && row.Status != string(switchboard.AgentActive) {
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "Only active agents take work; this agent is " + row.Status + ".",
				State: &switchboard.StateConflict{Current: row.Status, Requested: string(switchboard.AgentActive)}}
		}
		from := row.Presence
		if from != string(p) {
			row.Presence = string(p)
			if _, err := tx.NewUpdate().Model(row).Column("presence").WherePK().Exec(ctx); err != nil {
				return err
			}
			agents, err := s.db.loadAgents(ctx, tx, []*agentRow{row})
			if err != nil {
				return err
			}
			e := agentEvent(switchboard.EventAgentPresenceChanged, agents[0], nil)
			e.Before, e.After = map[string]any{"presence": from}, map[string]any{"presence": p}
			tx.Record(e)
		}
		if p == switchboard.PresenceAvailable {
			if err := s.db.routeToAgent(ctx, tx, row.ID); err != nil {
				return err
			}
		}
		agent, err = s.db.findAgent(ctx, tx, switchboard.Scope{All: true}, "a.id = ?", row.ID, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return agent, nil
}

// agentTaskScan is how many queued tasks one agent's routing looks at: the
// first few by priority and age across the queues it serves.
const agentTaskScan = 50

// routeToAgent gives an agent that has room the queued tasks it may take,
// highest priority first, then oldest, across the queues it serves, until
// its capacity is used. Tasks another router holds are skipped, not waited
// for.
func (db *DB) routeToAgent(ctx context.Context, tx *Tx, agentID string) error {
	// Most of the time no task waits: one indexed look says so.
	var waiting []string
	if err := tx.NewSelect().Model((*taskRow)(nil)).Column("tk.id").Where("tk.status = ?", switchboard.TaskQueued).
		Limit(1).Scan(ctx, &waiting); err != nil || len(waiting) == 0 {
		return err
	}
	agent, err := db.findAgent(ctx, tx, switchboard.Scope{All: true}, "a.id = ?", agentID, false)
	if err != nil {
		return err
	}
	// The queues the agent serves: of no team or of one of its teams, not
	// manual, and asking no skill it lacks.
	var qrows []*queueRow
	q := tx.NewSelect().Model(&qrows).Where("q.strategy <> ?", switchboard.Manual).
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			q = q.Where("NOT EXISTS (SELECT 1 FROM queue_teams aqt WHERE aqt.queue_id = q.id)")
			if teams := agent.TeamIDs(); len(teams) > 0 {
				q = q.WhereOr("EXISTS (SELECT 1 FROM queue_teams aqt WHERE aqt.queue_id = q.id AND aqt.team_id IN (?))", bun.List(teams))
			}
			return q
		})
	if err := q.Scan(ctx); err != nil {
		return err
	}
	queues, err := db.loadQueues(ctx, tx, qrows)
	if err != nil {
		return err
	}
	byID := map[string]*switchboard.Queue{}
	var ids []string
	for _, queue := range queues {
		if hasSkills(agent.Skills, queue.RequiredSkills) {
			byID[queue.ID] = queue
			ids = append(ids, queue.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var tasks []*taskRow
	tq := tx.NewSelect().Model(&tasks).Where("tk.status = ? AND tk.queue_id IN (?)", switchboard.TaskQueued, bun.List(ids)).
		Where("NOT EXISTS (SELECT 1 FROM offers o WHERE o.task_id = tk.id AND o.agent_id = ? AND o.status IN (?))",
			agentID, bun.List([]string{"rejected", "timed_out"})).
		OrderExpr("tk.priority DESC, tk.created_at, tk.id").Limit(agentTaskScan)
	if err := db.forUpdateSkipLocked(tq).Scan(ctx); err != nil {
		return err
	}
	for _, t := range tasks {
		var skills map[string]int
		_ = json.Unmarshal([]byte(t.RequiredSkills), &skills)
		queue := byID[t.QueueID]
		if !hasSkills(agent.Skills, skills) || (queue.OfferTimeout > 0 && t.Offers >= queue.MaxOffers) {
			continue
		}
		reserved, err := reserveAgent(ctx, tx, agentID)
		if err != nil || !reserved {
			return err // or full
		}
		if err := db.giveTask(ctx, tx, t, queue, agentID); err != nil {
			return err
		}
	}
	return nil
}

// hasSkills reports whether skills meet every required level.
func hasSkills(skills, required map[string]int) bool {
	return !slices.ContainsFunc(switchboard.SortedSkills(required), func(s string) bool { return skills[s] < required[s] })
}
