package sqlstore

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// OfferService implements switchboard.OfferService.
type OfferService struct {
	db *DB
}

var _ switchboard.OfferService = (*OfferService)(nil)
var _ switchboard.TaskCompleter = (*TaskService)(nil)

// NewOfferService returns the offer service on db.
func NewOfferService(db *DB) *OfferService { return &OfferService{db: db} }

func errOfferNotFound() error {
	return &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "No such offer."}
}

// callerAgentID returns the ID of the calling agent: the machine agent of a
// token, or the human agent of a signed-in user. EFORBIDDEN otherwise.
func callerAgentID(ctx context.Context, idb bun.IDB) (string, error) {
	actor := switchboard.ActorFromContext(ctx)
	switch {
	case actor == nil:
		return "", switchboard.ErrSignInFirst
	case actor.Agent != nil:
		return actor.Agent.ID, nil
	case actor.User != nil:
		var id string
		err := idb.NewSelect().Table("agents").Column("id").Where("user_id = ?", actor.User.ID).Scan(ctx, &id)
		if err == nil {
			return id, nil
		} else if !errors.Is(err, errNoRows) {
			return "", err
		}
	}
	return "", &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only agents have offers and work of their own."}
}

// FindMyOffers returns the calling agent's pending offers, oldest first.
func (s *OfferService) FindMyOffers(ctx context.Context) ([]*switchboard.Offer, error) {
	agentID, err := callerAgentID(ctx, s.db.bun)
	if err != nil {
		return nil, translate(err)
	}
	var rows []struct {
		offerRow  `bun:",extend"`
		TaskTitle string `bun:"task_title"`
		Priority  int    `bun:"priority"`
		QueueID   string `bun:"queue_id"`
		QueueName string `bun:"queue_name"`
	}
	err = s.db.bun.NewSelect().TableExpr("offers AS o").
		ColumnExpr("o.*, tk.title AS task_title, tk.priority, tk.queue_id, q.name AS queue_name").
		Join("JOIN tasks AS tk ON tk.id = o.task_id").Join("JOIN queues AS q ON q.id = tk.queue_id").
		Where("o.agent_id = ? AND o.status = ? AND o.expires_at > ?", agentID, switchboard.OfferPending, s.db.now()).
		OrderExpr("o.created_at, o.id").Limit(1000).Scan(ctx, &rows)
	if err != nil {
		return nil, translate(err)
	}
	offers := make([]*switchboard.Offer, len(rows))
	for i, r := range rows {
		offers[i] = r.offerRow.domain()
		offers[i].TaskTitle, offers[i].Priority, offers[i].QueueID, offers[i].QueueName = r.TaskTitle, r.Priority, r.QueueID, r.QueueName
	}
	return offers, nil
}

func (r *offerRow) domain() *switchboard.Offer {
	return &switchboard.Offer{ID: r.ID, TaskID: r.TaskID, AgentID: r.AgentID, Status: switchboard.OfferStatus(r.Status),
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), RespondedAt: utcPtr(r.RespondedAt)}
}

// lockOffer reads an offer of the calling agent and its task, both locked.
func (s *OfferService) lockOffer(ctx context.Context, tx *Tx, id string) (*offerRow, *taskRow, *switchboard.Queue, error) {
	agentID, err := callerAgentID(ctx, tx)
	if err != nil {
		return nil, nil, nil, err
	}
	var offer offerRow
	if err := forUpdate(tx.NewSelect().Model(&offer).Where("o.id = ? AND o.agent_id = ?", id, agentID)).Scan(ctx); err != nil {
		if errors.Is(err, errNoRows) {
			return nil, nil, nil, errOfferNotFound()
		}
		return nil, nil, nil, err
	}
	task, queue, err := s.db.lockTask(ctx, tx, switchboard.Scope{All: true}, offer.TaskID)
	return &offer, task, queue, err
}

// lockTask reads a task within scope, locked, and its queue. ENOTFOUND
// when there is no such task or the scope does not reach it.
func (db *DB) lockTask(ctx context.Context, tx *Tx, sc switchboard.Scope, id string) (*taskRow, *switchboard.Queue, error) {
	var task taskRow
	if err := forUpdate(applyTaskScope(tx.NewSelect().Model(&task).Where("tk.id = ?", id), sc)).Scan(ctx); err != nil {
		if errors.Is(err, errNoRows) {
			return nil, nil, errTaskNotFound()
		}
		return nil, nil, err
	}
	queue, err := db.routingQueue(ctx, tx, task.QueueID)
	if err != nil {
		return nil, nil, err
	}
	return &task, queue, nil
}

// errOfferClosed is the answer to an offer that can no longer be taken up.
func errOfferClosed(status string) error {
	return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "This offer is no longer open (" + status + ").",
		State: &switchboard.StateConflict{Current: status, Requested: string(switchboard.OfferAccepted)}}
}

// AcceptOffer assigns the offered task to the calling agent, if the offer
// is still open: pending, before its deadline, on a task still offered to
// this agent.
func (s *OfferService) AcceptOffer(ctx context.Context, id string) (*switchboard.Task, error) {
	var accepted *switchboard.Task
	var set *setWork
	if actor := switchboard.ActorFromContext(ctx); actor != nil && actor.Agent != nil {
		set = &setWork{key: "accept", make: s.db.acceptSet, evenAlone: true, item: &acceptWork{offerID: id, agentID: actor.Agent.ID, accepted: &accepted}}
	}
	err := s.db.writeInSet(ctx, func(ctx context.Context, tx *Tx) error {
		offer, task, queue, err := s.lockOffer(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case offer.Status == string(switchboard.OfferPending) && !tx.now.Before(offer.ExpiresAt):
			return errOfferClosed(string(switchboard.OfferTimedOut))
		case offer.Status != string(switchboard.OfferPending):
			return errOfferClosed(offer.Status)
		case task.Status != string(switchboard.TaskOffered) || deref(task.AgentID) != offer.AgentID:
			return errOfferClosed(string(switchboard.OfferRevoked))
		}
		offer.Status, offer.RespondedAt = string(switchboard.OfferAccepted), &tx.now
		task.Status, task.AssignedAt, task.UpdatedAt, task.Version = string(switchboard.TaskAssigned), &tx.now, tx.now, task.Version+1
		if err := tx.execTogether(ctx, offerStatusUpdate(tx, offer),
			tx.NewUpdate().Model(task).Column("status", "assigned_at", "updated_at", "version").WherePK()); err != nil {
			return err
		}
		if err := moveTask(ctx, tx, task, switchboard.TaskOffered, queue.TeamIDs, switchboard.AuditTaskAssigned, "offer accepted",
			map[string]any{"offer_id": offer.ID}); err != nil {
			return err
		}
		accepted, err = taskOf(ctx, tx, task, queue.Name)
		return err
	}, set)
	if err != nil {
		return nil, err
	}
	return accepted, nil
}

// RejectOffer sends the task back to its queue and on to the next agent.
func (s *OfferService) RejectOffer(ctx context.Context, id string) (*switchboard.Task, error) {
	var taskID string
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		offer, task, queue, err := s.lockOffer(ctx, tx, id)
		if err != nil {
			return err
		}
		if offer.Status != string(switchboard.OfferPending) || !tx.now.Before(offer.ExpiresAt) {
			return errOfferClosed(map[bool]string{true: offer.Status, false: string(switchboard.OfferTimedOut)}[offer.Status != string(switchboard.OfferPending)])
		}
		taskID = task.ID
		return s.db.closeOffer(ctx, tx, offer, task, queue, switchboard.OfferRejected, switchboard.AuditOfferRejected, "offer rejected")
	})
	if err != nil {
		return nil, err
	}
	return s.db.findTask(ctx, switchboard.Scope{All: true}, taskID)
}

func setOfferStatus(ctx context.Context, tx *Tx, offer *offerRow, status switchboard.OfferStatus) error {
	offer.Status, offer.RespondedAt = string(status), &tx.now
	_, err := offerStatusUpdate(tx, offer).Exec(ctx)
	return err
}

// offerStatusUpdate writes an offer's status and answer time.
func offerStatusUpdate(tx *Tx, offer *offerRow) *bun.UpdateQuery {
	return tx.NewUpdate().Model(offer).Column("status", "responded_at").WherePK()
}

// closeOffer ends a pending offer that was not taken up (rejected, timed
// out): the agent's capacity comes back, the task returns to its queue and
// goes on to the next agent, or, after the queue's last offer, waits there
// escalated to the queue's supervisors.
func (db *DB) closeOffer(ctx context.Context, tx *Tx, offer *offerRow, task *taskRow, queue *switchboard.Queue,
	status switchboard.OfferStatus, typ, reason string) error {
	// The agent's row first: changing the offer's status takes a shared
	// lock on it (the foreign key of the index it changes), and taking
	// the exclusive one after that deadlocks on MariaDB with a router
	// waiting for the same agent.
	offer.Status, offer.RespondedAt = string(status), &tx.now
	if err := tx.execTogether(ctx, releaseAgentUpdate(tx, offer.AgentID), offerStatusUpdate(tx, offer)); err != nil {
		return err
	}
	tx.Record(switchboard.Event{Type: typ, Subject: switchboard.EventSubject{Type: "offer", ID: offer.ID, Name: task.Title},
		TeamIDs: queue.TeamIDs, AgentID: offer.AgentID, Data: map[string]any{"task_id": task.ID}})
	if err := db.requeueOffered(ctx, tx, offer, task, queue, reason); err != nil {
		return err
	}
	// The agent has room again: queued work it has not declined is its.
	return db.routeToAgent(ctx, tx, offer.AgentID)
}

// requeueOffered puts the task of a closed offer back in its queue and
// routes it to the next agent, or records its escalation after the
// queue's last offer.
func (db *DB) requeueOffered(ctx context.Context, tx *Tx, offer *offerRow, task *taskRow, queue *switchboard.Queue, reason string) error {
	if task.Status != string(switchboard.TaskOffered) || deref(task.AgentID) != offer.AgentID {
		return nil // the task moved on already (cancelled, reassigned)
	}
	task.Status, task.AgentID, task.UpdatedAt, task.Version = string(switchboard.TaskQueued), nil, tx.now, task.Version+1
	if _, err := tx.NewUpdate().Model(task).Column("status", "agent_id", "updated_at", "version").WherePK().Exec(ctx); err != nil {
		return err
	}
	if err := moveTask(ctx, tx, task, switchboard.TaskOffered, queue.TeamIDs, switchboard.AuditTaskRequeued, reason, map[string]any{"offer_id": offer.ID}); err != nil {
		return err
	}
	if task.Offers >= queue.MaxOffers {
		e := taskEvent(switchboard.AuditTaskEscalated, task, queue.TeamIDs)
		e.Data = map[string]any{"offers": task.Offers, "queue_id": queue.ID}
		tx.Record(e)
		return nil
	}
	_, err := db.routeTask(ctx, tx, task, queue)
	return err
}

// releaseAgent gives back one unit of an agent's capacity.
func releaseAgent(ctx context.Context, tx *Tx, agentID string) error {
	_, err := releaseAgentUpdate(tx, agentID).Exec(ctx)
	return err
}

func releaseAgentUpdate(tx *Tx, agentID string) *bun.UpdateQuery {
	return tx.NewUpdate().Model((*agentRow)(nil)).Set("workload = workload - 1").Where("id = ? AND workload > 0", agentID)
}

// ExpireOffers times out offers past their deadline. Each runs in its own
// transaction; offers another instance is expiring are skipped, so each
// expires exactly once.
func (s *OfferService) ExpireOffers(ctx context.Context, limit int) (int, error) {
	var due []string
	err := s.db.bun.NewSelect().Model((*offerRow)(nil)).Column("id").
		Where("status = ? AND expires_at <= ?", switchboard.OfferPending, s.db.now()).
		OrderExpr("expires_at").Limit(int64(limit)).Scan(ctx, &due)
	if err != nil {
		return 0, translate(err)
	}
	expired := 0
	sys := switchboard.NewContextWithActor(ctx, switchboard.SystemActor("offer timeout"))
	for _, id := range due {
		err := s.db.write(sys, func(ctx context.Context, tx *Tx) error {
			var offer offerRow
			q := tx.NewSelect().Model(&offer).Where("o.id = ? AND o.status = ? AND o.expires_at <= ?", id, switchboard.OfferPending, tx.now)
			if err := s.db.forUpdateSkipLocked(q).Scan(ctx); err != nil {
				if errors.Is(err, errNoRows) {
					return nil // answered, or another instance has it
				}
				return err
			}
			task, queue, err := s.db.lockTask(ctx, tx, switchboard.Scope{All: true}, offer.TaskID)
			if err != nil {
				return err
			}
			expired++
			return s.db.closeOffer(ctx, tx, &offer, task, queue, switchboard.OfferTimedOut, switchboard.AuditOfferTimedOut, "offer timed out")
		})
		if err != nil {
			return expired, err
		}
	}
	return expired, nil
}

// CompleteTask finishes an assigned task: by its agent, or by an admin or
// supervisor who may see it. The agent's capacity comes back, and it is
// given the next queued task it may take.
func (s *TaskService) CompleteTask(ctx context.Context, id, outcome string) (*switchboard.Task, error) {
	actor := switchboard.ActorFromContext(ctx)
	sc, err := switchboard.ScopeOf(actor)
	if err != nil {
		return nil, err
	}
	outcome = strings.TrimSpace(outcome)
	if utf8.RuneCountInString(outcome) > switchboard.MaxOutcomeLength || !utf8.ValidString(outcome) {
		return nil, &switchboard.Error{Code: switchboard.EINVALID, Message: "An outcome has at most 1000 characters.",
			Fields: []switchboard.FieldError{{Field: "outcome", Message: "An outcome has at most 1000 characters."}}}
	}
	var completed *switchboard.Task
	var set *setWork
	if actor.Agent != nil && sc.AgentID == actor.Agent.ID {
		set = &setWork{key: "complete", make: s.db.completeSet, waitsForAgents: true, evenAlone: true, item: &completeWork{taskID: id, agentID: actor.Agent.ID, outcome: outcome, completed: &completed}}
	}
	err = s.db.writeInSet(ctx, func(ctx context.Context, tx *Tx) error {
		task, queue, err := s.db.lockTask(ctx, tx, sc, id)
		if err != nil {
			return err
		}
		if task.Status != string(switchboard.TaskAssigned) {
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "Only an assigned task can be completed; this one is " + task.Status + ".",
				State: &switchboard.StateConflict{Current: task.Status, Requested: string(switchboard.TaskCompleted)}}
		}
		// The agent's row before the task's: see closeOffer. (The task's
		// row is locked already; only the agent's is taken here.)
		agentID := deref(task.AgentID)
		task.Status, task.CompletedAt, task.Outcome = string(switchboard.TaskCompleted), &tx.now, nilIfEmpty(outcome)
		task.UpdatedAt, task.Version = tx.now, task.Version+1
		if err := tx.execTogether(ctx, releaseAgentUpdate(tx, agentID),
			tx.NewUpdate().Model(task).Column("status", "completed_at", "outcome", "updated_at", "version").WherePK()); err != nil {
			return err
		}
		if err := moveTask(ctx, tx, task, switchboard.TaskAssigned, queue.TeamIDs, switchboard.AuditTaskCompleted, "",
			map[string]any{"outcome": outcome}); err != nil {
			return err
		}
		if completed, err = taskOf(ctx, tx, task, queue.Name); err != nil {
			return err
		}
		return s.db.routeToAgent(ctx, tx, agentID)
	}, set)
	if err != nil {
		return nil, err
	}
	return completed, nil
}
