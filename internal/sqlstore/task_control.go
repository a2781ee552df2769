package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

var _ switchboard.TaskControl = (*TaskService)(nil)

// controlTask locks a task that the actor may steer: an admin any, a
// supervisor those of their teams' queues.
func (s *TaskService) controlTask(ctx context.Context, tx *Tx, id string) (*taskRow, *switchboard.Queue, error) {
	sc, err := switchboard.RequireManager(switchboard.ActorFromContext(ctx), "steer tasks")
	if err != nil {
		return nil, nil, err
	}
	return s.db.lockTask(ctx, tx, sc, id)
}

func errTaskFinished(status string, requested switchboard.TaskStatus) error {
	return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "The task is " + status + "; a finished task stays as it is.",
		State: &switchboard.StateConflict{Current: status, Requested: string(requested)}}
}

// takeBack ends what a task's agent holds of it: a pending offer is
// revoked, and the agent's capacity comes back either way.
func takeBack(ctx context.Context, tx *Tx, t *taskRow) error {
	if t.AgentID == nil {
		return nil
	}
	if t.Status == string(switchboard.TaskOffered) {
		if _, err := tx.NewUpdate().Model((*offerRow)(nil)).Set("status = ?", switchboard.OfferRevoked).Set("responded_at = ?", tx.now).
			Where("task_id = ? AND status = ?", t.ID, switchboard.OfferPending).Exec(ctx); err != nil {
			return err
		}
	}
	if t.Status == string(switchboard.TaskOffered) || t.Status == string(switchboard.TaskAssigned) {
		if err := releaseAgent(ctx, tx, *t.AgentID); err != nil {
			return err
		}
	}
	return nil
}

func cleanReason(reason string) string {
	reason = strings.TrimSpace(reason)
	if r := []rune(reason); len(r) > switchboard.MaxReasonLength {
		reason = string(r[:switchboard.MaxReasonLength])
	}
	return reason
}

// CancelTask ends an unfinished task for good.
func (s *TaskService) CancelTask(ctx context.Context, id, reason string) (*switchboard.Task, error) {
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		t, q, err := s.controlTask(ctx, tx, id)
		if err != nil {
			return err
		}
		from := switchboard.TaskStatus(t.Status)
		if !from.CanTransition(switchboard.TaskCancelled) {
			return errTaskFinished(t.Status, switchboard.TaskCancelled)
		}
		if err := takeBack(ctx, tx, t); err != nil {
			return err
		}
		t.Status, t.CompletedAt, t.UpdatedAt, t.Version = string(switchboard.TaskCancelled), &tx.now, tx.now, t.Version+1
		if _, err := tx.NewUpdate().Model(t).Column("status", "completed_at", "updated_at", "version").WherePK().Exec(ctx); err != nil {
			return err
		}
		return moveTask(ctx, tx, t, from, q.TeamIDs, switchboard.AuditTaskCancelled, cleanReason(reason), nil)
	})
	if err != nil {
		return nil, err
	}
	return s.db.findTask(ctx, switchboard.Scope{All: true}, id)
}

// RequeueTask takes a task back from its agent and routes it again, to
// whoever routing now ranks first (the same agent included).
func (s *TaskService) RequeueTask(ctx context.Context, id, reason string) (*switchboard.Task, error) {
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		t, q, err := s.controlTask(ctx, tx, id)
		if err != nil {
			return err
		}
		from := switchboard.TaskStatus(t.Status)
		if from != switchboard.TaskOffered && from != switchboard.TaskAssigned {
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "Only an offered or assigned task can be requeued; this one is " + t.Status + ".",
				State: &switchboard.StateConflict{Current: t.Status, Requested: string(switchboard.TaskQueued)}}
		}
		return s.db.requeue(ctx, tx, t, q, cleanReason(reason))
	})
	if err != nil {
		return nil, err
	}
	return s.db.findTask(ctx, switchboard.Scope{All: true}, id)
}

// requeue takes an offered or assigned task, locked by tx, back from its
// agent, puts it in its queue and routes it again.
func (db *DB) requeue(ctx context.Context, tx *Tx, t *taskRow, q *switchboard.Queue, reason string) error {
	from := switchboard.TaskStatus(t.Status)
	if err := takeBack(ctx, tx, t); err != nil {
		return err
	}
	t.Status, t.AgentID, t.UpdatedAt, t.Version = string(switchboard.TaskQueued), nil, tx.now, t.Version+1
	if _, err := tx.NewUpdate().Model(t).Column("status", "agent_id", "updated_at", "version").WherePK().Exec(ctx); err != nil {
		return err
	}
	if err := moveTask(ctx, tx, t, from, q.TeamIDs, switchboard.AuditTaskRequeued, reason, nil); err != nil {
		return err
	}
	_, err := db.routeTask(ctx, tx, t, q)
	return err
}

// AssignTask gives a task to a chosen agent. The agent must be one routing
// could choose (active, present, with room, skilled, in the queue's teams,
// not having declined it); an admin may force any active agent on it.
func (s *TaskService) AssignTask(ctx context.Context, id, agentID string, force bool) (*switchboard.Task, error) {
	actor := switchboard.ActorFromContext(ctx)
	if !switchboard.ValidID(agentID) {
		return nil, &switchboard.Error{Code: switchboard.EINVALID, Message: "No such agent.",
			Fields: []switchboard.FieldError{{Field: "agent", Message: "No such agent."}}}
	}
	if force && !actor.IsAdmin() {
		return nil, &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only admins may force an assignment.",
			Fields: []switchboard.FieldError{{Field: "force", Message: "Only admins may force an assignment."}}}
	}
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		t, q, err := s.controlTask(ctx, tx, id)
		if err != nil {
			return err
		}
		from := switchboard.TaskStatus(t.Status)
		if from.Terminal() {
			return errTaskFinished(t.Status, switchboard.TaskAssigned)
		}
		if deref(t.AgentID) == agentID && from == switchboard.TaskAssigned {
			return nil // already there
		}
		sc, _ := switchboard.ScopeOf(actor)
		agent, err := findAgentRow(ctx, tx, sc, "a.id = ?", agentID, true)
		if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
			return &switchboard.Error{Code: switchboard.EINVALID, Message: "No such agent.",
				Fields: []switchboard.FieldError{{Field: "agent", Message: "No such agent."}}}
		} else if err != nil {
			return err
		}
		if err := takeBack(ctx, tx, t); err != nil {
			return err
		}
		candidates, err := s.db.judge(ctx, tx, t, q, []*agentRow{agent})
		if err != nil {
			return err
		}
		// The agent's own task counts against it no more.
		if deref(t.AgentID) == agentID {
			candidates[0].Load--
		}
		var why []string
		for _, r := range s.db.Selector.Rank(routingRequest(t, q, ""), candidates)[0].Reasons {
			if r.Code != switchboard.ReasonChosen && r.Code != switchboard.ReasonRankedLower && r.Code != switchboard.ReasonManualQueue {
				why = append(why, r.Message)
			}
		}
		if agent.Status != string(switchboard.AgentActive) {
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "Only active agents take work: " + strings.Join(why, " "),
				Fields: []switchboard.FieldError{{Field: "agent", Message: strings.Join(why, " ")}}}
		}
		if len(why) > 0 && !force {
			msg := "This agent may not take the task: " + strings.Join(why, " ")
			if actor.IsAdmin() {
				msg += " Send force to assign it all the same."
			}
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: msg,
				Fields: []switchboard.FieldError{{Field: "agent", Message: strings.Join(why, " ")}}}
		}
		if _, err := tx.NewUpdate().Model((*agentRow)(nil)).Set("workload = workload + 1").Set("last_assigned_at = ?", tx.now).
			Where("id = ?", agentID).Exec(ctx); err != nil {
			return err
		}
		if err := noteAssigned(ctx, tx, agentID); err != nil {
			return err
		}
		t.AgentID, t.Status, t.AssignedAt, t.UpdatedAt, t.Version = &agentID, string(switchboard.TaskAssigned), &tx.now, tx.now, t.Version+1
		if _, err := tx.NewUpdate().Model(t).Column("status", "agent_id", "assigned_at", "updated_at", "version").WherePK().Exec(ctx); err != nil {
			return err
		}
		reason := "assigned by hand"
		if len(why) > 0 {
			reason = "assigned by hand, forced: " + strings.Join(why, " ")
		}
		return moveTask(ctx, tx, t, from, q.TeamIDs, switchboard.AuditTaskAssigned, reason, nil)
	})
	if err != nil {
		return nil, err
	}
	return s.db.findTask(ctx, switchboard.Scope{All: true}, id)
}

// routingRequest is what routing needs of a task and its queue.
func routingRequest(t *taskRow, q *switchboard.Queue, lastAgent string) switchboard.RoutingRequest {
	var skills map[string]int
	_ = json.Unmarshal([]byte(t.RequiredSkills), &skills)
	return switchboard.RoutingRequest{Strategy: q.Strategy, RequiredSkills: switchboard.MergeSkills(q.RequiredSkills, skills),
		TeamIDs: q.TeamIDs, LastAgentID: lastAgent}
}

// judge turns agent rows into routing candidates for a task, with the
// skills and teams routing weighs and whether they declined it.
func (db *DB) judge(ctx context.Context, idb bun.IDB, t *taskRow, q *switchboard.Queue, agents []*agentRow) ([]*switchboard.Candidate, error) {
	loaded, err := db.loadAgents(ctx, idb, agents)
	if err != nil {
		return nil, err
	}
	var loads []struct {
		ID             string     `bun:"id"`
		Workload       int        `bun:"workload"`
		LastAssignedAt *time.Time `bun:"last_assigned_at"`
	}
	ids := make([]string, len(agents))
	for i, a := range agents {
		ids[i] = a.ID
	}
	if err := idb.NewSelect().Table("agents").Column("id", "workload", "last_assigned_at").Where("id IN (?)", bun.List(ids)).Scan(ctx, &loads); err != nil {
		return nil, err
	}
	var declined []string
	if err := idb.NewSelect().Table("offers").Column("agent_id").Where("task_id = ? AND status IN (?)", t.ID,
		bun.List([]switchboard.OfferStatus{switchboard.OfferRejected, switchboard.OfferTimedOut})).Scan(ctx, &declined); err != nil {
		return nil, err
	}
	byID := map[string]*switchboard.Candidate{}
	candidates := make([]*switchboard.Candidate, len(loaded))
	for i, a := range loaded {
		c := &switchboard.Candidate{AgentID: a.ID, Name: a.Name, Status: a.Status, Presence: a.Presence, Capacity: a.Capacity,
			Skills: a.Skills, TeamIDs: a.TeamIDs()}
		for _, d := range declined {
			if d == a.ID {
				c.Declined = true
			}
		}
		candidates[i], byID[a.ID] = c, c
	}
	for _, l := range loads {
		if c := byID[l.ID]; c != nil {
			c.Load = l.Workload
			if l.LastAssignedAt != nil {
				c.LastAssignedAt = l.LastAssignedAt.UTC()
			}
		}
	}
	return candidates, nil
}

// explainLimit is how many agents an explanation judges at most.
const explainLimit = 200

// ExplainRouting judges the agents a task's queue reaches: its teams'
// agents, or every agent for a queue of no team, the ones that may take
// work first.
func (s *TaskService) ExplainRouting(ctx context.Context, id string) (*switchboard.RoutingExplanation, error) {
	sc, err := switchboard.RequireManager(switchboard.ActorFromContext(ctx), "see how tasks are routed")
	if err != nil {
		return nil, err
	}
	task, err := s.db.findTask(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	var row taskRow
	if err := s.db.bun.NewSelect().Model(&row).Where("tk.id = ?", id).Scan(ctx); err != nil {
		return nil, translate(err)
	}
	qrow, err := findQueueRow(ctx, s.db.bun, switchboard.Scope{All: true}, row.QueueID, false)
	if err != nil {
		return nil, err
	}
	queues, err := s.db.loadQueues(ctx, s.db.bun, []*queueRow{qrow})
	if err != nil {
		return nil, translate(err)
	}
	q := queues[0]
	var agents []*agentRow
	aq := s.db.bun.NewSelect().Model(&agents).Where("a.status <> ?", switchboard.AgentRetired).
		OrderExpr("CASE WHEN a.status = ? AND a.presence IN (?) THEN 0 ELSE 1 END, a.sort_name, a.id", switchboard.AgentActive,
			bun.List([]switchboard.Presence{switchboard.PresenceAvailable, switchboard.PresenceBusy})).
		Limit(explainLimit + 1)
	if len(q.TeamIDs) > 0 {
		aq = aq.Where("a.id IN (SELECT tm.agent_id FROM team_members tm WHERE tm.team_id IN (?))", bun.List(q.TeamIDs))
	}
	if err := aq.Scan(ctx); err != nil {
		return nil, translate(err)
	}
	explanation := &switchboard.RoutingExplanation{Task: task, Strategy: q.Strategy}
	if len(agents) > explainLimit {
		agents, explanation.Truncated = agents[:explainLimit], true
	}
	candidates, err := s.db.judge(ctx, s.db.bun, &row, q, agents)
	if err != nil {
		return nil, translate(err)
	}
	req := routingRequest(&row, q, deref(qrow.LastAgentID))
	explanation.RequiredSkills = req.RequiredSkills
	explanation.Verdicts = s.db.Selector.Rank(req, candidates)
	if sc.SupervisorID != "" && len(agents) > 0 {
		// The ranks stay those among every agent judged: a gap says that
		// agents of other teams come between.
		ids := make([]string, len(agents))
		for i, a := range agents {
			ids[i] = a.ID
		}
		var visible []string
		if err := s.db.bun.NewSelect().TableExpr("team_members AS tm").ColumnExpr("DISTINCT tm.agent_id").
			Join("JOIN team_supervisors AS ts ON ts.team_id = tm.team_id").
			Where("ts.user_id = ? AND tm.agent_id IN (?)", sc.SupervisorID, bun.List(ids)).Scan(ctx, &visible); err != nil {
			return nil, translate(err)
		}
		all := len(explanation.Verdicts)
		explanation.Verdicts = slices.DeleteFunc(explanation.Verdicts, func(v switchboard.Verdict) bool {
			return !slices.Contains(visible, v.Candidate.AgentID)
		})
		explanation.Hidden = all - len(explanation.Verdicts)
	}
	return explanation, nil
}

// ExpireTasks ends queued tasks past their expiry, and records once per
// task a wait past its queue's SLA target.
func (s *TaskService) ExpireTasks(ctx context.Context, limit int) (int, error) {
	sys := switchboard.NewContextWithActor(ctx, switchboard.SystemActor("task expiry"))
	now := s.db.now()
	var expiring []string
	err := s.db.bun.NewSelect().Model((*taskRow)(nil)).Column("id").
		Where("status = ? AND expires_at <= ?", switchboard.TaskQueued, now).Limit(int64(limit)).Scan(ctx, &expiring)
	if err != nil {
		return 0, translate(err)
	}
	changed := 0
	for _, id := range expiring {
		err := s.db.write(sys, func(ctx context.Context, tx *Tx) error {
			var t taskRow
			q := tx.NewSelect().Model(&t).Where("tk.id = ? AND tk.status = ? AND tk.expires_at <= ?", id, switchboard.TaskQueued, tx.now)
			if err := s.db.forUpdateSkipLocked(q).Scan(ctx); err != nil {
				if errors.Is(err, errNoRows) {
					return nil
				}
				return err
			}
			queue, err := s.db.queueOf(ctx, tx, t.QueueID)
			if err != nil {
				return err
			}
			t.Status, t.CompletedAt, t.UpdatedAt, t.Version = string(switchboard.TaskExpired), &tx.now, tx.now, t.Version+1
			if _, err := tx.NewUpdate().Model(&t).Column("status", "completed_at", "updated_at", "version").WherePK().Exec(ctx); err != nil {
				return err
			}
			changed++
			return moveTask(ctx, tx, &t, switchboard.TaskQueued, queue.TeamIDs, switchboard.AuditTaskExpired, "expired while queued", nil)
		})
		if err != nil {
			return changed, err
		}
	}
	// Waits past the SLA target: tasks not yet given to an agent for good.
	var breaching []string
	err = s.db.bun.NewSelect().TableExpr("tasks AS tk").Join("JOIN queues AS q ON q.id = tk.queue_id").ColumnExpr("tk.id").
		Where("tk.status IN (?) AND tk.sla_breached = ? AND q.sla_target_seconds > 0", bun.List([]switchboard.TaskStatus{switchboard.TaskQueued, switchboard.TaskOffered}), false).
		Where(s.db.secondsBefore("tk.created_at", "q.sla_target_seconds"), now).Limit(int64(limit)).Scan(ctx, &breaching)
	if err != nil {
		return changed, translate(err)
	}
	for _, id := range breaching {
		err := s.db.write(sys, func(ctx context.Context, tx *Tx) error {
			res, err := tx.NewUpdate().Model((*taskRow)(nil)).Set("sla_breached = ?", true).
				Where("id = ? AND sla_breached = ?", id, false).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return nil // another instance recorded it
			}
			var t taskRow
			if err := tx.NewSelect().Model(&t).Where("tk.id = ?", id).Scan(ctx); err != nil {
				return err
			}
			queue, err := s.db.queueOf(ctx, tx, t.QueueID)
			if err != nil {
				return err
			}
			changed++
			e := taskEvent(switchboard.AuditSLABreached, &t, queue.TeamIDs)
			e.Subject = switchboard.EventSubject{Type: "queue", ID: queue.ID, Name: queue.Name}
			e.Data = map[string]any{"task_id": t.ID, "task_title": t.Title, "sla_target_seconds": int(queue.SLATarget.Seconds()),
				"waiting_seconds": int(tx.now.Sub(t.CreatedAt).Seconds())}
			tx.Record(e)
			return nil
		})
		if err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// queueOf loads a task's queue with its teams.
func (db *DB) queueOf(ctx context.Context, idb bun.IDB, id string) (*switchboard.Queue, error) {
	qrow, err := findQueueRow(ctx, idb, switchboard.Scope{All: true}, id, false)
	if err != nil {
		return nil, err
	}
	queues, err := db.loadQueues(ctx, idb, []*queueRow{qrow})
	if err != nil {
		return nil, err
	}
	return queues[0], nil
}
