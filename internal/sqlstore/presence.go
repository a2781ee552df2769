package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

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
		already := row.Presence == string(p)
		if err := s.db.changePresence(ctx, tx, row, p, "set by the agent"); err != nil {
			return err
		}
		if already && p == switchboard.PresenceAvailable {
			// Saying so again may find work that came while the agent
			// was full (becoming available routes by itself).
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

// presenceRow is one change of an agent's presence; the period it starts
// ends where the agent's next row starts.
type presenceRow struct {
	bun.BaseModel `bun:"table:agent_presence,alias:ap"`

	ID        string    `bun:"id,pk"`
	AgentID   string    `bun:"agent_id"`
	Presence  string    `bun:"presence"`
	StartedAt time.Time `bun:"started_at"`
	Reason    string    `bun:"reason"`
}

// changePresence is the one way an agent's presence changes: the row, a
// row of presence history and an agent.presence_changed event, in the
// change tx. An agent becoming available counts as seen now, so that the
// sweeper does not take it offline before its first heartbeat, and is
// given the queued work it may take. Saying available again only renews
// last_seen_at. row must be locked by tx.
func (db *DB) changePresence(ctx context.Context, tx *Tx, row *agentRow, to switchboard.Presence, reason string) error {
	from := row.Presence
	columns := []string{"presence"}
	if to == switchboard.PresenceAvailable {
		row.LastSeenAt, row.SeenMark = &tx.now, &tx.now
		columns = append(columns, "last_seen_at", "seen_mark")
	}
	if from == string(to) {
		if to != switchboard.PresenceAvailable {
			return nil
		}
		_, err := tx.NewUpdate().Model(row).Column("last_seen_at", "seen_mark").WherePK().Exec(ctx)
		return err
	}
	was, wasReady := row.count(), row.ready()
	row.Presence = string(to)
	if _, err := tx.NewUpdate().Model(row).Column(columns...).WherePK().Exec(ctx); err != nil {
		return err
	}
	tx.agentChanged(was, row)
	if err := noteReadiness(ctx, tx, row, wasReady); err != nil {
		return err
	}
	history := &presenceRow{ID: uuid.Must(uuid.NewV7()).String(), AgentID: row.ID, Presence: string(to),
		StartedAt: tx.now, Reason: clip(reason, 200)}
	if _, err := tx.NewInsert().Model(history).Returning("NULL").Exec(ctx); err != nil {
		return err
	}
	agents, err := db.loadAgents(ctx, tx, []*agentRow{row})
	if err != nil {
		return err
	}
	e := agentEvent(switchboard.EventAgentPresenceChanged, agents[0], nil)
	e.Before, e.After = map[string]any{"presence": from}, map[string]any{"presence": to}
	e.Data = map[string]any{"reason": reason}
	tx.Record(e)
	if to == switchboard.PresenceAvailable {
		return db.routeToAgent(ctx, tx, row.ID)
	}
	return nil
}

// SweepPresence takes offline the agents not seen for ttl (a heartbeat,
// a request of their web UI, or saying they are available), at most
// limit of them, and returns how many it took. Each agent goes in a
// change of its own: its pending offers are revoked and their tasks
// offered to the next agent, and its assigned tasks go back to their
// queues where the queue says so. Agents another instance is sweeping are
// skipped, and the condition is checked again under the row's lock, so
// that each agent is swept once however many instances sweep.
func (s *PresenceService) SweepPresence(ctx context.Context, ttl time.Duration, limit int) (int, error) {
	// Never seen, then seen too long ago: two looks that each read only
	// matching entries of agents_presence_mark_idx. The mark is never after
	// last_seen_at, so every stale agent's is before the cutoff too.
	present := bun.List([]switchboard.Presence{switchboard.PresenceAvailable, switchboard.PresenceAway, switchboard.PresenceBusy})
	cutoff := s.db.now().Add(-ttl)
	var stale []string
	for _, seen := range []struct {
		cond string
		args []any
	}{{"a.seen_mark IS NULL AND a.last_seen_at IS NULL", nil}, {"a.seen_mark < ? AND a.last_seen_at < ?", []any{cutoff, cutoff}}} {
		var ids []string
		err := s.db.bun.NewSelect().TableExpr(s.db.sweepAgents()).Column("a.id").Where("a.presence IN (?)", present).
			Where(seen.cond, seen.args...).Limit(int64(limit-len(stale))).Scan(ctx, &ids)
		if err != nil {
			return 0, translate(err)
		}
		if stale = append(stale, ids...); len(stale) >= limit {
			break
		}
	}
	sys := switchboard.NewContextWithActor(ctx, switchboard.SystemActor("heartbeat timeout"))
	swept := 0
	for _, id := range stale {
		took, err := s.sweepAgent(sys, id, ttl)
		if err != nil {
			return swept, err
		}
		if took {
			swept++
		}
	}
	return swept, nil
}

// sweepAgent takes one agent offline, if it is still stale and no other
// instance holds it, and reports whether it did.
func (s *PresenceService) sweepAgent(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	var took bool
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		took = false // fn may run again, after a batch it was in failed
		var row agentRow
		q := tx.NewSelect().Model(&row).Where("a.id = ?", id).Where(staleAgent, staleAgentArgs(tx.now, ttl)...)
		if err := s.db.forUpdateSkipLocked(q).Scan(ctx); err != nil {
			if errors.Is(err, errNoRows) {
				return nil // seen again, or another instance has it
			}
			return err
		}
		if err := s.db.changePresence(ctx, tx, &row, switchboard.PresenceOffline, "heartbeat timeout"); err != nil {
			return err
		}
		took = true
		return s.db.takeWorkFrom(ctx, tx, row.ID, "agent went offline")
	})
	return took && err == nil, err
}

// staleAgent is the condition on an agent (aliased a) that it is present
// but was last seen before now minus a TTL, or never: an agent made
// available before last_seen_at was kept has none, and is stale too.
const staleAgent = "a.presence <> ? AND (a.last_seen_at IS NULL OR a.last_seen_at < ?)"

func staleAgentArgs(now time.Time, ttl time.Duration) []any {
	return []any{switchboard.PresenceOffline, now.Add(-ttl)}
}

// takeWorkFrom takes back the work of an agent that went offline, whose
// row tx holds: each pending offer is revoked and its task offered to the
// next agent (the agent did not decline it, and may be offered it again
// when back), and each assigned task of a queue that says so goes back to
// it and on to the next agent. Offers another change holds (being
// accepted, timing out) are left to it.
func (db *DB) takeWorkFrom(ctx context.Context, tx *Tx, agentID, reason string) error {
	var offers []*offerRow
	q := tx.NewSelect().Model(&offers).Where("o.agent_id = ? AND o.status = ?", agentID, switchboard.OfferPending).OrderExpr("o.created_at, o.id")
	if err := db.forUpdateSkipLocked(q).Scan(ctx); err != nil {
		return err
	}
	for _, offer := range offers {
		task, queue, err := db.lockTask(ctx, tx, switchboard.Scope{All: true}, offer.TaskID)
		if err != nil {
			return err
		}
		if err := db.closeOffer(ctx, tx, offer, task, queue, switchboard.OfferRevoked, switchboard.AuditOfferRevoked, reason); err != nil {
			return err
		}
	}
	var assigned []string
	err := tx.NewSelect().TableExpr("tasks AS tk").Join("JOIN queues AS q ON q.id = tk.queue_id").ColumnExpr("tk.id").
		Where("tk.agent_id = ? AND tk.status = ? AND q.requeue_on_offline = ?", agentID, switchboard.TaskAssigned, true).
		OrderExpr("tk.assigned_at, tk.id").Scan(ctx, &assigned)
	if err != nil {
		return err
	}
	for _, id := range assigned {
		task, queue, err := db.lockTask(ctx, tx, switchboard.Scope{All: true}, id)
		if err != nil {
			return err
		}
		if task.Status != string(switchboard.TaskAssigned) || deref(task.AgentID) != agentID {
			continue // moved on while it was being locked
		}
		if err := db.requeue(ctx, tx, task, queue, reason); err != nil {
			return err
		}
	}
	return nil
}

// PrunePresence deletes presence history that began before a time, at most
// limit rows, and returns how many. Each agent's latest row before it
// stays: it says where the agent stood at the start of what is kept.
func (s *PresenceService) PrunePresence(ctx context.Context, before time.Time, limit int) (int, error) {
	var ids []string
	err := s.db.bun.NewSelect().Model((*presenceRow)(nil)).Column("ap.id").Where("ap.started_at < ?", before).
		Where("EXISTS (SELECT 1 FROM agent_presence nx WHERE nx.agent_id = ap.agent_id AND nx.started_at > ap.started_at AND nx.started_at <= ?)", before).
		Limit(int64(limit)).Scan(ctx, &ids)
	if err != nil || len(ids) == 0 {
		return 0, translate(err)
	}
	// By ID, in a statement of its own: MySQL cannot delete from a table
	// that a subquery of the same statement reads.
	res, err := s.db.bun.NewDelete().Model((*presenceRow)(nil)).Where("id IN (?)", bun.List(ids)).Exec(ctx)
	if err != nil {
		return 0, translate(err)
	}
	n, err := res.RowsAffected()
	return int(n), translate(err)
}

// PresenceTimeline returns an agent's presence from since until now.
func (s *PresenceService) PresenceTimeline(ctx context.Context, agentID string, since time.Time) ([]switchboard.PresencePeriod, error) {
	sc, err := switchboard.ScopeOf(switchboard.ActorFromContext(ctx))
	if err != nil {
		return nil, err
	}
	if !switchboard.ValidID(agentID) {
		return nil, errAgentNotFound()
	}
	row, err := findAgentRow(ctx, s.db.bun, sc, "a.id = ?", agentID, false)
	if err != nil {
		return nil, translate(err)
	}
	now := s.db.now()
	switch {
	case since.IsZero():
		since = now.Add(-switchboard.DefaultPresenceTimeline)
	case since.After(now) || since.Before(now.Add(-switchboard.MaxPresenceTimeline)):
		msg := "A timeline starts within the last 30 days, and not in the future."
		return nil, &switchboard.Error{Code: switchboard.EINVALID, Message: msg,
			Fields: []switchboard.FieldError{{Field: "since", Message: msg}}}
	}
	// The row in force at since, and every change after it.
	var rows []*presenceRow
	err = s.db.bun.NewSelect().Model(&rows).Where("ap.agent_id = ? AND ap.started_at > ?", row.ID, since).
		OrderExpr("ap.started_at, ap.id").Scan(ctx)
	if err != nil {
		return nil, translate(err)
	}
	var first []*presenceRow
	err = s.db.bun.NewSelect().Model(&first).Where("ap.agent_id = ? AND ap.started_at <= ?", row.ID, since).
		OrderExpr("ap.started_at DESC, ap.id DESC").Limit(1).Scan(ctx)
	if err != nil {
		return nil, translate(err)
	}
	return presencePeriods(row, append(first, rows...), since, now), nil
}

// presencePeriods turns an agent's changes into periods from since to now.
// Before its first change an agent was offline, from its creation: that is
// how every agent starts.
func presencePeriods(agent *agentRow, rows []*presenceRow, since, now time.Time) []switchboard.PresencePeriod {
	start := since
	if agent.CreatedAt.After(start) {
		start = agent.CreatedAt
	}
	var periods []switchboard.PresencePeriod
	if len(rows) == 0 || rows[0].StartedAt.After(start) {
		periods = append(periods, switchboard.PresencePeriod{Presence: switchboard.PresenceOffline, From: start.UTC(), Reason: "created"})
	}
	for _, r := range rows {
		from := r.StartedAt
		if from.Before(start) {
			from = start
		}
		if n := len(periods); n > 0 {
			periods[n-1].To = from.UTC()
		}
		periods = append(periods, switchboard.PresencePeriod{Presence: switchboard.Presence(r.Presence), From: from.UTC(), Reason: r.Reason})
	}
	last := &periods[len(periods)-1]
	last.To, last.Current = now.UTC(), true
	// Changes within one instant (a test's frozen clock, a change made and
	// undone in one request) leave periods of no length: the last stands.
	return slices.DeleteFunc(periods, func(p switchboard.PresencePeriod) bool { return !p.Current && !p.To.After(p.From) })
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
