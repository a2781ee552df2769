package server

import (
	"context"
	"time"

	"github.com/switchboardhq/switchboard"
)

// InboxItemJSON is one in-app notification, as its user reads it.
type InboxItemJSON struct {
	ID        string     `json:"id"`
	EventType string     `json:"event_type" example:"task.offered" doc:"The event of the change the notification tells of."`
	Subject   string     `json:"subject"`
	Text      string     `json:"text" doc:"The message, as plain text."`
	Link      string     `json:"link,omitempty" example:"/tasks/0195e7b2-7c1a-7000-8000-000000000000" doc:"The page of Switchboard it points to, a path on this server."`
	CreatedAt time.Time  `json:"created_at"`
	ReadAt    *time.Time `json:"read_at,omitempty" doc:"When it was marked read; absent while unread."`
}

func newInboxItemJSON(n *switchboard.Notification) InboxItemJSON {
	j := InboxItemJSON{ID: n.ID, EventType: n.EventType, Subject: n.Subject, Text: n.Text, Link: n.Link, CreatedAt: n.CreatedAt.UTC()}
	if n.ReadAt != nil {
		read := n.ReadAt.UTC()
		j.ReadAt = &read
	}
	return j
}

type listInboxInput struct {
	ListQuery
	Unread bool `query:"unread" doc:"Only the notifications not read yet."`
}

type listInboxOutput struct {
	Body ListBody[InboxItemJSON]
}

func (s *Server) apiListInbox(ctx context.Context, in *listInboxInput) (*listInboxOutput, error) {
	p, err := s.Inbox.FindInbox(ctx, switchboard.InboxFilter{Unread: in.Unread, Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, err
	}
	return &listInboxOutput{Body: listBody(p, newInboxItemJSON)}, nil
}

// InboxCountJSON is the unread count of the bell.
type InboxCountJSON struct {
	Unread int `json:"unread" minimum:"0" maximum:"100" doc:"Unread notifications, counted up to 100: 100 means 100 or more."`
}

type inboxCountOutput struct {
	Body InboxCountJSON
}

func (s *Server) apiInboxCount(ctx context.Context, _ *struct{}) (*inboxCountOutput, error) {
	n, err := s.Inbox.CountUnread(ctx)
	if err != nil {
		return nil, err
	}
	return &inboxCountOutput{Body: InboxCountJSON{Unread: n}}, nil
}

type inboxItemOutput struct {
	Body InboxItemJSON
}

func (s *Server) apiMarkRead(ctx context.Context, in *notificationIDInput) (*inboxItemOutput, error) {
	n, err := s.Inbox.MarkRead(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &inboxItemOutput{Body: newInboxItemJSON(n)}, nil
}

// InboxReadAllJSON says how many notifications were marked read.
type InboxReadAllJSON struct {
	Marked int `json:"marked" doc:"How many were unread and are now read."`
}

type inboxReadAllOutput struct {
	Body InboxReadAllJSON
}

func (s *Server) apiMarkAllRead(ctx context.Context, _ *struct{}) (*inboxReadAllOutput, error) {
	n, err := s.Inbox.MarkAllRead(ctx)
	if err != nil {
		return nil, err
	}
	return &inboxReadAllOutput{Body: InboxReadAllJSON{Marked: n}}, nil
}
