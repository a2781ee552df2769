package switchboard

import (
	"context"
	"errors"
	"slices"
	"time"
)

// AuditNotificationRetried is an admin sending a dead notification again.
const AuditNotificationRetried = "notification.retried"

// ChannelWebhook reaches a program at a URL; agents do not opt into it as
// they do into the channels of AgentChannels.
const ChannelWebhook Channel = "webhook"

// Channels are every channel a notification may go out on.
var Channels = []Channel{ChannelEmail, ChannelSMS, ChannelWebhook, ChannelInApp}

// NotificationStatus is where a notification is on its way out.
type NotificationStatus string

const (
	// NotificationPending has not been tried yet, or is being delivered.
	NotificationPending NotificationStatus = "pending"
	// NotificationFailed failed at least once and will be tried again at
	// NextAttemptAt.
	NotificationFailed NotificationStatus = "failed"
	// NotificationSent was accepted by the channel (for e-mail: the SMTP
	// server took it).
	NotificationSent NotificationStatus = "sent"
	// NotificationDead failed for good: permanently, or too many times. An
	// admin may retry it.
	NotificationDead NotificationStatus = "dead"
)

// NotificationStatuses are every status, for validation.
var NotificationStatuses = []NotificationStatus{NotificationPending, NotificationFailed, NotificationSent, NotificationDead}

// Redacted replaces the secret of a delivered notification in its bodies.
const Redacted = "[redacted]"

// Notification is one message to one recipient on one channel, written to
// the outbox in the transaction of the change that causes it and delivered
// afterwards by a dispatcher, as many times as it takes.
type Notification struct {
	ID        string
	Channel   Channel
	Recipient string // an e-mail address, a phone number, a URL: the channel's address
	UserID    string // the user it concerns, who may read it; empty for none
	// WebhookID is the endpoint of a webhook delivery; empty for other
	// channels, and once the endpoint is deleted.
	WebhookID string
	EventType string // the event of the change that caused it
	EventID   string
	Subject   string
	Text      string // plain-text body
	HTML      string // HTML body; empty for channels without one
	// Link is the path of the page the message is about ("/tasks/…"), for
	// the in-app inbox to link to; empty for none.
	Link string
	// Secret is the part of the bodies that must not outlive delivery (the
	// secret of a link): once the message is sent, or its link has expired,
	// the bodies keep Redacted in its place. Never shown.
	Secret string
	// SecretUntil is when the secret stops working (the link expires): a
	// message not delivered by then has no use and is given up.
	SecretUntil *time.Time

	Status        NotificationStatus
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	// IdempotencyKey is the same for every attempt at delivering the
	// message, so that a recipient who is handed it twice (a delivery whose
	// outcome was lost) can tell.
	IdempotencyKey string
	CreatedAt      time.Time
	SentAt         *time.Time
	// ReadAt is when the user marked an in-app notification read; nil
	// while it is unread.
	ReadAt *time.Time
}

// NotificationFilter selects notifications for a list, newest first.
type NotificationFilter struct {
	Status  NotificationStatus
	Channel Channel
	// WebhookID keeps the deliveries to one webhook endpoint.
	WebhookID string
	Limit     int
	Cursor    string
}

// Validate fills in the default page size and checks the filter.
func (f *NotificationFilter) Validate() error {
	var v Validation
	f.Limit = PageLimit(&v, f.Limit)
	if f.Status != "" && !slices.Contains(NotificationStatuses, f.Status) {
		v.Add("status", "Must be pending, failed, sent or dead.")
	}
	if f.Channel != "" && !slices.Contains(Channels, f.Channel) {
		v.Add("channel", "Must be email, sms, webhook or inapp.")
	}
	if f.WebhookID != "" {
		ValidateID(&v, "webhook", f.WebhookID)
	}
	return v.Err()
}

// NotificationService is the delivery log of the outbox.
type NotificationService interface {
	// FindNotifications returns one page of notifications, newest first:
	// every one to admins, to others those that concern them. Bodies are
	// not returned. EINVALID, EUNAUTHORIZED.
	FindNotifications(ctx context.Context, filter NotificationFilter) (*Page[*Notification], error)
	// RetryNotification sends a dead notification again, from a first
	// attempt, keeping its idempotency key. Admins only. ENOTFOUND,
	// ECONFLICT (not dead, or its link expired), EFORBIDDEN.
	RetryNotification(ctx context.Context, id string) (*Notification, error)
}

// Outbox is the dispatcher's side of the notifications: it claims the ones
// that are due and reports how each delivery went. A claim is a lease: a
// notification claimed and never reported on is due again once the lease
// ends, so that a dispatcher that dies mid-delivery loses nothing.
type Outbox interface {
	// ClaimNotifications leases up to limit due notifications of the
	// channels for lease, counting an attempt on each, oldest due first.
	// Several dispatchers never claim the same notification at once.
	ClaimNotifications(ctx context.Context, channels []Channel, limit int, lease time.Duration) ([]*Notification, error)
	// FinishNotification records the outcome of the attempt that claimed n
	// (n.Attempts): sent when err is nil, otherwise failed and due again in
	// retryAfter, or dead when dead is set. It does nothing when the lease
	// was lost (another attempt has begun since), and returns whether it
	// recorded the outcome.
	FinishNotification(ctx context.Context, n *Notification, sendErr error, retryAfter time.Duration, dead bool) (bool, error)
	// ExpireNotificationSecrets gives up undelivered notifications whose
	// secret no longer works and redacts the secrets of those, sent or
	// dead, past it; it returns how many it changed.
	ExpireNotificationSecrets(ctx context.Context) (int, error)
}

// Sender delivers notifications on one channel.
type Sender interface {
	// Send delivers n to n.Recipient. An error wrapped by Permanent means
	// that trying again cannot help (a refused recipient); any other error
	// is worth another attempt later.
	Send(ctx context.Context, n *Notification) error
}

// Permanent marks err as a failure that another attempt cannot mend.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked by
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Composer writes the messages that tell people of changes, from
// templates. The store calls it inside the change's transaction and puts
// what it returns in the outbox, so that a message exists exactly when its
// change does.
type Composer interface {
	// Invitation is the e-mail that hands a user their invitation or
	// password reset link, or nil when none can be made (no public address
	// for the link).
	Invitation(inv *Invitation) (*Notification, error)
	// Alert is the message of a trigger (a task offered, a queue's SLA
	// breached...) to one person on one channel: Channel, Recipient,
	// Subject, Text, for e-mail HTML, and Link.
	Alert(a *Alert) (*Notification, error)
}
