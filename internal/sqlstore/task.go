package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type taskRow struct {
	bun.BaseModel `bun:"table:tasks,alias:tk"`

	ID               string     `bun:"id,pk"`
	QueueID          string     `bun:"queue_id"`
	Title            string     `bun:"title"`
	Priority         int        `bun:"priority"`
	RequiredSkills   string     `bun:"required_skills"`
	Attributes       string     `bun:"attributes"`
	ExternalRef      *string    `bun:"external_ref"`
	Status           string     `bun:"status"`
	AgentID          *string    `bun:"agent_id"`
	Outcome          *string    `bun:"outcome"`
	Offers           int        `bun:"offers"`
	CreatedAt        time.Time  `bun:"created_at"`
	OfferedAt        *time.Time `bun:"offered_at"`
	AssignedAt       *time.Time `bun:"assigned_at"`
	CompletedAt      *time.Time `bun:"completed_at"`
	ExpiresAt        *time.Time `bun:"expires_at"`
	SLABreached      bool       `bun:"sla_breached"`
	UpdatedAt        time.Time  `bun:"updated_at"`
	Version          int        `bun:"version"`
	IdempotencyActor *string    `bun:"idempotency_actor"`
	IdempotencyKey   *string    `bun:"idempotency_key"`
	RequestHash      *string    `bun:"request_hash"`

	// offer is the offer routing just made, when it made one, and
	// agentName the name of the agent it chose.
	offer     *offerRow `bun:"-"`
	agentName string    `bun:"-"`
	// unsaved marks a task being created: routing leaves the writing of
	// its row, and of its offer, to the creation, which writes both at
	// once in the state routing left them.
	unsaved bool `bun:"-"`
}

func (r *taskRow) domain() *switchboard.Task {
	t := &switchboard.Task{
		ID: r.ID, QueueID: r.QueueID, Title: r.Title, Priority: r.Priority, ExternalRef: deref(r.ExternalRef),
		Status: switchboard.TaskStatus(r.Status), AgentID: deref(r.AgentID), Outcome: deref(r.Outcome), Offers: r.Offers,
		CreatedAt: r.CreatedAt.UTC(), OfferedAt: utcPtr(r.OfferedAt), AssignedAt: utcPtr(r.AssignedAt),
		CompletedAt: utcPtr(r.CompletedAt), ExpiresAt: utcPtr(r.ExpiresAt), UpdatedAt: r.UpdatedAt.UTC(), Version: r.Version,
		RequiredSkills: map[string]int{}, Attributes: map[string]any{},
	}
	_ = json.Unmarshal([]byte(r.RequiredSkills), &t.RequiredSkills)
	_ = json.Unmarshal([]byte(r.Attributes), &t.Attributes)
	return t
}

// TaskService implements switchboard.TaskService.
type TaskService struct {
	db *DB
}

var _ switchboard.TaskService = (*TaskService)(nil)

// NewTaskService returns the task service on db.
func NewTaskService(db *DB) *TaskService { return &TaskService{db: db} }

func errTaskNotFound() error {
	return &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "No such task."}
}

// taskEvent is an event about a task, for admins, the supervisors of its
// queue's teams, and the agent it is offered or assigned to.
func taskEvent(typ string, t *taskRow, queueTeams []string) switchboard.Event {
	return switchboard.Event{Type: typ, Subject: switchboard.EventSubject{Type: "task", ID: t.ID, Name: t.Title},
		TeamIDs: queueTeams, AgentID: deref(t.AgentID)}
}

// taskTransitions are the event types that move a task from one status to
// another. Their audit entries are the task's history: who, when, from and
// to which status, to which agent, and why.
var taskTransitions = []string{
	switchboard.AuditTaskCreated, switchboard.AuditTaskOffered, switchboard.AuditTaskAssigned,
	switchboard.AuditTaskCompleted, switchboard.AuditTaskRequeued, switchboard.AuditTaskCancelled,
	switchboard.AuditTaskExpired,
}

// moveTask records a task's transition, in the transaction of the change:
// an event, whose audit entry is the transition's row in the task's
// history.
func moveTask(ctx context.Context, tx *Tx, t *taskRow, from switchboard.TaskStatus, queueTeams []string, typ, reason string, data map[string]any) error {
	if !slices.Contains(taskTransitions, typ) {
		// The history would not show it.
		return fmt.Errorf("%s is not a task transition", typ)
	}
	e := taskEvent(typ, t, queueTeams)
	e.Before = map[string]any{"status": from}
	if from == "" {
		e.Before = nil
	}
	e.After = map[string]any{"status": t.Status}
	if t.AgentID != nil {
		e.After["agent_id"] = *t.AgentID
	}
	e.Data = data
	if reason != "" {
		if e.Data == nil {
			e.Data = map[string]any{}
		}
		e.Data["reason"] = reason
	}
	tx.Record(e)
	return nil
}

// requestHash fingerprints a task's input, so that a retried creation with
// the same Idempotency-Key is recognised and a different one refused.
func requestHash(nt switchboard.NewTask) string {
	b, _ := json.Marshal(map[string]any{
		"queue": nt.QueueID, "title": nt.Title, "priority": nt.Priority, "required_skills": nt.RequiredSkills,
		"attributes": nt.Attributes, "external_ref": nt.ExternalRef, "expires_at": nt.ExpiresAt,
	})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// errDuplicateTask ends a creation whose insert met a unique key: either
// the idempotency key (a concurrent retry) or the external reference.
var errDuplicateTask = errors.New("duplicate task")

// CreateTask creates a task in a queue the actor may see and routes it in
// the same transaction.
func (s *TaskService) CreateTask(ctx context.Context, nt switchboard.NewTask) (*switchboard.Task, bool, error) {
	actor := switchboard.ActorFromContext(ctx)
	sc, err := switchboard.RequireManager(actor, "create tasks")
	if err != nil {
		return nil, false, err
	}
	nt.Normalize()
	if err := nt.Validate(s.db.now()); err != nil {
		return nil, false, err
	}
	idemActor := actor.String()
	hash := requestHash(nt)
	if nt.IdempotencyKey != "" {
		if t, err := s.findIdempotent(ctx, idemActor, nt.IdempotencyKey, hash); err != nil || t != nil {
			return t, false, err
		}
	}
	var created *switchboard.Task
	work := &createWork{nt: nt, idemActor: idemActor, hash: hash, created: &created}
	var set *setWork
	if sc.All {
		set = &setWork{key: "create " + nt.QueueID + " " + mustJSON(nt.RequiredSkills), make: s.db.createSet, endsWithNewRows: true, item: work}
	}
	err = s.db.writeInSet(ctx, func(ctx context.Context, tx *Tx) error {
		queue, err := s.db.taskQueue(ctx, tx, sc, nt.QueueID)
		if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
			return errNoSuchQueue()
		} else if err != nil {
			return err
		}
		row := work.newRow(ctx, tx, queue)
		// Routed first, then written as routing left it, with its
		// offer: one statement fewer, and one round trip on
		// PostgreSQL, where both rows go in one statement.
		row.unsaved = true
		if _, err = s.db.routeTask(ctx, tx, row, queue); err != nil {
			return err
		}
		row.unsaved = false
		inserts := []changeQuery{tx.NewInsert().Model(row)}
		if row.offer != nil {
			inserts = append(inserts, tx.NewInsert().Model(row.offer))
		}
		if err := tx.execTogether(ctx, inserts...); err != nil {
			if isUniqueViolation(err) {
				return errDuplicateTask
			}
			return err
		}
		created, err = taskOf(ctx, tx, row, queue.Name)
		return err
	}, set)
	if errors.Is(err, errDuplicateTask) {
		if nt.IdempotencyKey != "" {
			if t, err := s.findIdempotent(ctx, idemActor, nt.IdempotencyKey, hash); err != nil || t != nil {
				return t, false, err
			}
		}
		return nil, false, &switchboard.Error{Code: switchboard.ECONFLICT, Message: "The queue already has a task with this external reference.",
			Fields: []switchboard.FieldError{{Field: "external_ref", Message: "The queue already has a task with this external reference."}}}
	}
	if err != nil {
		return nil, false, err
	}
	return created, true, nil
}

func errNoSuchQueue() error {
	return &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "No such queue.",
		Fields: []switchboard.FieldError{{Field: "queue", Message: "No such queue."}}}
}

// createWork is a task's creation: its input, and where its answer goes.
type createWork struct {
	nt              switchboard.NewTask
	idemActor, hash string
	created         **switchboard.Task
}

// newRow is the new task's row in queue, queued, with its creation
// recorded in tx.
func (w *createWork) newRow(ctx context.Context, tx *Tx, queue *switchboard.Queue) *taskRow {
	nt := w.nt
	attributes := nt.Attributes
	if attributes == nil {
		attributes = map[string]any{}
	}
	row := &taskRow{
		ID: uuid.Must(uuid.NewV7()).String(), QueueID: queue.ID, Title: nt.Title, Priority: nt.Priority,
		RequiredSkills: mustJSON(nt.RequiredSkills), Attributes: mustJSON(attributes), ExternalRef: nilIfEmpty(nt.ExternalRef),
		Status: string(switchboard.TaskQueued), CreatedAt: tx.now, ExpiresAt: nt.ExpiresAt, UpdatedAt: tx.now, Version: 1,
	}
	if nt.IdempotencyKey != "" {
		row.IdempotencyActor, row.IdempotencyKey, row.RequestHash = &w.idemActor, &nt.IdempotencyKey, &w.hash
	}
	_ = moveTask(ctx, tx, row, "", queue.TeamIDs, switchboard.AuditTaskCreated, "", map[string]any{"queue_id": queue.ID, "priority": row.Priority})
	return row
}

// findIdempotent returns the task an actor created with an idempotency
// key, nil if none; ECONFLICT when the key was used for other input.
func (s *TaskService) findIdempotent(ctx context.Context, actor, key, hash string) (*switchboard.Task, error) {
	var row taskRow
	err := s.db.bun.NewSelect().Model(&row).Where("tk.idempotency_actor = ? AND tk.idempotency_key = ?", actor, key).Scan(ctx)
	if errors.Is(err, errNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, translate(err)
	}
	if deref(row.RequestHash) != hash {
		return nil, &switchboard.Error{Code: switchboard.ECONFLICT,
			Message: "This Idempotency-Key was used for a different task; use a new key for a new task.",
			Fields:  []switchboard.FieldError{{Field: "Idempotency-Key", Message: "Already used for a different task."}}}
	}
	return s.db.findTask(ctx, switchboard.Scope{All: true}, row.ID)
}

// applyTaskScope keeps the tasks a scope may see: every task for admins;
// for supervisors those of queues that route to a team of theirs; for an
// agent, those offered or assigned to it.
func applyTaskScope(q *bun.SelectQuery, sc switchboard.Scope) *bun.SelectQuery {
	switch {
	case sc.All:
		return q
	case sc.SupervisorID != "":
		return q.Where("EXISTS (SELECT 1 FROM queue_teams sqt JOIN team_supervisors sts ON sts.team_id = sqt.team_id "+
			"WHERE sqt.queue_id = tk.queue_id AND sts.user_id = ?)", sc.SupervisorID)
	case sc.AgentID != "":
		return q.Where("tk.agent_id = ?", sc.AgentID)
	}
	return q.Where("tk.agent_id IN (SELECT ua.id FROM agents ua WHERE ua.user_id = ?)", sc.UserID)
}

// FindTaskByID returns a task the actor may see, with its history.
func (s *TaskService) FindTaskByID(ctx context.Context, id string) (*switchboard.Task, error) {
	sc, err := switchboard.ScopeOf(switchboard.ActorFromContext(ctx))
	if err != nil {
		return nil, err
	}
	return s.db.findTask(ctx, sc, id)
}

func (db *DB) findTask(ctx context.Context, sc switchboard.Scope, id string) (*switchboard.Task, error) {
	var row taskRow
	if err := applyTaskScope(db.bun.NewSelect().Model(&row).Where("tk.id = ?", id), sc).Scan(ctx); err != nil {
		if errors.Is(err, errNoRows) {
			return nil, errTaskNotFound()
		}
		return nil, translate(err)
	}
	tasks, err := db.loadTasks(ctx, []*taskRow{&row})
	if err != nil {
		return nil, err
	}
	t := tasks[0]
	if t.History, err = db.taskHistory(ctx, id); err != nil {
		return nil, err
	}
	return t, nil
}

// taskHistory reads a task's transitions, oldest first, from the audit
// log: each is the audit entry of the event that made it (see moveTask).
func (db *DB) taskHistory(ctx context.Context, taskID string) ([]switchboard.TaskTransition, error) {
	var entries []*auditRow
	if err := db.bun.NewSelect().Model(&entries).
		Where("ae.target_id = ? AND ae.target_type = 'task' AND ae.action IN (?)", taskID, bun.List(taskTransitions)).
		OrderExpr("ae.at, ae.id").Scan(ctx); err != nil {
		return nil, translate(err)
	}
	history := make([]switchboard.TaskTransition, len(entries))
	for i, e := range entries {
		history[i] = e.transition()
	}
	return history, nil
}

// transition reads the audit entry of a task's transition (see moveTask)
// as a row of its history.
func (r *auditRow) transition() switchboard.TaskTransition {
	e := r.domain()
	from, _ := e.Before["status"].(string)
	to, _ := e.After["status"].(string)
	agentID, _ := e.After["agent_id"].(string)
	return switchboard.TaskTransition{At: e.At, Actor: switchboard.EventActor{Type: e.ActorType, ID: e.ActorID, Name: e.ActorName},
		From: switchboard.TaskStatus(from), To: switchboard.TaskStatus(to), AgentID: agentID, Reason: e.Reason}
}

// taskOf is a task as the change in tx leaves it, without its history:
// the answer to the change, made of what the change holds instead of
// reading the task back after the commit.
func taskOf(ctx context.Context, tx *Tx, row *taskRow, queueName string) (*switchboard.Task, error) {
	t := row.domain()
	t.QueueName = queueName
	if t.AgentID != "" {
		if a := tx.actor; row.agentName != "" {
			t.AgentName = row.agentName
		} else if a.Type == "agent" && a.ID == t.AgentID {
			t.AgentName = a.Name
		} else if err := tx.NewSelect().Table("agents").Column("name").Where("id = ?", t.AgentID).Scan(ctx, &t.AgentName); err != nil {
			return nil, err
		}
	}
	if o := row.offer; o != nil && row.Status == string(switchboard.TaskOffered) {
		t.Offer = &switchboard.TaskOffer{ID: o.ID, ExpiresAt: o.ExpiresAt.UTC()}
	}
	return t, nil
}

// loadTasks turns rows into tasks with their queue's and agent's names.
func (db *DB) loadTasks(ctx context.Context, rows []*taskRow) ([]*switchboard.Task, error) {
	tasks := make([]*switchboard.Task, len(rows))
	queueIDs, agentIDs := map[string]bool{}, map[string]bool{}
	var offered []string
	for i, r := range rows {
		tasks[i] = r.domain()
		queueIDs[r.QueueID] = true
		if r.AgentID != nil {
			agentIDs[*r.AgentID] = true
		}
		if r.Status == string(switchboard.TaskOffered) {
			offered = append(offered, r.ID)
		}
	}
	if len(offered) > 0 {
		var offers []offerRow
		if err := db.bun.NewSelect().Model(&offers).Column("id", "task_id", "expires_at").
			Where("o.task_id IN (?) AND o.status = ?", bun.List(offered), "pending").Scan(ctx); err != nil {
			return nil, translate(err)
		}
		byTask := make(map[string]*switchboard.TaskOffer, len(offers))
		for _, o := range offers {
			byTask[o.TaskID] = &switchboard.TaskOffer{ID: o.ID, ExpiresAt: o.ExpiresAt.UTC()}
		}
		for _, t := range tasks {
			t.Offer = byTask[t.ID]
		}
	}
	names := func(table string, ids map[string]bool) (map[string]string, error) {
		out := map[string]string{}
		if len(ids) == 0 {
			return out, nil
		}
		var found []struct {
			ID   string `bun:"id"`
			Name string `bun:"name"`
		}
		err := db.bun.NewSelect().Table(table).Column("id", "name").Where("id IN (?)", bun.List(slices.Sorted(maps.Keys(ids)))).Scan(ctx, &found)
		for _, f := range found {
			out[f.ID] = f.Name
		}
		return out, translate(err)
	}
	queueNames, err := names("queues", queueIDs)
	if err != nil {
		return nil, err
	}
	agentNames, err := names("agents", agentIDs)
	if err != nil {
		return nil, err
	}
	for _, t := range tasks {
		t.QueueName, t.AgentName = queueNames[t.QueueID], agentNames[t.AgentID]
	}
	return tasks, nil
}

// FindTasks returns one page of the tasks the actor may see, newest first.
func (s *TaskService) FindTasks(ctx context.Context, f switchboard.TaskFilter) (*switchboard.Page[*switchboard.Task], error) {
	sc, err := switchboard.ScopeOf(switchboard.ActorFromContext(ctx))
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	var v switchboard.Validation
	limit := switchboard.PageLimit(&v, f.Limit)
	if f.Status != "" && !f.Status.Valid() {
		v.Add("status", "Status must be queued, offered, assigned, completed, cancelled or expired.")
	}
	if f.MinPriority != nil && f.MaxPriority != nil && *f.MinPriority > *f.MaxPriority {
		v.Add("max_priority", "The highest priority must not be below the lowest.")
	}
	if f.CreatedAfter != nil && f.CreatedBefore != nil && !f.CreatedAfter.Before(*f.CreatedBefore) {
		v.Add("created_before", "The end of the time range must be after its start.")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var rows []*taskRow
	q := applyTaskScope(s.db.bun.NewSelect().Model(&rows), sc)
	if f.QueueID != "" {
		q = q.Where("tk.queue_id = ?", f.QueueID)
	}
	if f.Status != "" {
		q = q.Where("tk.status = ?", f.Status)
	}
	if f.AgentID != "" {
		q = q.Where("tk.agent_id = ?", f.AgentID)
	}
	if f.MinPriority != nil {
		q = q.Where("tk.priority >= ?", *f.MinPriority)
	}
	if f.MaxPriority != nil {
		q = q.Where("tk.priority <= ?", *f.MaxPriority)
	}
	if f.CreatedAfter != nil {
		q = q.Where("tk.created_at >= ?", f.CreatedAfter.UTC())
	}
	if f.CreatedBefore != nil {
		q = q.Where("tk.created_at < ?", f.CreatedBefore.UTC())
	}
	order := newListOrder("-created_at", "tk.id", map[string]string{"created_at": "tk.created_at"}, "created_at")
	load := func(rows []*taskRow) ([]*switchboard.Task, error) { return s.db.loadTasks(ctx, rows) }
	return listPage(ctx, q, &rows, order, f.Cursor, limit, load,
		func(r *taskRow) (any, string) { return r.CreatedAt, r.ID })
}

// myTasksLimit bounds an agent's current work as one answer shows it; an
// agent's capacity is at most a few hundred.
const myTasksLimit = 1000

// FindMyTasks returns the tasks offered or assigned to the calling agent.
func (s *TaskService) FindMyTasks(ctx context.Context) (string, []*switchboard.Task, error) {
	agentID, err := callerAgentID(ctx, s.db.bun)
	if err != nil {
		return "", nil, translate(err)
	}
	var rows []*taskRow
	err = s.db.bun.NewSelect().Model(&rows).Where("tk.agent_id = ? AND tk.status IN (?)", agentID,
		bun.List([]switchboard.TaskStatus{switchboard.TaskOffered, switchboard.TaskAssigned})).
		OrderExpr("tk.priority DESC, tk.created_at, tk.id").Limit(myTasksLimit).Scan(ctx)
	if err != nil {
		return "", nil, translate(err)
	}
	tasks, err := s.db.loadTasks(ctx, rows)
	return agentID, tasks, err
}
