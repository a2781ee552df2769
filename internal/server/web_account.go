package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

// tokenLifetimes are the expiry choices of the token form, in days; 0 is
// "never".
var tokenLifetimes = []struct {
	Days  int
	Label string
}{{7, "7 days"}, {30, "30 days"}, {90, "90 days"}, {365, "1 year"}, {0, "Never"}}

type accountData struct {
	User         *switchboard.User
	Tokens       *switchboard.Page[*switchboard.APIToken]
	Cursor       string
	Now          time.Time
	PasswordForm *form
	TokenForm    *form
	Lifetimes    any
	// NewToken and NewSecret are set right after a token is created: the
	// only time its secret is ever shown.
	NewToken  *switchboard.APIToken
	NewSecret string
}

func (s *Server) webAccount(w http.ResponseWriter, r *http.Request) {
	s.renderAccount(w, r, http.StatusOK, &accountData{})
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, d *accountData) {
	ctx := r.Context()
	actor := switchboard.ActorFromContext(ctx)
	d.User = actor.User
	d.Now = s.Now()
	d.Lifetimes = tokenLifetimes
	d.Cursor = r.URL.Query().Get("cursor")
	if d.PasswordForm == nil {
		d.PasswordForm = newForm(nil)
	}
	if d.TokenForm == nil {
		d.TokenForm = newForm(nil)
		d.TokenForm.Values.Set("lifetime", "90")
	}
	tokens, cursor, err := findFromCursor(d.Cursor, func(cursor string) (*switchboard.Page[*switchboard.APIToken], error) {
		return s.Tokens.FindTokens(ctx, switchboard.TokenFilter{UserID: actor.UserID(), Limit: 20, Cursor: cursor})
	})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d.Cursor = cursor
	d.Tokens = tokens
	s.render(w, r, status, "account", page{Title: "My account", Section: "account", Data: d})
}

func (s *Server) webChangePassword(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if f.Get("new_password") != f.Get("new_password_confirm") {
		f.Add("new_password_confirm", "The new passwords do not match.")
		s.renderAccount(w, r, http.StatusUnprocessableEntity, &accountData{PasswordForm: f})
		return
	}
	var u *switchboard.User
	err := s.allowSignInAttempt(ctx)
	if err == nil {
		u, err = s.Users.ChangePassword(ctx, f.Get("current_password"), f.Get("new_password"))
	}
	if err != nil {
		status := s.fail(r, f, err)
		s.renderAccount(w, r, status, &accountData{PasswordForm: f})
		return
	}
	if err := s.signIn(ctx, u); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.setFlash(r, "success", "Your password has been changed. Your other browser sessions have been signed out.")
	seeOther(w, r, "/account")
}

func (s *Server) webCreateToken(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	nt := switchboard.NewToken{UserID: switchboard.ActorFromContext(ctx).UserID(), Name: f.Get("name")}
	days, err := strconv.Atoi(f.Get("lifetime"))
	if err != nil || days < 0 || days > 3650 {
		f.Add("lifetime", "Choose how long the token should last.")
		s.renderAccount(w, r, http.StatusUnprocessableEntity, &accountData{TokenForm: f})
		return
	}
	if days > 0 {
		exp := s.Now().Add(time.Duration(days) * 24 * time.Hour)
		nt.ExpiresAt = &exp
	}
	t, secret, err := s.Tokens.CreateToken(ctx, nt)
	if err != nil {
		status := s.fail(r, f, err)
		s.renderAccount(w, r, status, &accountData{TokenForm: f})
		return
	}
	// Answer with the page itself rather than a redirect: the secret must
	// not be stored anywhere, not even in the session for one request.
	s.renderAccount(w, r, http.StatusCreated, &accountData{NewToken: t, NewSecret: secret})
}

func (s *Server) webRevokeToken(w http.ResponseWriter, r *http.Request) {
	if err := s.Tokens.RevokeToken(r.Context(), chi.URLParam(r, "id")); err != nil {
		if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
			s.notFound(w, r)
			return
		}
		s.internalError(w, r, err)
		return
	}
	s.setFlash(r, "success", "The token has been revoked; requests with it are now refused.")
	seeOther(w, r, "/account#tokens")
}
