package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type webhookRow struct {
	bun.BaseModel `bun:"table:webhooks,alias:wh"`

	ID          string    `bun:"id,pk"`
	URL         string    `bun:"url"`
	Events      string    `bun:"events"` // a JSON array
	Secret      string    `bun:"secret"`
	Active      bool      `bun:"active"`
	Description string    `bun:"description"`
	CreatedAt   time.Time `bun:"created_at"`
	UpdatedAt   time.Time `bun:"updated_at"`
	Version     int       `bun:"version"`
	// DeletedAt marks a deleted endpoint, kept for the deliveries that
	// refer to it (see the migration); none of the services finds it.
	DeletedAt *time.Time `bun:"deleted_at"`
}

// domain is the endpoint without its secret, as every read returns it.
func (r *webhookRow) domain() *switchboard.Webhook {
	w := &switchboard.Webhook{ID: r.ID, URL: r.URL, Active: r.Active, Description: r.Description,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Version: r.Version, Events: []string{}}
	// Written by this package from a validated list: it always parses.
	_ = json.Unmarshal([]byte(r.Events), &w.Events)
	return w
}

func encodeWebhookEvents(events []string) string {
	b, _ := json.Marshal(events)
	return string(b)
}

// webhookSummary is an endpoint as its events show it: never its secret.
func webhookSummary(w *switchboard.Webhook) map[string]any {
	return map[string]any{"url": w.URL, "events": w.Events, "active": w.Active, "description": w.Description}
}

func webhookSubject(w *switchboard.Webhook) switchboard.EventSubject {
	return switchboard.EventSubject{Type: "webhook", ID: w.ID, Name: w.URL}
}

// newWebhookSecret makes a secret for an endpoint created or rotated
// without one: 32 random bytes, which HMAC-SHA256 takes whole.
func newWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return switchboard.WebhookSecretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// WebhookService implements switchboard.WebhookService, and the sender's
// look-up of an endpoint's secret.
type WebhookService struct{ db *DB }

var (
	_ switchboard.WebhookService = (*WebhookService)(nil)
	_ switchboard.WebhookSecrets = (*WebhookService)(nil)
)

// NewWebhookService returns the webhook service on db.
func NewWebhookService(db *DB) *WebhookService { return &WebhookService{db: db} }

func errWebhookNotFound() error {
	return &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "There is no such webhook."}
}

// checkURL checks that an endpoint's URL may be reached: with the
// operator's check (which resolves names) when there is one, otherwise on
// its literal address alone.
func (s *WebhookService) checkURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err // validated before: never
	}
	if s.db.WebhookURLCheck != nil {
		return s.db.WebhookURLCheck(ctx, u)
	}
	return switchboard.CheckWebhookHost(u)
}

// validate adds to the errors of the input's own checks whether its URL,
// when it has one of the right form, may be reached: one answer names
// every field at fault.
func (s *WebhookService) validate(ctx context.Context, invalid error, rawURL *string) error {
	if rawURL == nil || slices.ContainsFunc(switchboard.ErrorFields(invalid), func(f switchboard.FieldError) bool { return f.Field == "url" }) {
		return invalid
	}
	unreachable := s.checkURL(ctx, *rawURL)
	switch {
	case unreachable == nil:
		return invalid
	case invalid == nil || len(switchboard.ErrorFields(unreachable)) == 0:
		return unreachable
	}
	var v switchboard.Validation
	v.Merge(0, unreachable)
	v.Merge(0, invalid)
	return v.Err()
}

// FindWebhooks returns one page of endpoints, newest first.
func (s *WebhookService) FindWebhooks(ctx context.Context, f switchboard.WebhookFilter) (*switchboard.Page[*switchboard.Webhook], error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var v switchboard.Validation
	limit := switchboard.PageLimit(&v, f.Limit)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var rows []*webhookRow
	q := s.db.bun.NewSelect().Model(&rows).ExcludeColumn("secret").Where("wh.deleted_at IS NULL")
	order := newListOrder("-created_at", "wh.id", map[string]string{"created_at": "wh.created_at"}, "created_at")
	return listPage(ctx, q, &rows, order, f.Cursor, limit, each((*webhookRow).domain),
		func(r *webhookRow) (any, string) { return r.CreatedAt, r.ID })
}

// FindWebhookByID returns an endpoint without its secret.
func (s *WebhookService) FindWebhookByID(ctx context.Context, id string) (*switchboard.Webhook, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	row, err := findWebhook(ctx, s.db.bun, id, false)
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

func findWebhook(ctx context.Context, idb bun.IDB, id string, lock bool) (*webhookRow, error) {
	if !switchboard.ValidID(id) {
		return nil, errWebhookNotFound()
	}
	var row webhookRow
	q := idb.NewSelect().Model(&row).Where("wh.id = ? AND wh.deleted_at IS NULL", id)
	if lock {
		q = forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, errNoRows) {
			return nil, errWebhookNotFound()
		}
		return nil, translate(err)
	}
	return &row, nil
}

// WebhookForDelivery returns an endpoint with its secret, for the sender.
// It is no part of the API and asks for no actor: the dispatcher has
// none.
func (s *WebhookService) WebhookForDelivery(ctx context.Context, id string) (*switchboard.Webhook, error) {
	row, err := findWebhook(ctx, s.db.bun, id, false)
	if err != nil {
		return nil, err
	}
	w := row.domain()
	w.Secret = row.Secret
	return w, nil
}

// CreateWebhook creates an endpoint.
func (s *WebhookService) CreateWebhook(ctx context.Context, nw switchboard.NewWebhook) (*switchboard.Webhook, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.validate(ctx, nw.Validate(), &nw.URL); err != nil {
		return nil, err
	}
	secret := nw.Secret
	if secret == "" {
		secret = newWebhookSecret()
	}
	var out *switchboard.Webhook
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		row := &webhookRow{ID: uuid.Must(uuid.NewV7()).String(), URL: nw.URL, Events: encodeWebhookEvents(nw.Events),
			Secret: secret, Active: nw.Active, Description: nw.Description, CreatedAt: tx.now, UpdatedAt: tx.now, Version: 1}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		out = row.domain()
		tx.Record(switchboard.Event{Type: switchboard.AuditWebhookCreated, Subject: webhookSubject(out), After: webhookSummary(out)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.db.webhooks.invalidate()
	out.Secret = secret
	return out, nil
}

// UpdateWebhook changes an endpoint.
func (s *WebhookService) UpdateWebhook(ctx context.Context, id string, upd switchboard.WebhookUpdate) (*switchboard.Webhook, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.validate(ctx, upd.Validate(), upd.URL); err != nil {
		return nil, err
	}
	var secret string
	switch {
	case upd.Secret != nil:
		secret = *upd.Secret
	case upd.RotateSecret:
		secret = newWebhookSecret()
	}
	var out *switchboard.Webhook
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		row, err := findWebhook(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if upd.IfVersion != 0 && upd.IfVersion != row.Version {
			return errStale("webhook")
		}
		before := row.domain()
		if upd.URL != nil {
			row.URL = *upd.URL
		}
		if upd.Events != nil {
			row.Events = encodeWebhookEvents(*upd.Events)
		}
		if upd.Active != nil {
			row.Active = *upd.Active
		}
		if upd.Description != nil {
			row.Description = *upd.Description
		}
		if secret != "" {
			row.Secret = secret
		}
		row.UpdatedAt, row.Version = tx.now, row.Version+1
		if _, err := tx.NewUpdate().Model(row).WherePK().Exec(ctx); err != nil {
			return err
		}
		out = row.domain()
		e := switchboard.Event{Type: switchboard.AuditWebhookUpdated, Subject: webhookSubject(out)}
		e.Before, e.After = changes(webhookSummary(before), webhookSummary(out))
		if secret != "" {
			// That it changed, never what it is.
			e.Data = map[string]any{"secret_changed": true}
		}
		tx.Record(e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.db.webhooks.invalidate()
	out.Secret = secret
	return out, nil
}

// DeleteWebhook deletes an endpoint: its row stays, inactive and without
// its secret, for the deliveries that refer to it (see the migration);
// those still waiting fail for good at their next attempt.
func (s *WebhookService) DeleteWebhook(ctx context.Context, id string) error {
	if err := requireAdmin(ctx); err != nil {
		return err
	}
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		row, err := findWebhook(ctx, tx, id, true)
		if err != nil {
			return err
		}
		w := row.domain()
		row.Active, row.Secret, row.DeletedAt, row.UpdatedAt, row.Version = false, "", &tx.now, tx.now, row.Version+1
		if _, err := tx.NewUpdate().Model(row).Column("active", "secret", "deleted_at", "updated_at", "version").WherePK().Exec(ctx); err != nil {
			return err
		}
		tx.Record(switchboard.Event{Type: switchboard.AuditWebhookDeleted, Subject: webhookSubject(w), Before: webhookSummary(w)})
		return nil
	})
	if err != nil {
		return err
	}
	s.db.webhooks.invalidate()
	return nil
}

// TestWebhook sends an endpoint a ping through the outbox.
func (s *WebhookService) TestWebhook(ctx context.Context, id string) (*switchboard.Notification, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var out *switchboard.Notification
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		row, err := findWebhook(ctx, tx, id, false)
		if err != nil {
			return err
		}
		if !row.Active {
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "This webhook is inactive: activate it before testing it."}
		}
		w := row.domain()
		tx.Record(switchboard.Event{Type: switchboard.EventWebhookTest, Subject: webhookSubject(w),
			Data: map[string]any{"message": "A test of this endpoint, sent by an admin."}})
		e := tx.events[len(tx.events)-1]
		body, err := switchboard.WebhookBody(e)
		if err != nil {
			return err
		}
		n := newWebhookDelivery(e, activeWebhook{id: w.ID, url: w.URL}, string(body))
		tx.notifications = append(tx.notifications, n)
		out = n.listed()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// newWebhookDelivery is the outbox row of one event's delivery to one
// endpoint. Its idempotency key is the event's and the endpoint's: two
// endpoints at one URL get a message each.
func newWebhookDelivery(e *switchboard.Event, w activeWebhook, body string) *notificationRow {
	id := w.id
	return &notificationRow{
		ID:             uuid.Must(uuid.NewV7()).String(),
		Channel:        string(switchboard.ChannelWebhook),
		Recipient:      w.url,
		WebhookID:      &id,
		EventType:      e.Type,
		EventID:        e.ID,
		Subject:        e.Type,
		BodyText:       body,
		Status:         string(switchboard.NotificationPending),
		NextAttemptAt:  e.At,
		CreatedAt:      e.At,
		IdempotencyKey: idempotencyKey(e.ID, switchboard.ChannelWebhook, w.id),
	}
}
