package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

// The delivery log: every message of the outbox for admins, their own for
// everyone else, with how its delivery went.

type deliveryLogData struct {
	Page     *switchboard.Page[*switchboard.Notification]
	Cursor   string
	Filter   url.Values
	Back     string
	Admin    bool
	Statuses []switchboard.NotificationStatus
	Channels []switchboard.Channel
}

func (s *Server) webNotifications(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	f := newForm(url.Values{})
	d := &deliveryLogData{Filter: url.Values{}, Admin: switchboard.ActorFromContext(ctx).IsAdmin(),
		Statuses: switchboard.NotificationStatuses, Channels: switchboard.Channels}
	filter := switchboard.NotificationFilter{}
	// A value outside the lists is ignored, as a select would never send it.
	if v := strings.TrimSpace(q.Get("status")); slices.Contains(d.Statuses, switchboard.NotificationStatus(v)) {
		filter.Status = switchboard.NotificationStatus(v)
		f.Values.Set("status", v)
		d.Filter.Set("status", v)
	}
	if v := strings.TrimSpace(q.Get("channel")); slices.Contains(d.Channels, switchboard.Channel(v)) {
		filter.Channel = switchboard.Channel(v)
		f.Values.Set("channel", v)
		d.Filter.Set("channel", v)
	}
	p, cursor, err := findFromCursor(q.Get("cursor"), func(cursor string) (*switchboard.Page[*switchboard.Notification], error) {
		filter.Cursor = cursor
		return s.Notifications.FindNotifications(ctx, filter)
	})
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	d.Page, d.Cursor = p, cursor
	d.Back = string(pageLink("/notifications", d.Filter, "cursor", cursor))
	s.render(w, r, http.StatusOK, "notifications", page{Title: "Delivery log", Section: "notifications", Form: f, Data: d})
}

// webRetryNotification sends a dead message again (admins), and comes back
// to the page of the log it was on.
func (s *Server) webRetryNotification(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	n, err := s.Notifications.RetryNotification(r.Context(), chi.URLParam(r, "id"))
	switch switchboard.ErrorCode(err) {
	case "":
		s.setFlash(r, "success", "“"+n.Subject+"” will be sent again in a moment.")
	case switchboard.ECONFLICT:
		s.setFlash(r, "error", switchboard.ErrorMessage(err))
	case switchboard.EFORBIDDEN:
		s.renderError(w, r, http.StatusForbidden, switchboard.ErrorMessage(err))
		return
	default:
		s.loadFailed(w, r, err)
		return
	}
	next := "/notifications"
	if v := f.Get("next"); v != "" {
		next = localPath(v)
	}
	seeOther(w, r, next)
}
