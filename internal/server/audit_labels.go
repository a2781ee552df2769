package server

import (
	"slices"
	"strings"

	"github.com/switchboardhq/switchboard"
)

// actionLabels name actions and event types for people. Every page that
// shows one (the audit log, an agent's history, the dashboard's activity)
// names it through actionLabel, so that a thing is called the same
// everywhere. Types missing here get a name made from their words.
var actionLabels = map[string]string{
	switchboard.AuditSetupCompleted:      "Setup completed",
	switchboard.AuditUserCreated:         "User created",
	switchboard.AuditUserUpdated:         "User changed",
	switchboard.AuditUserPasswordChanged: "Password changed",
	switchboard.AuditUserInvited:         "User invited",
	switchboard.AuditInvitationAccepted:  "Invitation accepted",
	switchboard.AuditPasswordResetIssued: "Password reset link made",
	switchboard.AuditPasswordReset:       "Password reset",
	switchboard.AuditSignedIn:            "Signed in",
	switchboard.AuditSignInFailed:        "Sign-in failed",
	switchboard.AuditLockedOut:           "Locked out",
	switchboard.AuditTokenCreated:        "Token issued",
	switchboard.AuditTokenRevoked:        "Token revoked",
	switchboard.AuditAgentCreated:        "Agent created",
	switchboard.AuditAgentUpdated:        "Agent changed",
	switchboard.AuditAgentStatusChanged:  "Agent status changed",
	switchboard.AuditAgentDeleted:        "Agent deleted",
	switchboard.AuditAgentEnrolled:       "Agent enrolled",
	switchboard.AuditAgentsImported:      "Agents imported",
	switchboard.AuditTeamCreated:         "Team created",
	switchboard.AuditTeamUpdated:         "Team changed",
	switchboard.AuditTeamDeleted:         "Team deleted",
	switchboard.AuditKeyCreated:          "Enrollment key created",
	switchboard.AuditKeyRevoked:          "Enrollment key revoked",
	switchboard.AuditQueueCreated:        "Queue created",
	switchboard.AuditQueueUpdated:        "Queue changed",
	switchboard.AuditQueueDeleted:        "Queue deleted",
	switchboard.AuditTaskCreated:         "Task created",
	switchboard.AuditTaskOffered:         "Task offered",
	switchboard.AuditTaskAssigned:        "Task assigned",
	switchboard.AuditTaskCompleted:       "Task completed",
	switchboard.AuditTaskRequeued:        "Task back in queue",
	switchboard.AuditTaskEscalated:       "Task escalated",
	switchboard.AuditTaskCancelled:       "Task cancelled",
	switchboard.AuditTaskExpired:         "Task expired",
	switchboard.AuditSLABreached:         "SLA breached",
	switchboard.AuditOfferRejected:       "Offer rejected",
	switchboard.AuditOfferTimedOut:       "Offer timed out",
	switchboard.AuditOfferRevoked:        "Offer withdrawn",
	switchboard.AuditNotificationRetried: "Notification retried",
	switchboard.AuditWebhookCreated:      "Webhook created",
	switchboard.AuditWebhookUpdated:      "Webhook changed",
	switchboard.AuditWebhookDeleted:      "Webhook deleted",
	"agent.presence_changed":             "Presence changed",
}

// agentStatusLabels name an agent's status change by where it went.
var agentStatusLabels = map[string]string{
	string(switchboard.AgentActive):    "Agent activated",
	string(switchboard.AgentSuspended): "Agent suspended",
	string(switchboard.AgentRetired):   "Agent retired",
	string(switchboard.AgentPending):   "Agent awaiting approval",
}

// actionFamilies name the families of actions, for filtering on all of a
// kind at once.
var actionFamilies = map[string]string{
	"setup": "Setup", "user": "Users", "auth": "Sign-ins", "token": "Tokens", "agent": "Agents",
	"team": "Teams", "enrollment_key": "Enrollment keys", "queue": "Queues", "task": "Tasks",
	"offer": "Offers", "notification": "Notifications", "webhook": "Webhooks",
}

// actionLabel names an action or event type for people: "agent.created"
// is "Agent created".
func actionLabel(typ string) string {
	if l, ok := actionLabels[typ]; ok {
		return l
	}
	words := strings.ReplaceAll(strings.ReplaceAll(typ, ".", " "), "_", " ")
	if words == "" {
		return words
	}
	return strings.ToUpper(words[:1]) + words[1:]
}

// entryLabel names what an audit entry records, more closely than its
// action where the change says more: "Agent suspended" rather than "Agent
// status changed".
func entryLabel(e *switchboard.AuditEntry) string {
	if e.Action == switchboard.AuditAgentStatusChanged {
		if to, ok := e.After["status"].(string); ok {
			if l, ok := agentStatusLabels[to]; ok {
				return l
			}
		}
	}
	return actionLabel(e.Action)
}

// auditActionOptions are the actions to filter on, by name.
var auditActionOptions = func() []option {
	out := make([]option, len(switchboard.AuditActions))
	for i, a := range switchboard.AuditActions {
		out[i] = option{Value: a, Label: actionLabel(a)}
	}
	slices.SortStableFunc(out, func(a, b option) int { return strings.Compare(a.Label, b.Label) })
	return out
}()

// auditPrefixOptions are the families of actions ("agent." and so on).
var auditPrefixOptions = func() []option {
	var out []option
	for _, a := range switchboard.AuditActions {
		p, _, ok := strings.Cut(a, ".")
		if !ok || slices.ContainsFunc(out, func(o option) bool { return o.Value == p+"." }) {
			continue
		}
		label := actionFamilies[p]
		if label == "" {
			label = actionLabel(p)
		}
		out = append(out, option{Value: p + ".", Label: label + ": every action"})
	}
	return out
}()
