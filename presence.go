package switchboard

import "context"

// PresenceService lets an agent say whether it takes work.
type PresenceService interface {
	// SetPresence sets the calling agent's presence: available, away or
	// offline (busy is derived from its load). An agent that becomes
	// available is given queued work at once, as far as its capacity
	// goes. The caller is a machine agent's token or the user of a human
	// agent. EINVALID, EFORBIDDEN (no agent), ECONFLICT (not active).
	SetPresence(ctx context.Context, p Presence) (*Agent, error)
}

// Presence events are for live views and the presence timeline, not for
// the audit log.
const EventAgentPresenceChanged = "agent.presence_changed"
