package switchboard

import (
	"context"
	"time"
)

// Event is one change, recorded in the same transaction as the change
// itself. Events are numbered by Position, which only grows and which
// readers see in order: a reader that has seen position N never later
// finds a committed event below N. The event log feeds the audit log (for
// auditable types), the live streams, and later webhooks and notifications.
type Event struct {
	ID       string
	Position int64
	Type     string // "agent.created", "team.updated", ...
	At       time.Time
	Actor    EventActor
	Subject  EventSubject
	// TeamIDs are the teams whose supervisors may see the event; AgentID the
	// agent it concerns, who may see it too. Admins see every event.
	TeamIDs []string
	AgentID string
	// Before and After summarise the change, with secrets removed: the
	// fields that changed, or the whole object when it was created
	// (After only) or deleted (Before only).
	Before map[string]any
	After  map[string]any
	// Data holds what else the event says, beyond the change itself.
	Data      map[string]any
	RequestID string
}

// EventActor is who caused an event.
type EventActor struct {
	Type string // "user", "agent", "system", "enrollment_key" or "anonymous"
	ID   string
	Name string // the actor's e-mail or name at the time
}

// EventSubject is what an event is about.
type EventSubject struct {
	Type string // "user", "agent", "team", "token", "enrollment_key", ...
	ID   string
	Name string
}

// ActorOf describes the actor of ctx as events and the audit log name it.
func ActorOf(ctx context.Context) EventActor {
	a := ActorFromContext(ctx)
	switch {
	case a == nil:
		return EventActor{Type: "anonymous"}
	case a.User != nil:
		return EventActor{Type: "user", ID: a.User.ID, Name: a.User.Email}
	case a.Agent != nil:
		return EventActor{Type: "agent", ID: a.Agent.ID, Name: a.Agent.Name}
	}
	return EventActor{Type: "system", ID: a.System, Name: a.System}
}

// auditedEvents are the event types that the audit log keeps: changes an
// auditor asks about. Events that only feed live views (presence,
// heartbeats) stay out of it.
var auditedEvents = func() map[string]bool {
	m := make(map[string]bool, len(AuditActions))
	for _, a := range AuditActions {
		m[a] = true
	}
	return m
}()

// Audited reports whether the audit log keeps events of this type.
func (e *Event) Audited() bool { return auditedEvents[e.Type] }

// EventFilter selects a page of events after a position.
type EventFilter struct {
	After int64    // events after this position; 0 from the oldest kept
	Types []string // only these types; a type ending in "." is a prefix
	Limit int
}

// EventPage is a page of events and the position to continue from.
type EventPage struct {
	Items []*Event
	// Next is the position to ask for next: the last event of the page,
	// or past the events the caller may not see. Equal to the filter's
	// After when nothing new was found.
	Next int64
}

// EventService reads the event log.
type EventService interface {
	// FindEvents returns the events after a position that the actor may
	// see, oldest first. EINVALID, EUNAUTHORIZED.
	FindEvents(ctx context.Context, filter EventFilter) (*EventPage, error)
	// EventViewer resolves what the actor of ctx may see of the event log,
	// for filtering a live stream. EUNAUTHORIZED.
	EventViewer(ctx context.Context) (*EventViewer, error)
	// LastEventPosition returns the position of the newest event, where a
	// stream of new events only starts.
	LastEventPosition(ctx context.Context) (int64, error)
}

// EventLog is the whole event log, unfiltered, for the process that fans
// events out to the live streams of one instance.
type EventLog interface {
	// EventsAfter returns up to limit events after a position, in order.
	EventsAfter(ctx context.Context, after int64, limit int) ([]*Event, error)
	// LastEventPosition returns the position of the newest event, 0 if none.
	LastEventPosition(ctx context.Context) (int64, error)
}

// EventBroker hands out live subscriptions to the events of every instance.
type EventBroker interface {
	// Subscribe starts a subscription; the caller must Close it.
	Subscribe() EventSubscription
}

// EventSubscription receives every event committed after it began, in
// position order, in batches. A subscriber that falls too far behind is
// dropped: C is closed and Err says why; it resumes from its last position
// by reading the log.
type EventSubscription interface {
	// C delivers batches of events; the slices are shared and must not be
	// changed.
	C() <-chan []*Event
	// Position is the position the subscription started after: every
	// event above it comes through C.
	Position() int64
	// Err is why C was closed (nil while open).
	Err() error
	Close()
}

// ErrSubscriberLagged is why a subscription that fell behind was closed.
var ErrSubscriberLagged = &Error{Code: ECONFLICT, Message: "The stream fell too far behind; reconnect to resume from the last event received."}

// ValidEventType reports whether s can name an event type, or a prefix of
// types ending in ".", in a filter: lower-case letters, digits, "_" and ".".
func ValidEventType(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '.' {
			return false
		}
	}
	return true
}
