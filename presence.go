package switchboard

import (
	"context"
	"encoding/json"
	"time"
)

// PresenceService lets an agent say whether it takes work, and tells how
// agents have been present.
type PresenceService interface {
	// SetPresence sets the calling agent's presence: available, away or
	// offline (busy is derived from its load). An agent that becomes
	// available is given queued work at once, as far as its capacity
	// goes. The caller is a machine agent's token or the user of a human
	// agent. EINVALID, EFORBIDDEN (no agent), ECONFLICT (not active).
	SetPresence(ctx context.Context, p Presence) (*Agent, error)
	// PresenceTimeline returns an agent's presence from since until now,
	// oldest first, as periods that follow each other without gaps; a zero
	// since means the last DefaultPresenceTimeline. Admins see every
	// agent's, supervisors their teams' agents', an agent its own.
	// EINVALID (since in the future or before MaxPresenceTimeline ago),
	// ENOTFOUND (no such agent, or not one the caller may see).
	PresenceTimeline(ctx context.Context, agentID string, since time.Time) ([]PresencePeriod, error)
}

// PresencePeriod is a stretch of time an agent spent in one presence.
type PresencePeriod struct {
	Presence Presence
	From     time.Time
	// To is when the next period began; for the current one, the time
	// the timeline was read.
	To      time.Time
	Current bool
	// Reason is what made the change that began the period: "set by the
	// agent", "heartbeat timeout", "agent suspended"...
	Reason string
}

// Presence events are for live views and the presence timeline, not for
// the audit log.
const EventAgentPresenceChanged = "agent.presence_changed"

// PresenceHistoryRetention is how long presence changes are kept for
// timelines. Each agent's latest change is kept whatever its age: it says
// where the agent stands.
const PresenceHistoryRetention = 30 * 24 * time.Hour

// DefaultPresenceTimeline is how far back a timeline reaches unless told.
const DefaultPresenceTimeline = 24 * time.Hour

// MaxPresenceTimeline is how far back a timeline may reach: the history
// kept.
const MaxPresenceTimeline = PresenceHistoryRetention

// Heartbeat is a sign of life from an agent: an explicit heartbeat, with
// the metadata it reported (nil: unchanged), or any call the agent made.
type Heartbeat struct {
	AgentID string
	At      time.Time
	// Metadata is a JSON object, as ValidateRawJSONObject returns it: it
	// goes to the database as it came, never decoded.
	Metadata json.RawMessage
}

// HeartbeatStore writes heartbeats in bulk: each agent's last_seen_at moves
// forward to its heartbeat's time, and its metadata is replaced when the
// heartbeat carries some. Heartbeats it could not write without waiting
// come back deferred, to be written later.
type HeartbeatStore interface {
	RecordHeartbeats(ctx context.Context, beats []Heartbeat) (deferred []Heartbeat, err error)
}

// Heartbeats takes signs of life without a database write each: they are
// kept in memory and written in batches, so a crash loses at most one
// flush interval of last-seen times and nothing else.
type Heartbeats interface {
	// Beat notes an explicit heartbeat with optional metadata, a JSON
	// object (see Heartbeat).
	Beat(agentID string, metadata json.RawMessage)
	// Touch notes any other sign of life: an authenticated call.
	Touch(agentID string)
}
