package switchboard

import "context"

// The inbox is where people read their in-app notifications. An in-app
// notification is delivered by being written: the outbox keeps it as sent
// from the start, and the inbox reads it from there.

// Events of reading the inbox. They are not audited (reading one's own
// messages concerns nobody else), but they reach the reader's other pages
// over the event stream, which keeps every open bell's count true.
const (
	EventNotificationRead     = "notification.read"
	EventNotificationsAllRead = "notification.all_read"
)

// UnreadCountCap is how far the unread count goes: the bell shows "99+"
// beyond it, and counting stops there, so that a neglected inbox costs no
// more to count than a tidy one.
const UnreadCountCap = 99

// InboxFilter selects a page of the inbox, newest first.
type InboxFilter struct {
	Unread bool // only those not read yet
	Limit  int
	Cursor string
}

// Validate fills in the default page size and checks the filter.
func (f *InboxFilter) Validate() error {
	var v Validation
	f.Limit = PageLimit(&v, f.Limit)
	return v.Err()
}

// InboxService is the signed-in person's own in-app notifications. Its
// owner is the user of the actor: a user, or the user a human agent's
// token works for; a machine agent has no inbox. Anyone else's
// notifications do not exist for it (ENOTFOUND), admins' included.
type InboxService interface {
	// FindInbox returns a page of the actor's in-app notifications,
	// newest first, with their bodies. EINVALID, EUNAUTHORIZED, EFORBIDDEN.
	FindInbox(ctx context.Context, filter InboxFilter) (*Page[*Notification], error)
	// CountUnread returns how many of the actor's in-app notifications
	// are unread, counting up to UnreadCountCap+1. EUNAUTHORIZED,
	// EFORBIDDEN.
	CountUnread(ctx context.Context) (int, error)
	// MarkRead marks one of the actor's in-app notifications read and
	// returns it; marking it again changes nothing. ENOTFOUND,
	// EUNAUTHORIZED, EFORBIDDEN.
	MarkRead(ctx context.Context, id string) (*Notification, error)
	// MarkAllRead marks every unread in-app notification of the actor
	// read and returns how many it marked. EUNAUTHORIZED, EFORBIDDEN.
	MarkAllRead(ctx context.Context) (int, error)
}

// InboxOwner returns the user whose inbox the actor reads: a user their
// own, a human agent's token its user's. EUNAUTHORIZED, EFORBIDDEN.
func InboxOwner(a *Actor) (string, error) {
	switch {
	case a == nil:
		return "", ErrSignInFirst
	case a.User != nil:
		return a.User.ID, nil
	case a.Agent != nil && a.Agent.UserID != "":
		return a.Agent.UserID, nil
	}
	return "", &Error{Code: EFORBIDDEN, Message: "Only people have an inbox: this agent works for no user."}
}
