package server

import (
	"net/http"
	"strings"

	"github.com/switchboardhq/switchboard"
)

func (s *Server) webSetup(w http.ResponseWriter, r *http.Request) {
	if done, err := s.isSetUp(r.Context()); err != nil {
		s.internalError(w, r, err)
		return
	} else if done {
		s.notFound(w, r)
		return
	}
	code := r.URL.Query().Get("code")
	if !s.setupAllowed(r.Context(), code) {
		s.renderError(w, r, http.StatusForbidden, switchboard.ErrorMessage(errSetupCode))
		return
	}
	f := newForm(nil)
	if code != "" {
		f.Values.Set("code", code) // sent back with the form
	}
	s.render(w, r, http.StatusOK, "setup", page{Title: "Set up", Form: f})
}

func (s *Server) webSetupSubmit(w http.ResponseWriter, r *http.Request) {
	if done, err := s.isSetUp(r.Context()); err != nil {
		s.internalError(w, r, err)
		return
	} else if done {
		s.notFound(w, r)
		return
	}
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if !s.setupAllowed(ctx, f.Get("code")) {
		s.renderError(w, r, http.StatusForbidden, switchboard.ErrorMessage(errSetupCode))
		return
	}
	nu := switchboard.NewUser{Email: f.Get("email"), Name: f.Get("name"), Role: switchboard.RoleAdmin, Password: f.Get("password")}
	nu.Normalize()
	// Check the whole form first, so that a mismatched confirmation is
	// reported together with any other mistake.
	status := http.StatusUnprocessableEntity
	if err := nu.Validate(); err != nil {
		status = s.fail(r, f, err)
	}
	if f.Get("password") != f.Get("password_confirm") {
		f.Add("password_confirm", "The passwords do not match.")
	}
	var u *switchboard.User
	err := s.allowSignInAttempt(ctx)
	if err == nil && !f.HasErrors() {
		u, err = s.Users.CreateFirstAdmin(ctx, nu)
	}
	if err != nil {
		status = s.fail(r, f, err)
	}
	if f.HasErrors() {
		s.render(w, r, status, "setup", page{Title: "Set up", Form: f})
		return
	}
	s.setupDone.Store(true)
	if err := s.signIn(ctx, u); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.setFlash(r, "success", "Welcome, "+u.Name+". Switchboard is ready: you are its first admin.")
	seeOther(w, r, "/")
}

func (s *Server) webSignIn(w http.ResponseWriter, r *http.Request) {
	if switchboard.ActorFromContext(r.Context()) != nil {
		seeOther(w, r, localPath(r.URL.Query().Get("next")))
		return
	}
	f := newForm(nil)
	f.Values.Set("next", localPath(r.URL.Query().Get("next")))
	s.render(w, r, http.StatusOK, "signin", page{Title: "Sign in", Form: f})
}

func (s *Server) webSignInSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	// Empty fields are said at once, each beside its field; only a full
	// pair of credentials is worth an attempt.
	if strings.TrimSpace(f.Get("email")) == "" {
		f.Add("email", "Enter your e-mail address.")
	}
	if f.Get("password") == "" {
		f.Add("password", "Enter your password.")
	}
	if f.HasErrors() {
		s.render(w, r, http.StatusUnprocessableEntity, "signin", page{Title: "Sign in", Form: f})
		return
	}
	u, err := s.authenticateCredentials(ctx, f.Get("email"), f.Get("password"))
	if err != nil {
		status := s.fail(r, f, err)
		f.Values.Del("password")
		if e, ok := err.(*switchboard.Error); ok && e.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfter(e.RetryAfter.Seconds()))
		}
		s.render(w, r, status, "signin", page{Title: "Sign in", Form: f})
		return
	}
	if err := s.signIn(ctx, u); err != nil {
		s.internalError(w, r, err)
		return
	}
	seeOther(w, r, localPath(f.Get("next")))
}

func (s *Server) webSignOut(w http.ResponseWriter, r *http.Request) {
	if err := s.sessions.Destroy(r.Context()); err != nil {
		s.internalError(w, r, err)
		return
	}
	seeOther(w, r, "/signin")
}
