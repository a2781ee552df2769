package server

import (
	"context"
	"time"

	"github.com/switchboardhq/switchboard"
)

// NotificationJSON is one message of the delivery log. Its bodies are not
// shown: they may carry a secret link meant for the recipient alone.
type NotificationJSON struct {
	ID             string     `json:"id"`
	Channel        string     `json:"channel" enum:"email,sms,webhook,inapp"`
	Recipient      string     `json:"recipient" doc:"The channel's address: an e-mail address, a phone number, a URL."`
	UserID         string     `json:"user_id,omitempty" doc:"The user the message concerns."`
	WebhookID      string     `json:"webhook_id,omitempty" doc:"The endpoint of a webhook delivery; absent once it is deleted."`
	EventType      string     `json:"event_type" example:"user.invited" doc:"The event of the change that caused the message."`
	EventID        string     `json:"event_id"`
	Subject        string     `json:"subject"`
	Status         string     `json:"status" enum:"pending,failed,sent,dead" doc:"pending: not tried yet, or being delivered; failed: tried, and tried again at next_attempt_at; sent: accepted by the channel; dead: given up."`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty" doc:"When a pending or failed message is tried (again)."`
	LastError      string     `json:"last_error,omitempty" doc:"Why the last attempt failed."`
	IdempotencyKey string     `json:"idempotency_key" doc:"The same on every attempt; e-mails carry it in X-Switchboard-Idempotency-Key and their Message-ID."`
	CreatedAt      time.Time  `json:"created_at"`
	SentAt         *time.Time `json:"sent_at,omitempty"`
}

func newNotificationJSON(n *switchboard.Notification) NotificationJSON {
	j := NotificationJSON{ID: n.ID, Channel: string(n.Channel), Recipient: n.Recipient, UserID: n.UserID, WebhookID: n.WebhookID,
		EventType: n.EventType, EventID: n.EventID, Subject: n.Subject, Status: string(n.Status), Attempts: n.Attempts,
		LastError: n.LastError, IdempotencyKey: n.IdempotencyKey, CreatedAt: n.CreatedAt.UTC()}
	if n.Status == switchboard.NotificationPending || n.Status == switchboard.NotificationFailed {
		next := n.NextAttemptAt.UTC()
		j.NextAttemptAt = &next
	}
	if n.SentAt != nil {
		sent := n.SentAt.UTC()
		j.SentAt = &sent
	}
	return j
}

type listNotificationsInput struct {
	ListQuery
	Status  string `query:"status" enum:"pending,failed,sent,dead"`
	Channel string `query:"channel" enum:"email,sms,webhook,inapp"`
	Webhook string `query:"webhook" maxLength:"64" doc:"The deliveries to one webhook endpoint."`
}

type listNotificationsOutput struct {
	Body ListBody[NotificationJSON]
}

func (s *Server) apiListNotifications(ctx context.Context, in *listNotificationsInput) (*listNotificationsOutput, error) {
	p, err := s.Notifications.FindNotifications(ctx, switchboard.NotificationFilter{Status: switchboard.NotificationStatus(in.Status),
		Channel: switchboard.Channel(in.Channel), WebhookID: in.Webhook, Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, err
	}
	return &listNotificationsOutput{Body: listBody(p, newNotificationJSON)}, nil
}

type notificationIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

type notificationOutput struct {
	Body NotificationJSON
}

func (s *Server) apiRetryNotification(ctx context.Context, in *notificationIDInput) (*notificationOutput, error) {
	n, err := s.Notifications.RetryNotification(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &notificationOutput{Body: newNotificationJSON(n)}, nil
}
