package switchboard

import (
	"context"
	"time"
)

// OfferStatus is where an offer (a reservation of a task for one agent)
// stands.
type OfferStatus string

const (
	OfferPending  OfferStatus = "pending"
	OfferAccepted OfferStatus = "accepted"
	OfferRejected OfferStatus = "rejected"
	OfferTimedOut OfferStatus = "timed_out"
	OfferRevoked  OfferStatus = "revoked"
)

// Offer is a task offered to one agent until it accepts, rejects, or the
// offer times out.
type Offer struct {
	ID          string
	TaskID      string
	TaskTitle   string
	Priority    int
	QueueID     string
	QueueName   string
	AgentID     string
	Status      OfferStatus
	CreatedAt   time.Time
	ExpiresAt   time.Time
	RespondedAt *time.Time
}

// Task and offer events beyond creation and routing.
const (
	AuditTaskCompleted = "task.completed"
	AuditTaskRequeued  = "task.requeued"
	AuditTaskEscalated = "task.escalated"
	AuditTaskCancelled = "task.cancelled"
	AuditTaskExpired   = "task.expired"
	AuditSLABreached   = "queue.sla_breached"
	AuditOfferRejected = "offer.rejected"
	AuditOfferTimedOut = "offer.timed_out"
	// AuditOfferRevoked: the offer was taken back from its agent, which
	// went offline, and the task went on to the next agent.
	AuditOfferRevoked = "offer.revoked"
)

// OfferService is the agent's side of routing: the offers made to it, and
// its answers. Timeouts are the system's.
type OfferService interface {
	// FindMyOffers returns the calling agent's pending offers, oldest
	// first. EFORBIDDEN (not an agent).
	FindMyOffers(ctx context.Context) ([]*Offer, error)
	// AcceptOffer assigns the offered task to the calling agent. ENOTFOUND;
	// ECONFLICT when the offer timed out, was revoked or answered, or its
	// task was cancelled.
	AcceptOffer(ctx context.Context, id string) (*Task, error)
	// RejectOffer sends the task back to its queue, to be offered to the
	// next agent (never again to this one). ENOTFOUND, ECONFLICT.
	RejectOffer(ctx context.Context, id string) (*Task, error)
	// ExpireOffers times out the offers past their deadline, at most limit
	// of them, and routes their tasks on; it returns how many it expired.
	// Several instances may run it at once: each offer expires once.
	ExpireOffers(ctx context.Context, limit int) (int, error)
}

// TaskCompleter finishes tasks.
type TaskCompleter interface {
	// CompleteTask finishes an assigned task with an outcome: the assigned
	// agent, or an admin or supervisor who may see the task. ENOTFOUND,
	// ECONFLICT (not assigned), EINVALID (outcome).
	CompleteTask(ctx context.Context, id, outcome string) (*Task, error)
}
