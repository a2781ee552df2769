package switchboard

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // quiet hours name IANA zones, which a slim host may not have on disk
)

// NotificationKind is a kind of change that people are told of. Each user
// chooses, kind by kind, the channels that reach them.
type NotificationKind string

const (
	// NotifyTaskOffered tells an agent of a task offered to it.
	NotifyTaskOffered NotificationKind = "task.offered"
	// NotifyTaskAssigned tells an agent of a task assigned to it.
	NotifyTaskAssigned NotificationKind = "task.assigned"
	// NotifyTaskEscalated tells the supervisors of a queue that a task
	// was offered as often as the queue allows and nobody took it.
	NotifyTaskEscalated NotificationKind = "task.escalated"
	// NotifySLABreached tells the supervisors of a queue that a task
	// waited past the queue's SLA target.
	NotifySLABreached NotificationKind = "task.sla_breached"
	// NotifyAgentOffline tells admins who asked for it that an agent went
	// offline.
	NotifyAgentOffline NotificationKind = "agent.offline"
)

// NotificationKinds are every kind, in the order pages list them.
var NotificationKinds = []NotificationKind{NotifyTaskOffered, NotifyTaskAssigned, NotifyTaskEscalated, NotifySLABreached, NotifyAgentOffline}

// Valid reports whether k is a known kind.
func (k NotificationKind) Valid() bool { return slices.Contains(NotificationKinds, k) }

// Label names the kind for people.
func (k NotificationKind) Label() string {
	switch k {
	case NotifyTaskOffered:
		return "A task is offered to me"
	case NotifyTaskAssigned:
		return "A task is assigned to me"
	case NotifyTaskEscalated:
		return "A task of my teams' queues is escalated"
	case NotifySLABreached:
		return "A task of my teams' queues waits past its SLA"
	case NotifyAgentOffline:
		return "An agent goes offline"
	}
	return string(k)
}

// ForRole reports whether users of a role can receive the kind: work is
// offered and assigned to agents (of any role), trouble in queues goes to
// supervisors and admins, agents going offline to admins.
func (k NotificationKind) ForRole(role Role, isAgent bool) bool {
	switch k {
	case NotifyTaskOffered, NotifyTaskAssigned:
		return isAgent
	case NotifyTaskEscalated, NotifySLABreached:
		return role == RoleAdmin || role == RoleSupervisor
	case NotifyAgentOffline:
		return role == RoleAdmin
	}
	return false
}

// DefaultChannels are the channels of a kind for a user who has not chosen
// any: for work given to an agent, the channels set on the agent
// (agentNotify); for trouble in a queue, e-mail and in-app; for an agent
// going offline, none: admins opt in.
func (k NotificationKind) DefaultChannels(agentNotify []Channel) []Channel {
	switch k {
	case NotifyTaskOffered, NotifyTaskAssigned:
		return slices.Clone(agentNotify)
	case NotifyTaskEscalated, NotifySLABreached:
		return []Channel{ChannelEmail, ChannelInApp}
	}
	return nil
}

// NotificationKindOf returns the kind of notification an event causes, or
// "" when it causes none.
func NotificationKindOf(e *Event) NotificationKind {
	switch e.Type {
	case AuditTaskOffered:
		return NotifyTaskOffered
	case AuditTaskAssigned:
		return NotifyTaskAssigned
	case AuditTaskEscalated:
		return NotifyTaskEscalated
	case AuditSLABreached:
		return NotifySLABreached
	case EventAgentPresenceChanged:
		if fmt.Sprint(e.After["presence"]) == string(PresenceOffline) {
			return NotifyAgentOffline
		}
	}
	return ""
}

// QuietHours are the hours of a user's day during which e-mail and SMS
// wait; in-app notifications are never held back. Start and End are local
// times ("22:00", "07:00") in TimeZone, an IANA zone; a period whose end is
// before its start runs over midnight.
type QuietHours struct {
	Start    string
	End      string
	TimeZone string
}

// Validate checks the quiet hours, reporting problems on fields under
// prefix ("quiet_hours.start", ...).
func (q *QuietHours) Validate(v *Validation, prefix string) {
	q.Start, q.End, q.TimeZone = strings.TrimSpace(q.Start), strings.TrimSpace(q.End), strings.TrimSpace(q.TimeZone)
	start, startOK := clockMinutes(q.Start)
	if !startOK {
		v.Add(prefix+"start", "Give the start as a time of day, like 22:00.")
	}
	end, endOK := clockMinutes(q.End)
	if !endOK {
		v.Add(prefix+"end", "Give the end as a time of day, like 07:00.")
	}
	if startOK && endOK && start == end {
		v.Add(prefix+"end", "The end must differ from the start.")
	}
	if _, err := location(q.TimeZone); err != nil || q.TimeZone == "" || len(q.TimeZone) > 64 {
		v.Add(prefix+"time_zone", "Give an IANA time zone, like Europe/Paris or America/New_York.")
	}
}

// Until returns the end of the quiet period that t falls in, and true; or
// false when t is outside the quiet hours (or they are not valid).
func (q *QuietHours) Until(t time.Time) (time.Time, bool) {
	start, ok1 := clockMinutes(q.Start)
	end, ok2 := clockMinutes(q.End)
	loc, err := location(q.TimeZone)
	if !ok1 || !ok2 || err != nil || start == end {
		return time.Time{}, false
	}
	local := t.In(loc)
	now := local.Hour()*60 + local.Minute()
	day := 0
	switch {
	case start < end && now >= start && now < end:
	case start > end && now >= start:
		day = 1 // over midnight: it ends tomorrow
	case start > end && now < end:
	default:
		return time.Time{}, false
	}
	y, m, d := local.Date()
	return time.Date(y, m, d+day, end/60, end%60, 0, 0, loc).UTC(), true
}

// clockMinutes reads "HH:MM" as minutes after midnight.
func clockMinutes(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

// locations caches the zones quiet hours name: loading one reads and parses
// its data, and triggers look them up inside every transaction that notifies.
var locations sync.Map // name → *time.Location

func location(name string) (*time.Location, error) {
	if loc, ok := locations.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if name == "" || strings.EqualFold(name, "local") {
		// Local is the server's zone, not the user's.
		return nil, fmt.Errorf("no time zone")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, loc)
	return loc, nil
}

// KindChannels are the channels of one kind of notification for a user.
type KindChannels struct {
	Kind     NotificationKind
	Channels []Channel
	// Default is set when the user has not chosen: Channels are the
	// kind's defaults.
	Default bool
	// Defaults are the channels the kind has for the user when they have
	// not chosen.
	Defaults []Channel
}

// NotificationPreferences are what reaches a user, kind by kind, and when.
type NotificationPreferences struct {
	UserID string
	// Kinds has one entry for each of NotificationKinds, in its order.
	Kinds []KindChannels
	// QuietHours is nil when the user has none.
	QuietHours *QuietHours
	// Phone is where SMS reach the user: the phone of the agent they work
	// as; empty for none, and then SMS cannot be chosen.
	Phone string
	// Role and Agent say which kinds can reach the user (ForRole).
	Role  Role
	Agent bool
}

// Channels returns the channels of a kind.
func (p *NotificationPreferences) Channels(k NotificationKind) []Channel {
	for _, kc := range p.Kinds {
		if kc.Kind == k {
			return kc.Channels
		}
	}
	return nil
}

// NotificationPreferencesUpdate replaces a user's preferences.
type NotificationPreferencesUpdate struct {
	// Channels are the channels chosen for the kinds it names; kinds it
	// does not name go back to their defaults. An empty list is a choice:
	// nothing of that kind.
	Channels map[NotificationKind][]Channel
	// QuietHours is nil for none.
	QuietHours *QuietHours
}

// Validate checks every kind, channel and the quiet hours, reporting on
// fields "channels.<kind>" and "quiet_hours.<field>".
func (u *NotificationPreferencesUpdate) Validate() error {
	var v Validation
	for k, channels := range u.Channels {
		field := "channels." + string(k)
		if !k.Valid() {
			v.Add(field, "Kinds are %s; %q is not one.", joinKinds(), k)
			continue
		}
		ValidateChannels(&v, field, channels)
	}
	if u.QuietHours != nil {
		u.QuietHours.Validate(&v, "quiet_hours.")
	}
	return v.Err()
}

func joinKinds() string {
	names := make([]string, len(NotificationKinds))
	for i, k := range NotificationKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// NotificationPreferenceService keeps what reaches each user.
type NotificationPreferenceService interface {
	// FindNotificationPreferences returns a user's preferences: one's own,
	// or any user's for admins. ENOTFOUND (another user, for non-admins),
	// EUNAUTHORIZED, EFORBIDDEN (not a user).
	FindNotificationPreferences(ctx context.Context, userID string) (*NotificationPreferences, error)
	// UpdateNotificationPreferences replaces a user's preferences, with
	// the same permissions. EINVALID (unknown kind or channel, SMS without
	// a phone, bad quiet hours), ENOTFOUND, EUNAUTHORIZED, EFORBIDDEN.
	UpdateNotificationPreferences(ctx context.Context, userID string, upd NotificationPreferencesUpdate) (*NotificationPreferences, error)
}

// Alert is one message about an event that a trigger sends to one person
// on one channel, as the templates of its kind read it.
type Alert struct {
	Kind    NotificationKind
	Channel Channel
	// Recipient is the channel's address; Name whom it reaches.
	Recipient string
	Name      string
	Event     *Event
	// What the event is about, where it applies.
	TaskID    string
	TaskTitle string
	QueueID   string
	QueueName string
	AgentID   string
	AgentName string
}

// Path is the page of the server the alert is about: the agent's work for
// an offer, the task, the queue, the agent.
func (a *Alert) Path() string {
	switch a.Kind {
	case NotifyTaskOffered:
		return "/my-work"
	case NotifyTaskAssigned, NotifyTaskEscalated:
		return "/tasks/" + a.TaskID
	case NotifySLABreached:
		return "/queues/" + a.QueueID
	case NotifyAgentOffline:
		return "/agents/" + a.AgentID
	}
	return "/"
}

// EventPreferencesUpdated is a user's notification preferences changing.
const EventPreferencesUpdated = "user.notification_preferences_updated"
