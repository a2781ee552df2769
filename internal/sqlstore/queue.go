package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type queueRow struct {
	bun.BaseModel `bun:"table:queues,alias:q"`

	ID                  string    `bun:"id,pk"`
	Name                string    `bun:"name"`
	SortName            string    `bun:"sort_name"`
	RequiredSkills      string    `bun:"required_skills"`
	Strategy            string    `bun:"strategy"`
	OfferTimeoutSeconds int       `bun:"offer_timeout_seconds"`
	MaxOffers           int       `bun:"max_offers"`
	SLATargetSeconds    int       `bun:"sla_target_seconds"`
	RequeueOnOffline    bool      `bun:"requeue_on_offline"`
	LastAgentID         *string   `bun:"last_agent_id"`
	CreatedAt           time.Time `bun:"created_at"`
	UpdatedAt           time.Time `bun:"updated_at"`
	Version             int       `bun:"version"`
}

type queueTeamRow struct {
	bun.BaseModel `bun:"table:queue_teams,alias:qt"`

	QueueID string `bun:"queue_id,pk"`
	TeamID  string `bun:"team_id,pk"`
}

func (r *queueRow) domain() *switchboard.Queue {
	q := &switchboard.Queue{
		ID: r.ID, Name: r.Name, Strategy: switchboard.RoutingStrategy(r.Strategy),
		OfferTimeout: time.Duration(r.OfferTimeoutSeconds) * time.Second, MaxOffers: r.MaxOffers,
		SLATarget: time.Duration(r.SLATargetSeconds) * time.Second, RequeueOnOffline: r.RequeueOnOffline,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Version: r.Version,
		TeamIDs: []string{}, Teams: []switchboard.TeamRef{}, RequiredSkills: map[string]int{},
	}
	_ = json.Unmarshal([]byte(r.RequiredSkills), &q.RequiredSkills)
	return q
}

func (r *queueRow) set(q switchboard.Queue) {
	r.Name, r.SortName = q.Name, strings.ToLower(q.Name)
	r.RequiredSkills = mustJSON(q.RequiredSkills)
	r.Strategy = string(q.Strategy)
	r.OfferTimeoutSeconds = int(q.OfferTimeout / time.Second)
	r.MaxOffers = q.MaxOffers
	r.SLATargetSeconds = int(q.SLATarget / time.Second)
	r.RequeueOnOffline = q.RequeueOnOffline
}

// queueSummary is what events and the audit log record of a queue.
func queueSummary(q *switchboard.Queue) map[string]any {
	teams := make([]string, len(q.Teams))
	for i, t := range q.Teams {
		teams[i] = t.Name
	}
	return map[string]any{
		"name": q.Name, "teams": teams, "required_skills": q.RequiredSkills, "strategy": q.Strategy,
		"offer_timeout_seconds": int(q.OfferTimeout.Seconds()), "max_offers": q.MaxOffers,
		"sla_target_seconds": int(q.SLATarget.Seconds()), "requeue_on_offline": q.RequeueOnOffline,
	}
}

// queueEvent is an event about a queue, for admins and the supervisors of
// its teams (those it had before the change too).
func queueEvent(typ string, q *switchboard.Queue, teamsBefore []string) switchboard.Event {
	return switchboard.Event{Type: typ, Subject: switchboard.EventSubject{Type: "queue", ID: q.ID, Name: q.Name},
		TeamIDs: teamsOfChange(teamsBefore, q.TeamIDs)}
}

// QueueService implements switchboard.QueueService.
type QueueService struct {
	db *DB
}

var _ switchboard.QueueService = (*QueueService)(nil)

// NewQueueService returns the queue service on db.
func NewQueueService(db *DB) *QueueService { return &QueueService{db: db} }

func errQueueNotFound() error {
	return &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "No such queue."}
}

func errQueueNameTaken() error {
	return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "A queue with this name already exists.",
		Fields: []switchboard.FieldError{{Field: "name", Message: "A queue with this name already exists."}}}
}

// applyQueueScope keeps the queues a scope may see: every queue for admins;
// for supervisors, those that route to at least one team they supervise.
func applyQueueScope(q *bun.SelectQuery, sc switchboard.Scope) *bun.SelectQuery {
	if sc.All {
		return q
	}
	return q.Where("EXISTS (SELECT 1 FROM queue_teams sqt JOIN team_supervisors sts ON sts.team_id = sqt.team_id "+
		"WHERE sqt.queue_id = q.id AND sts.user_id = ?)", sc.SupervisorID)
}

// checkQueueTeams verifies that every team exists and, for a supervisor,
// that the queue routes only to teams they supervise: a queue of no team
// routes to every agent, which is an admin's decision.
func (db *DB) checkQueueTeams(ctx context.Context, idb bun.IDB, sc switchboard.Scope, field string, teamIDs []string) error {
	if len(teamIDs) > 0 {
		n, err := idb.NewSelect().Table("teams").Where("id IN (?)", bun.List(teamIDs)).Count(ctx)
		if err != nil {
			return err
		}
		if n != int64(len(teamIDs)) {
			return &switchboard.Error{Code: switchboard.EINVALID, Message: "One of the teams does not exist.",
				Fields: []switchboard.FieldError{{Field: field, Message: "One of the teams does not exist."}}}
		}
	}
	if sc.All {
		return nil
	}
	own, err := db.supervisedTeams(ctx, idb, sc.SupervisorID)
	if err != nil {
		return err
	}
	if len(teamIDs) == 0 {
		return &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "A queue without teams routes to every agent; only admins may make one.",
			Fields: []switchboard.FieldError{{Field: field, Message: "Choose one or more of your teams."}}}
	}
	for _, id := range teamIDs {
		if !own[id] {
			return &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "You can only route queues to teams you supervise.",
				Fields: []switchboard.FieldError{{Field: field, Message: "Choose only teams you supervise."}}}
		}
	}
	return nil
}

// moreQueueProblems adds to invalid, the fields' problems, those that only
// the database shows and that would otherwise be reported only once the
// others are corrected: a name another queue has, teams that do not exist.
func (db *DB) moreQueueProblems(ctx context.Context, idb bun.IDB, invalid error, id string, name *string, teamIDs []string) error {
	if switchboard.ErrorCode(invalid) != switchboard.EINVALID {
		return invalid
	}
	var v switchboard.Validation
	v.Merge(0, invalid)
	if name != nil && !v.Has("name") {
		n, err := idb.NewSelect().Model((*queueRow)(nil)).Where("sort_name = ? AND id <> ?", strings.ToLower(strings.TrimSpace(*name)), id).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			v.Add("name", "A queue with this name already exists.")
		}
	}
	if teamIDs = distinct(teamIDs); len(teamIDs) > 0 && !v.Has("team_ids") {
		n, err := idb.NewSelect().Table("teams").Where("id IN (?)", bun.List(teamIDs)).Count(ctx)
		if err != nil {
			return err
		}
		if n != int64(len(teamIDs)) {
			v.Add("team_ids", "One of the teams does not exist.")
		}
	}
	return v.Err()
}

// CreateQueue creates a queue.
func (s *QueueService) CreateQueue(ctx context.Context, nq switchboard.NewQueue) (*switchboard.Queue, error) {
	sc, err := switchboard.RequireManager(switchboard.ActorFromContext(ctx), "manage queues")
	if err != nil {
		return nil, err
	}
	nq.Normalize()
	if err := nq.Validate(); err != nil {
		return nil, s.db.moreQueueProblems(ctx, s.db.bun, err, "", &nq.Name, nq.TeamIDs)
	}
	var queue *switchboard.Queue
	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		if err := s.db.checkQueueTeams(ctx, tx, sc, "team_ids", nq.TeamIDs); err != nil {
			return err
		}
		row := &queueRow{ID: uuid.Must(uuid.NewV7()).String(), CreatedAt: tx.now, UpdatedAt: tx.now, Version: 1}
		row.set(switchboard.Queue{Name: nq.Name, RequiredSkills: nq.RequiredSkills, Strategy: nq.Strategy,
			OfferTimeout: nq.OfferTimeout, MaxOffers: nq.MaxOffers, SLATarget: nq.SLATarget, RequeueOnOffline: nq.RequeueOnOffline})
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			if isUniqueViolation(err) {
				return errQueueNameTaken()
			}
			return err
		}
		if err := setQueueTeams(ctx, tx, row.ID, nq.TeamIDs); err != nil {
			return err
		}
		queues, err := s.db.loadQueues(ctx, tx, []*queueRow{row})
		if err != nil {
			return err
		}
		queue = queues[0]
		e := queueEvent(switchboard.AuditQueueCreated, queue, nil)
		e.After = queueSummary(queue)
		tx.Record(e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return queue, nil
}

func setQueueTeams(ctx context.Context, tx *Tx, queueID string, teamIDs []string) error {
	if _, err := tx.NewDelete().Model((*queueTeamRow)(nil)).Where("queue_id = ?", queueID).Exec(ctx); err != nil {
		return err
	}
	if len(teamIDs) == 0 {
		return nil
	}
	rows := make([]queueTeamRow, len(teamIDs))
	for i, t := range teamIDs {
		rows[i] = queueTeamRow{QueueID: queueID, TeamID: t}
	}
	_, err := tx.NewInsert().Model(&rows).Exec(ctx)
	return err
}

// loadQueues turns rows into queues with their teams, in one query more.
func (db *DB) loadQueues(ctx context.Context, idb bun.IDB, rows []*queueRow) ([]*switchboard.Queue, error) {
	queues := make([]*switchboard.Queue, len(rows))
	byID := make(map[string]*switchboard.Queue, len(rows))
	ids := make([]string, len(rows))
	for i, r := range rows {
		queues[i] = r.domain()
		byID[r.ID] = queues[i]
		ids[i] = r.ID
	}
	if len(ids) == 0 {
		return queues, nil
	}
	var teams []struct {
		QueueID string `bun:"queue_id"`
		ID      string `bun:"id"`
		Name    string `bun:"name"`
	}
	err := idb.NewSelect().TableExpr("queue_teams AS qt").Join("JOIN teams AS t ON t.id = qt.team_id").
		ColumnExpr("qt.queue_id, t.id, t.name").Where("qt.queue_id IN (?)", bun.List(ids)).
		OrderExpr("t.sort_name, t.id").Scan(ctx, &teams)
	if err != nil {
		return nil, err
	}
	for _, t := range teams {
		q := byID[t.QueueID]
		q.TeamIDs = append(q.TeamIDs, t.ID)
		q.Teams = append(q.Teams, switchboard.TeamRef{ID: t.ID, Name: t.Name})
	}
	return queues, nil
}

// FindQueueByID returns a queue the actor may see.
func (s *QueueService) FindQueueByID(ctx context.Context, id string) (*switchboard.Queue, error) {
	sc, err := switchboard.RequireManager(switchboard.ActorFromContext(ctx), "see queues")
	if err != nil {
		return nil, err
	}
	row, err := findQueueRow(ctx, s.db.bun, sc, id, false)
	if err != nil {
		return nil, err
	}
	queues, err := s.db.loadQueues(ctx, s.db.bun, []*queueRow{row})
	if err != nil {
		return nil, translate(err)
	}
	return queues[0], nil
}

// findQueueRow returns the row of a queue within scope, locked for update
// when lock is set. ENOTFOUND.
func findQueueRow(ctx context.Context, idb bun.IDB, sc switchboard.Scope, id string, lock bool) (*queueRow, error) {
	var row queueRow
	q := applyQueueScope(idb.NewSelect().Model(&row).Where("q.id = ?", id), sc)
	if lock {
		q = forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, errNoRows) {
			return nil, errQueueNotFound()
		}
		return nil, translate(err)
	}
	return &row, nil
}

// FindQueues returns one page of the queues the actor may see, by name.
func (s *QueueService) FindQueues(ctx context.Context, f switchboard.QueueFilter) (*switchboard.Page[*switchboard.Queue], error) {
	sc, err := switchboard.RequireManager(switchboard.ActorFromContext(ctx), "see queues")
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	var v switchboard.Validation
	limit := switchboard.PageLimit(&v, f.Limit)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var rows []*queueRow
	q := applyQueueScope(s.db.bun.NewSelect().Model(&rows), sc)
	if f.Query != "" {
		q = q.Where(s.db.lowerLike("q.sort_name"), likePattern(strings.ToLower(f.Query)))
	}
	if f.TeamID != "" {
		q = q.Where("EXISTS (SELECT 1 FROM queue_teams fqt WHERE fqt.queue_id = q.id AND fqt.team_id = ?)", f.TeamID)
	}
	order := newListOrder("name", "q.id", map[string]string{"name": "q.sort_name"})
	load := func(rows []*queueRow) ([]*switchboard.Queue, error) { return s.db.loadQueues(ctx, s.db.bun, rows) }
	return listPage(ctx, q, &rows, order, f.Cursor, limit, load,
		func(r *queueRow) (any, string) { return r.SortName, r.ID })
}

// UpdateQueue changes a queue. A supervisor changes only queues that route
// to their teams alone, and keeps them so.
func (s *QueueService) UpdateQueue(ctx context.Context, id string, upd switchboard.QueueUpdate) (*switchboard.Queue, error) {
	sc, err := switchboard.RequireManager(switchboard.ActorFromContext(ctx), "manage queues")
	if err != nil {
		return nil, err
	}
	var queue *switchboard.Queue
	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		row, err := findQueueRow(ctx, tx, sc, id, true)
		if err != nil {
			return err
		}
		if upd.IfVersion != 0 && upd.IfVersion != row.Version {
			return errStale("queue")
		}
		loaded, err := s.db.loadQueues(ctx, tx, []*queueRow{row})
		if err != nil {
			return err
		}
		before := loaded[0]
		if !sc.All {
			if err := s.db.checkQueueTeams(ctx, tx, sc, "team_ids", before.TeamIDs); err != nil {
				return &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "This queue also routes to teams you do not supervise; ask an admin to change it."}
			}
		}
		after, err := upd.Apply(*before)
		if err != nil {
			var teamIDs []string
			if upd.TeamIDs != nil {
				teamIDs = *upd.TeamIDs
			}
			return s.db.moreQueueProblems(ctx, tx, err, row.ID, upd.Name, teamIDs)
		}
		if upd.TeamIDs != nil {
			if err := s.db.checkQueueTeams(ctx, tx, sc, "team_ids", after.TeamIDs); err != nil {
				return err
			}
		}
		row.set(after)
		row.Version++
		row.UpdatedAt = tx.now
		if _, err := tx.NewUpdate().Model(row).ExcludeColumn("id", "created_at", "last_agent_id").WherePK().Exec(ctx); err != nil {
			if isUniqueViolation(err) {
				return errQueueNameTaken()
			}
			return err
		}
		if upd.TeamIDs != nil {
			if err := setQueueTeams(ctx, tx, row.ID, after.TeamIDs); err != nil {
				return err
			}
		}
		if loaded, err = s.db.loadQueues(ctx, tx, []*queueRow{row}); err != nil {
			return err
		}
		queue = loaded[0]
		e := queueEvent(switchboard.AuditQueueUpdated, queue, before.TeamIDs)
		e.Before, e.After = changes(queueSummary(before), queueSummary(queue))
		tx.Record(e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return queue, nil
}

// DeleteQueue deletes a queue whose tasks are all finished, with them.
func (s *QueueService) DeleteQueue(ctx context.Context, id string) error {
	if err := requireAdmin(ctx); err != nil {
		return err
	}
	return s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		row, err := findQueueRow(ctx, tx, switchboard.Scope{All: true}, id, true)
		if err != nil {
			return err
		}
		open, err := tx.NewSelect().Model((*taskRow)(nil)).Where("queue_id = ? AND status IN (?)", id,
			bun.List([]switchboard.TaskStatus{switchboard.TaskQueued, switchboard.TaskOffered, switchboard.TaskAssigned})).Limit(1).Count(ctx)
		if err != nil {
			return err
		}
		if open > 0 {
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "The queue still has unfinished tasks; cancel or finish them first."}
		}
		loaded, err := s.db.loadQueues(ctx, tx, []*queueRow{row})
		if err != nil {
			return err
		}
		// Its finished tasks, with their history and offers, go with it.
		if _, err := tx.NewDelete().Model((*taskRow)(nil)).Where("queue_id = ?", id).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model(row).WherePK().Exec(ctx); err != nil {
			return err
		}
		e := queueEvent(switchboard.AuditQueueDeleted, loaded[0], nil)
		e.Before = queueSummary(loaded[0])
		tx.Record(e)
		return nil
	})
}
