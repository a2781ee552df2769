package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// The outbox. A change that tells someone of itself adds a notification to
// its Tx (tx.notify); writeEvents inserts it with the change's events, in
// the change's transaction. A dispatcher claims due rows with a lease:
// claiming counts an attempt and pushes next_attempt_at to the end of the
// lease, so a row whose dispatcher died is due again once the lease ends.
// The attempt count is the claim's token: an outcome is recorded only by
// the attempt that holds the row, never by one whose lease was lost.

type notificationRow struct {
	bun.BaseModel `bun:"table:notifications,alias:n"`

	ID             string     `bun:"id,pk"`
	Channel        string     `bun:"channel"`
	Recipient      string     `bun:"recipient"`
	UserID         *string    `bun:"user_id"`
	WebhookID      *string    `bun:"webhook_id"`
	EventType      string     `bun:"event_type"`
	EventID        string     `bun:"event_id"`
	Subject        string     `bun:"subject"`
	BodyText       string     `bun:"body_text"`
	BodyHTML       string     `bun:"body_html"`
	Link           *string    `bun:"link"`
	Secret         *string    `bun:"secret"`
	SecretUntil    *time.Time `bun:"secret_until"`
	Status         string     `bun:"status"`
	Attempts       int        `bun:"attempts"`
	NextAttemptAt  time.Time  `bun:"next_attempt_at"`
	LastError      *string    `bun:"last_error"`
	IdempotencyKey string     `bun:"idempotency_key"`
	CreatedAt      time.Time  `bun:"created_at"`
	SentAt         *time.Time `bun:"sent_at"`
	ReadAt         *time.Time `bun:"read_at"`
}

func (r *notificationRow) domain() *switchboard.Notification {
	n := &switchboard.Notification{
		ID: r.ID, Channel: switchboard.Channel(r.Channel), Recipient: r.Recipient,
		EventType: r.EventType, EventID: r.EventID, Subject: r.Subject, Text: r.BodyText, HTML: r.BodyHTML,
		SecretUntil: r.SecretUntil, Status: switchboard.NotificationStatus(r.Status), Attempts: r.Attempts,
		NextAttemptAt: r.NextAttemptAt, IdempotencyKey: r.IdempotencyKey, CreatedAt: r.CreatedAt, SentAt: r.SentAt, ReadAt: r.ReadAt,
	}
	if r.Link != nil {
		n.Link = *r.Link
	}
	if r.UserID != nil {
		n.UserID = *r.UserID
	}
	if r.WebhookID != nil {
		n.WebhookID = *r.WebhookID
	}
	if r.Secret != nil {
		n.Secret = *r.Secret
	}
	if r.LastError != nil {
		n.LastError = *r.LastError
	}
	return n
}

// listed is the notification as the delivery log shows it: without its
// bodies, which may hold a secret, and without the secret.
func (r *notificationRow) listed() *switchboard.Notification {
	n := r.domain()
	n.Text, n.HTML, n.Secret = "", "", ""
	return n
}

// idempotencyKey is the same for a message however often it is tried, and
// tells apart the messages of one event: one per channel and recipient.
func idempotencyKey(eventID string, channel switchboard.Channel, recipient string) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + string(channel) + "\x00" + recipient))
	return hex.EncodeToString(sum[:16])
}

// notify adds a notification about the change's last recorded event to the
// outbox, written with the change.
func (tx *Tx) notify(n *switchboard.Notification) {
	var e *switchboard.Event
	if len(tx.events) > 0 {
		e = tx.events[len(tx.events)-1]
	}
	tx.notifyAbout(e, n, tx.now)
}

// notifyAbout adds a notification about an event of the change (nil for
// none) to the outbox, due at due.
func (tx *Tx) notifyAbout(e *switchboard.Event, n *switchboard.Notification, due time.Time) {
	row := &notificationRow{
		ID:            uuid.Must(uuid.NewV7()).String(),
		Channel:       string(n.Channel),
		Recipient:     n.Recipient,
		Subject:       n.Subject,
		BodyText:      n.Text,
		BodyHTML:      n.HTML,
		SecretUntil:   n.SecretUntil,
		Status:        string(switchboard.NotificationPending),
		NextAttemptAt: due,
		CreatedAt:     tx.now,
	}
	if n.UserID != "" {
		row.UserID = &n.UserID
	}
	if n.Link != "" {
		row.Link = &n.Link
	}
	if n.Channel == switchboard.ChannelInApp {
		// An in-app notification is delivered by being written: the inbox
		// reads it from this very row. Written as sent, it is never
		// claimed, so it needs no dispatcher (nor a sender that does
		// nothing), shows in the inbox the moment its change commits, and
		// no rule that holds messages back (quiet hours) can delay it.
		row.Status, row.SentAt = string(switchboard.NotificationSent), &tx.now
	}
	if n.Secret != "" {
		row.Secret = &n.Secret
	}
	if e != nil {
		row.EventType, row.EventID = e.Type, e.ID
	}
	row.IdempotencyKey = idempotencyKey(row.EventID, n.Channel, n.Recipient)
	tx.notifications = append(tx.notifications, row)
}

// notifyInvitation e-mails a user their new invitation or password reset
// link, when the server has a composer and the composer can make the link.
func notifyInvitation(tx *Tx, inv *switchboard.Invitation) error {
	if tx.db.Composer == nil {
		return nil
	}
	n, err := tx.db.Composer.Invitation(inv)
	if err != nil || n == nil {
		return err
	}
	n.UserID = inv.UserID
	expires := inv.ExpiresAt
	n.SecretUntil, n.Secret = &expires, inv.Secret
	tx.notify(n)
	return nil
}

// NotificationService is the delivery log of the outbox and the
// dispatcher's side of it.
type NotificationService struct{ db *DB }

var (
	_ switchboard.NotificationService = (*NotificationService)(nil)
	_ switchboard.Outbox              = (*NotificationService)(nil)
)

func NewNotificationService(db *DB) *NotificationService { return &NotificationService{db: db} }

// undelivered are the statuses of notifications still to be delivered.
var undelivered = []string{string(switchboard.NotificationPending), string(switchboard.NotificationFailed)}

// FindNotifications returns one page of the delivery log, newest first.
func (s *NotificationService) FindNotifications(ctx context.Context, f switchboard.NotificationFilter) (*switchboard.Page[*switchboard.Notification], error) {
	actor := switchboard.ActorFromContext(ctx)
	if actor == nil {
		return nil, switchboard.ErrSignInFirst
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	var rows []*notificationRow
	q := s.db.bun.NewSelect().Model(&rows).ExcludeColumn("body_text", "body_html", "secret")
	if !actor.IsAdmin() {
		// Everyone else sees the messages about themselves: an agent's
		// token, those of the agent's user.
		userID := actor.UserID()
		if userID == "" && actor.Agent != nil {
			userID = actor.Agent.UserID
		}
		if userID == "" {
			return &switchboard.Page[*switchboard.Notification]{Items: []*switchboard.Notification{}}, nil
		}
		q = q.Where("n.user_id = ?", userID)
	}
	if f.Status != "" {
		q = q.Where("n.status = ?", f.Status)
	}
	if f.Channel != "" {
		q = q.Where("n.channel = ?", f.Channel)
	}
	if f.WebhookID != "" {
		q = q.Where("n.webhook_id = ?", f.WebhookID)
	}
	order := newListOrder("-created_at", "n.id", map[string]string{"created_at": "n.created_at"}, "created_at")
	return listPage(ctx, q, &rows, order, f.Cursor, f.Limit, each((*notificationRow).listed),
		func(r *notificationRow) (any, string) { return r.CreatedAt, r.ID })
}

func errNotificationNotFound() error {
	return &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "There is no such notification."}
}

// RetryNotification makes a dead notification due now, from a first
// attempt, with the idempotency key it had.
func (s *NotificationService) RetryNotification(ctx context.Context, id string) (*switchboard.Notification, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var out *switchboard.Notification
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		var row notificationRow
		err := forUpdate(tx.NewSelect().Model(&row).ExcludeColumn("body_text", "body_html").Where("n.id = ?", id)).Scan(ctx)
		if errors.Is(err, errNoRows) {
			return errNotificationNotFound()
		} else if err != nil {
			return err
		}
		switch {
		case row.Status != string(switchboard.NotificationDead):
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "Only a dead notification can be retried; this one is " + row.Status + "."}
		case row.SecretUntil != nil && row.Secret == nil:
			return &switchboard.Error{Code: switchboard.ECONFLICT,
				Message: "The link in this notification has expired and was removed from it: make a new link instead."}
		}
		before := map[string]any{"status": row.Status, "attempts": row.Attempts}
		row.Status, row.Attempts, row.NextAttemptAt = string(switchboard.NotificationPending), 0, tx.now
		if _, err := tx.NewUpdate().Model(&row).Column("status", "attempts", "next_attempt_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		tx.Record(switchboard.Event{Type: switchboard.AuditNotificationRetried,
			Subject: switchboard.EventSubject{Type: "notification", ID: row.ID, Name: row.Subject},
			Before:  before, After: map[string]any{"status": row.Status, "attempts": 0}})
		out = row.listed()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ClaimNotifications leases due notifications. On PostgreSQL and MariaDB
// the rows another dispatcher is claiming are skipped, not waited for;
// SQLite's single writer makes the claims take turns.
func (s *NotificationService) ClaimNotifications(ctx context.Context, channels []switchboard.Channel, limit int, lease time.Duration) ([]*switchboard.Notification, error) {
	if len(channels) == 0 || limit <= 0 {
		return nil, nil
	}
	var out []*switchboard.Notification
	err := s.db.writeAlone(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		var rows []*notificationRow
		q := tx.NewSelect().Model(&rows).
			Where("n.status IN (?)", bun.In(undelivered)).
			Where("n.next_attempt_at <= ?", tx.now).
			Where("n.channel IN (?)", bun.In(channels)).
			OrderExpr("n.next_attempt_at").Limit(int64(limit))
		if err := s.db.forUpdateSkipLocked(q).Scan(ctx); err != nil || len(rows) == 0 {
			return err
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		until := tx.now.Add(lease)
		if _, err := tx.NewUpdate().Model((*notificationRow)(nil)).
			Set("attempts = attempts + 1").Set("next_attempt_at = ?", until).
			Where("id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
			return err
		}
		for _, r := range rows {
			r.Attempts++
			r.NextAttemptAt = until
			out = append(out, r.domain())
		}
		return nil
	})
	return out, err
}

// maxErrorLength is how much of a delivery error the log keeps.
const maxErrorLength = 1000

// FinishNotification records how the attempt that claimed n went.
func (s *NotificationService) FinishNotification(ctx context.Context, n *switchboard.Notification, sendErr error, retryAfter time.Duration, dead bool) (bool, error) {
	var recorded bool
	err := s.db.writeAlone(ctx, func(ctx context.Context, tx *Tx) error {
		q := tx.NewUpdate().Model((*notificationRow)(nil)).
			Where("id = ? AND attempts = ?", n.ID, n.Attempts).
			Where("status IN (?)", bun.In(undelivered))
		switch {
		case sendErr == nil:
			q = redact(q.Set("status = ?", switchboard.NotificationSent).Set("sent_at = ?", tx.now).Set("last_error = NULL"))
		case dead:
			// The secret stays until the link expires: a dead message is
			// the one an admin may send again.
			q = q.Set("status = ?", switchboard.NotificationDead).Set("last_error = ?", errorText(sendErr))
		default:
			q = q.Set("status = ?", switchboard.NotificationFailed).Set("last_error = ?", errorText(sendErr)).
				Set("next_attempt_at = ?", tx.now.Add(retryAfter))
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return err
		}
		affected, err := res.RowsAffected()
		recorded = affected == 1
		return err
	})
	return recorded, err
}

// redact replaces the secret in the bodies and forgets it. REPLACE with a
// NULL secret is NULL on every engine, hence the COALESCE.
func redact(q *bun.UpdateQuery) *bun.UpdateQuery {
	return q.Set("body_text = COALESCE(REPLACE(body_text, secret, ?), body_text)", switchboard.Redacted).
		Set("body_html = COALESCE(REPLACE(body_html, secret, ?), body_html)", switchboard.Redacted).
		Set("secret = NULL")
}

func errorText(err error) string {
	msg := err.Error()
	if len(msg) > maxErrorLength {
		msg = msg[:maxErrorLength]
	}
	return msg
}

// errLinkExpired is the last error of a message whose link expired before
// it could be delivered.
const errLinkExpired = "The link in this message expired before it could be delivered."

// ExpireNotificationSecrets gives up undelivered messages whose link has
// expired (unless a dispatcher holds one now) and redacts every expired
// secret still stored.
func (s *NotificationService) ExpireNotificationSecrets(ctx context.Context) (int, error) {
	var n int64
	err := s.db.writeAlone(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.NewUpdate().Model((*notificationRow)(nil)).
			Set("status = ?", switchboard.NotificationDead).Set("last_error = ?", errLinkExpired).
			Where("secret IS NOT NULL AND secret_until <= ?", tx.now).
			Where("status IN (?) AND next_attempt_at <= ?", bun.In(undelivered), tx.now).Exec(ctx)
		if err != nil {
			return err
		}
		// The messages just given up are redacted with the others.
		res, err := redact(tx.NewUpdate().Model((*notificationRow)(nil))).
			Where("secret IS NOT NULL AND secret_until <= ?", tx.now).
			Where("status IN (?)", bun.In([]string{string(switchboard.NotificationSent), string(switchboard.NotificationDead)})).Exec(ctx)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
