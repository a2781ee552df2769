package server

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

func (s *Server) webInvite(w http.ResponseWriter, r *http.Request) {
	inv, ok := s.findInvitation(w, r)
	if !ok {
		return
	}
	s.renderInvite(w, r, http.StatusOK, inv, newForm(nil))
}

// findInvitation loads the invitation of the link. On failure it has
// already answered, and returns false.
func (s *Server) findInvitation(w http.ResponseWriter, r *http.Request) (*switchboard.Invitation, bool) {
	// The link is a credential: keep it out of caches and Referer headers.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	inv, err := s.Users.FindInvitation(r.Context(), chi.URLParam(r, "secret"))
	if err == nil && strings.HasPrefix(r.URL.Path, "/reset/") != inv.IsPasswordReset() {
		// Each kind of link has its own address; another is not a link.
		err = &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "This link is not valid."}
	}
	if err != nil {
		if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
			s.renderError(w, r, http.StatusNotFound, switchboard.ErrorMessage(err))
		} else {
			s.internalError(w, r, err)
		}
		return nil, false
	}
	return inv, true
}

func (s *Server) renderInvite(w http.ResponseWriter, r *http.Request, status int, inv *switchboard.Invitation, f *form) {
	f.Values.Del("password")
	f.Values.Del("password_confirm")
	title := "Welcome"
	if inv.IsPasswordReset() {
		title = "Choose a new password"
	}
	s.render(w, r, status, "invite", page{Title: title, Form: f, Data: struct {
		Invitation *switchboard.Invitation
		Action     string
	}{inv, r.URL.Path}})
}

func (s *Server) webAcceptInvite(w http.ResponseWriter, r *http.Request) {
	inv, ok := s.findInvitation(w, r)
	if !ok {
		return
	}
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	// Both fields at once: a weak password and a mismatched confirmation
	// are reported together.
	var v switchboard.Validation
	switchboard.ValidatePassword(&v, "password", f.Get("password"))
	if f.Get("password") != f.Get("password_confirm") {
		v.Add("password_confirm", "The passwords do not match.")
	}
	if err := v.Err(); err != nil {
		s.renderInvite(w, r, s.fail(r, f, err), inv, f)
		return
	}
	// Setting a password is as costly as checking one: throttle it alike.
	err := s.allowSignInAttempt(ctx)
	var u *switchboard.User
	if err == nil {
		u, err = s.Users.AcceptInvitation(ctx, chi.URLParam(r, "secret"), f.Get("password"))
	}
	if err != nil {
		if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
			// Used up in another tab between loading and accepting.
			s.renderError(w, r, http.StatusNotFound, switchboard.ErrorMessage(err))
			return
		}
		status := s.fail(r, f, err)
		if e, ok := err.(*switchboard.Error); ok && e.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfter(e.RetryAfter.Seconds()))
		}
		s.renderInvite(w, r, status, inv, f)
		return
	}
	if err := s.signIn(ctx, u); err != nil {
		s.internalError(w, r, err)
		return
	}
	if inv.IsPasswordReset() {
		s.setFlash(r, "success", "Your new password is set and you are signed in. Every other session of yours has ended.")
	} else {
		s.setFlash(r, "success", "Welcome, "+u.Name+". Your password is set and you are signed in.")
	}
	seeOther(w, r, "/")
}
