package server

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

// The bell and the inbox: a person's in-app notifications.

// bellLabel is what the bell says to a screen reader.
func bellLabel(unread int) string {
	switch {
	case unread == 0:
		return "Notifications, none unread"
	case unread > switchboard.UnreadCountCap:
		return "Notifications, more than " + strconv.Itoa(switchboard.UnreadCountCap) + " unread"
	}
	return "Notifications, " + strconv.Itoa(unread) + " unread"
}

// bellCount is the badge's text: the count, or "99+" past the cap.
func bellCount(unread int) string {
	if unread > switchboard.UnreadCountCap {
		return strconv.Itoa(switchboard.UnreadCountCap) + "+"
	}
	return strconv.Itoa(unread)
}

// unreadCount is the bell's count for a whole page: one query on an index
// of the user's unread notifications, once per page (fragments that
// scripts fetch have no bell). A failure costs the page only its count.
func (s *Server) unreadCount(r *http.Request) int {
	if s.Inbox == nil {
		return 0
	}
	n, err := s.Inbox.CountUnread(r.Context())
	if err != nil {
		s.logInternal(r.Context(), err)
		return 0
	}
	return n
}

type inboxData struct {
	Page   *switchboard.Page[*switchboard.Notification]
	Cursor string
	Unread bool       // showing only unread ones
	Filter url.Values // the filter in effect, for the pager's links
	Back   string     // this page, where the forms come back to
}

func (s *Server) webInbox(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := &inboxData{Unread: q.Get("unread") != "", Filter: url.Values{}}
	if d.Unread {
		d.Filter.Set("unread", "1")
	}
	p, cursor, err := findFromCursor(q.Get("cursor"), func(cursor string) (*switchboard.Page[*switchboard.Notification], error) {
		return s.Inbox.FindInbox(r.Context(), switchboard.InboxFilter{Unread: d.Unread, Cursor: cursor})
	})
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	d.Page, d.Cursor = p, cursor
	d.Back = string(pageLink("/inbox", d.Filter, "cursor", cursor))
	s.render(w, r, http.StatusOK, "inbox", page{Title: "Notifications", Section: "inbox", Data: d})
}

// webMarkRead marks a notification read and goes on to next: back to the
// inbox, or to the page the notification points to (its Open button).
func (s *Server) webMarkRead(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	if _, err := s.Inbox.MarkRead(r.Context(), chi.URLParam(r, "id")); err != nil {
		s.loadFailed(w, r, err)
		return
	}
	seeOther(w, r, inboxNext(f))
}

// inboxNext is where an inbox form goes on to: a page of this site, the
// inbox by default.
func inboxNext(f *form) string {
	if next := f.Get("next"); next != "" {
		return localPath(next)
	}
	return "/inbox"
}

// inboxLink is the page a notification points to, when it is one of this
// site's: the link is shown and followed only then.
func inboxLink(n *switchboard.Notification) string {
	if n.Link == "" || localPath(n.Link) != n.Link {
		return ""
	}
	return n.Link
}

func (s *Server) webMarkAllRead(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	n, err := s.Inbox.MarkAllRead(r.Context())
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	switch n {
	case 0:
		s.setFlash(r, "success", "Nothing was unread.")
	case 1:
		s.setFlash(r, "success", "1 notification marked read.")
	default:
		s.setFlash(r, "success", strconv.Itoa(n)+" notifications marked read.")
	}
	seeOther(w, r, inboxNext(f))
}
