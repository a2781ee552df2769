package switchboard

import (
	"context"
	"time"
)

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

// Heartbeat is a sign of life from an agent: an explicit heartbeat, with
// the metadata it reported (nil: unchanged), or any call the agent made.
type Heartbeat struct {
	AgentID  string
	At       time.Time
	Metadata map[string]any
}

// HeartbeatStore writes heartbeats in bulk: each agent's last_seen_at moves
// forward to its heartbeat's time, and its metadata is replaced when the
// heartbeat carries some.
type HeartbeatStore interface {
	RecordHeartbeats(ctx context.Context, beats []Heartbeat) error
}

// Heartbeats takes signs of life without a database write each: they are
// kept in memory and written in batches, so a crash loses at most one
// flush interval of last-seen times and nothing else.
type Heartbeats interface {
	// Beat notes an explicit heartbeat with optional metadata.
	Beat(agentID string, metadata map[string]any)
	// Touch notes any other sign of life: an authenticated call.
	Touch(agentID string)
}
