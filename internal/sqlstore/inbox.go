package sqlstore

import (
	"context"
	"errors"

	"github.com/switchboardhq/switchboard"
)

// InboxService is each person's in-app notifications: the outbox rows of
// channel inapp whose user they are.
type InboxService struct{ db *DB }

var _ switchboard.InboxService = (*InboxService)(nil)

func NewInboxService(db *DB) *InboxService { return &InboxService{db: db} }

// inboxOf is the condition of a user's in-app notifications, for Where
// with the user's ID. The channel is written out, not bound: the partial
// indexes of SQLite and PostgreSQL (notifications_inbox_idx,
// notifications_unread_idx) serve only a query whose condition names the
// channel they were made for.
const inboxOf = "user_id = ? AND channel = '" + string(switchboard.ChannelInApp) + "'"

// inboxItem is a notification as its own user reads it: with its body, but
// never a secret (in-app messages carry none; should one, it stays here).
func (r *notificationRow) inboxItem() *switchboard.Notification {
	n := r.domain()
	n.HTML, n.Secret = "", ""
	return n
}

// FindInbox returns a page of the actor's in-app notifications.
func (s *InboxService) FindInbox(ctx context.Context, f switchboard.InboxFilter) (*switchboard.Page[*switchboard.Notification], error) {
	userID, err := switchboard.InboxOwner(switchboard.ActorFromContext(ctx))
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	var rows []*notificationRow
	q := s.db.bun.NewSelect().Model(&rows).ExcludeColumn("body_html", "secret").Where(inboxOf, userID)
	if f.Unread {
		q = q.Where("n.read_at IS NULL")
	}
	order := newListOrder("-created_at", "n.id", map[string]string{"created_at": "n.created_at"}, "created_at")
	return listPage(ctx, q, &rows, order, f.Cursor, f.Limit, each((*notificationRow).inboxItem),
		func(r *notificationRow) (any, string) { return r.CreatedAt, r.ID })
}

// CountUnread counts the actor's unread in-app notifications, stopping
// past UnreadCountCap: every page's bell asks, so the count reads at most
// that many entries of notifications_unread_idx, however many there are.
func (s *InboxService) CountUnread(ctx context.Context) (int, error) {
	userID, err := switchboard.InboxOwner(switchboard.ActorFromContext(ctx))
	if err != nil {
		return 0, err
	}
	unread := s.db.bun.NewSelect().Model((*notificationRow)(nil)).ColumnExpr("1").
		Where(inboxOf, userID).Where("read_at IS NULL").Limit(switchboard.UnreadCountCap + 1)
	var n int
	if err := s.db.bun.NewSelect().TableExpr("(?) AS unread", unread).ColumnExpr("COUNT(*)").Scan(ctx, &n); err != nil {
		return 0, translate(err)
	}
	return n, nil
}

// MarkRead marks one of the actor's in-app notifications read. Another
// user's notification, or one of another channel, is not found: its ID
// tells nothing about it.
func (s *InboxService) MarkRead(ctx context.Context, id string) (*switchboard.Notification, error) {
	actor := switchboard.ActorFromContext(ctx)
	userID, err := switchboard.InboxOwner(actor)
	if err != nil {
		return nil, err
	}
	var out *switchboard.Notification
	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		var row notificationRow
		err := tx.NewSelect().Model(&row).ExcludeColumn("body_html", "secret").
			Where("n.id = ?", id).Where(inboxOf, userID).Scan(ctx)
		if errors.Is(err, errNoRows) {
			return errNotificationNotFound()
		} else if err != nil {
			return err
		}
		if row.ReadAt == nil {
			res, err := tx.NewUpdate().Model((*notificationRow)(nil)).Set("read_at = ?", tx.now).
				Where("id = ? AND read_at IS NULL", row.ID).Exec(ctx)
			if err != nil {
				return err
			}
			// A concurrent mark read may have come first: it said so.
			if affected, err := res.RowsAffected(); err != nil {
				return err
			} else if affected == 1 {
				row.ReadAt = &tx.now
				tx.Record(inboxEvent(actor, switchboard.EventNotificationRead,
					switchboard.EventSubject{Type: "notification", ID: row.ID, Name: row.Subject}, nil))
			}
		}
		out = row.inboxItem()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MarkAllRead marks every unread in-app notification of the actor read.
func (s *InboxService) MarkAllRead(ctx context.Context) (int, error) {
	actor := switchboard.ActorFromContext(ctx)
	userID, err := switchboard.InboxOwner(actor)
	if err != nil {
		return 0, err
	}
	var marked int64
	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		res, err := tx.NewUpdate().Model((*notificationRow)(nil)).Set("read_at = ?", tx.now).
			Where(inboxOf, userID).Where("read_at IS NULL").Exec(ctx)
		if err != nil {
			return err
		}
		if marked, err = res.RowsAffected(); err != nil || marked == 0 {
			return err
		}
		tx.Record(inboxEvent(actor, switchboard.EventNotificationsAllRead,
			switchboard.EventSubject{Type: "user", ID: userID}, map[string]any{"count": marked}))
		return nil
	})
	return int(marked), err
}

// inboxEvent is the event of reading the inbox, which the reader's own
// streams see: as its actor when a user reads, as its agent when a human
// agent's token does.
func inboxEvent(actor *switchboard.Actor, typ string, subject switchboard.EventSubject, data map[string]any) switchboard.Event {
	e := switchboard.Event{Type: typ, Subject: subject, Data: data}
	if actor.User == nil && actor.Agent != nil {
		e.AgentID = actor.Agent.ID
	}
	return e
}
