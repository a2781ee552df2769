package switchboard

import (
	"context"
	"time"
)

// Audit actions. Each names the kind of object and what happened to it.
const (
	AuditSetupCompleted      = "setup.completed"
	AuditUserCreated         = "user.created"
	AuditUserUpdated         = "user.updated"
	AuditUserPasswordChanged = "user.password_changed"
	AuditUserInvited         = "user.invited"
	AuditInvitationAccepted  = "user.invitation_accepted"
	AuditPasswordResetIssued = "user.password_reset_issued"
	AuditPasswordReset       = "user.password_reset"
	AuditSignedIn            = "auth.signed_in"
	AuditSignInFailed        = "auth.sign_in_failed"
	AuditLockedOut           = "auth.locked_out"
	AuditTokenCreated        = "token.created"
	AuditTokenRevoked        = "token.revoked"
	AuditAgentCreated        = "agent.created"
	AuditAgentUpdated        = "agent.updated"
	AuditAgentStatusChanged  = "agent.status_changed"
	AuditAgentDeleted        = "agent.deleted"
	AuditAgentEnrolled       = "agent.enrolled"
	AuditAgentsImported      = "agent.imported"
	AuditTeamCreated         = "team.created"
	AuditTeamUpdated         = "team.updated"
	AuditTeamDeleted         = "team.deleted"
	AuditKeyCreated          = "enrollment_key.created"
	AuditKeyRevoked          = "enrollment_key.revoked"
	AuditQueueCreated        = "queue.created"
	AuditQueueUpdated        = "queue.updated"
	AuditQueueDeleted        = "queue.deleted"
	AuditTaskCreated         = "task.created"
	AuditTaskOffered         = "task.offered"
	AuditTaskAssigned        = "task.assigned"
)

// AuditActions lists every action, for filters.
var AuditActions = []string{
	AuditSetupCompleted, AuditUserCreated, AuditUserUpdated, AuditUserPasswordChanged, AuditUserInvited,
	AuditInvitationAccepted, AuditPasswordResetIssued, AuditPasswordReset, AuditSignedIn, AuditSignInFailed, AuditLockedOut, AuditTokenCreated,
	AuditTokenRevoked, AuditAgentCreated, AuditAgentUpdated, AuditAgentStatusChanged, AuditAgentDeleted,
	AuditAgentEnrolled, AuditAgentsImported, AuditTeamCreated, AuditTeamUpdated, AuditTeamDeleted,
	AuditKeyCreated, AuditKeyRevoked, AuditQueueCreated, AuditQueueUpdated, AuditQueueDeleted,
	AuditTaskCreated, AuditTaskOffered, AuditTaskAssigned, AuditTaskCompleted, AuditTaskRequeued, AuditTaskEscalated,
	AuditOfferRejected, AuditOfferTimedOut, AuditOfferRevoked, AuditTaskCancelled, AuditTaskExpired, AuditSLABreached,
	AuditNotificationRetried,
	AuditWebhookCreated, AuditWebhookUpdated, AuditWebhookDeleted,
}

// AuditEntry records one change or sign-in event: who did what to what, from
// where. Entries are written in the same transaction as the change and never
// altered. Before and After summarise the change with secrets removed.
type AuditEntry struct {
	ID         string
	At         time.Time
	ActorType  string // "user", "agent", "system", "enrollment_key" or "anonymous"
	ActorID    string
	ActorName  string // the actor's e-mail or name at the time
	Action     string
	TargetType string // "user", "agent", "team", "token", "enrollment_key", "queue", "task", "offer", "notification", "webhook"
	TargetID   string
	TargetName string
	Before     map[string]any
	After      map[string]any
	IP         string
	RequestID  string
	// Reason is why the change was made, when it was given one: the
	// reason of a requeue or a cancellation, the strategy that routed a
	// task.
	Reason string
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	ActorID    string
	TargetID   string
	TargetType string
	// AgentID selects what happened to an agent: entries about the agent
	// and about its tokens.
	AgentID string
	Action  string // an action, or a prefix ending in "." like "agent."
	Since   *time.Time
	Until   *time.Time
	Limit   int
	Cursor  string
}

// Validate fills in the default page size and checks the filter: text
// without NUL, times within the range every engine stores, a range that
// ends after it starts.
func (f *AuditFilter) Validate() error {
	var v Validation
	f.Limit = PageLimit(&v, f.Limit)
	for _, field := range []struct{ name, value string }{
		{"actor", f.ActorID}, {"target", f.TargetID}, {"target_type", f.TargetType}, {"agent", f.AgentID}, {"action", f.Action},
	} {
		switch {
		case !ValidText(field.value):
			v.Add(field.name, "Must be text without NUL characters.")
		case len(field.value) > 64:
			v.Add(field.name, "Must be at most 64 characters.")
		}
	}
	ValidateTime(&v, "since", f.Since)
	ValidateTime(&v, "until", f.Until)
	if f.Since != nil && f.Until != nil && !f.Since.Before(*f.Until) && !v.Has("since") && !v.Has("until") {
		v.Add("until", "The end of the time range must be after its start.")
	}
	return v.Err()
}

// AuditService reads the audit log; writing happens inside the services
// that make the changes.
type AuditService interface {
	// FindAuditEntries returns one page of entries: all of them to admins;
	// to supervisors those about their teams, their agents and keys, and
	// their own changes. EINVALID, EFORBIDDEN.
	FindAuditEntries(ctx context.Context, filter AuditFilter) (*Page[*AuditEntry], error)
}
