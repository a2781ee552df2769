package server

import (
	"context"
	"crypto/subtle"

	"github.com/switchboardhq/switchboard"
)

// Session keys.
const (
	sessionUserID      = "user_id"
	sessionAuthVersion = "auth_version"
	sessionFlash       = "flash"
)

// signIn starts a browser session for u. The token is renewed so that a
// session fixed by an attacker before sign-in is worthless after it.
func (s *Server) signIn(ctx context.Context, u *switchboard.User) error {
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.sessions.Put(ctx, sessionUserID, u.ID)
	s.sessions.Put(ctx, sessionAuthVersion, u.AuthVersion)
	return nil
}

// authenticateCredentials throttles and checks an e-mail and password.
func (s *Server) authenticateCredentials(ctx context.Context, email, password string) (*switchboard.User, error) {
	if err := s.allowSignInAttempt(ctx); err != nil {
		return nil, err
	}
	return s.Users.Authenticate(ctx, email, password)
}

type setupInput struct {
	Body struct {
		Email    string `json:"email" maxLength:"254" doc:"The admin's e-mail address, used to sign in." example:"admin@example.com"`
		Name     string `json:"name" maxLength:"200" doc:"The admin's display name." example:"Ada Lovelace"`
		Password string `json:"password" minLength:"12" maxLength:"256" doc:"At least 12 characters, and not one of the common passwords attackers try first (422 otherwise)."`
		Code     string `json:"code,omitempty" maxLength:"128" doc:"The set-up code that the server writes to its log at start while no user exists. Needed unless the call is made on the server itself, to localhost."`
	}
}

// errSetupCode refuses set-up from another machine without the right code.
var errSetupCode = &switchboard.Error{Code: switchboard.EFORBIDDEN,
	Message: "Set-up from another machine needs the one-time set-up code that the server wrote to its log when it started " +
		"(a line with a link ending in /setup?code=…). Open that link, or send the code in the code field; or set up on the server itself, at localhost."}

// setupAllowed reports whether a request may create the first admin: one
// made on this machine, or one with the set-up code from the server's log.
// Otherwise whoever reaches the port first, even a web page in the
// operator's browser, could make themselves its admin.
func (s *Server) setupAllowed(ctx context.Context, code string) bool {
	if isLoopback(ctx) {
		return true
	}
	return s.opts.SetupCode != "" && subtle.ConstantTimeCompare([]byte(code), []byte(s.opts.SetupCode)) == 1
}

type userOutput struct {
	ETag string `header:"ETag"`
	Body UserJSON
}

func (s *Server) apiSetup(ctx context.Context, in *setupInput) (*userOutput, error) {
	if err := s.allowSignInAttempt(ctx); err != nil {
		return nil, err
	}
	if done, err := s.isSetUp(ctx); err != nil {
		return nil, err
	} else if done {
		return nil, &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "Set-up is complete; sign in instead."}
	}
	if !s.setupAllowed(ctx, in.Body.Code) {
		return nil, errSetupCode
	}
	u, err := s.Users.CreateFirstAdmin(ctx, switchboard.NewUser{Email: in.Body.Email, Name: in.Body.Name, Password: in.Body.Password})
	if err != nil {
		if switchboard.ErrorCode(err) == switchboard.ECONFLICT && switchboard.ErrorFields(err) == nil {
			return nil, &switchboard.Error{Code: switchboard.ENOTFOUND, Message: switchboard.ErrorMessage(err)}
		}
		return nil, err
	}
	s.setupDone.Store(true)
	return &userOutput{ETag: etag(u.Version), Body: newUserJSON(u)}, nil
}

type signInInput struct {
	Body struct {
		Email    string `json:"email" maxLength:"254" example:"ada@example.com"`
		Password string `json:"password" maxLength:"1024"`
	}
}

type signInOutput struct {
	Body struct {
		User UserJSON `json:"user"`
	}
}

func (s *Server) apiSignIn(ctx context.Context, in *signInInput) (*signInOutput, error) {
	u, err := s.authenticateCredentials(ctx, in.Body.Email, in.Body.Password)
	if err != nil {
		return nil, err
	}
	if err := s.signIn(ctx, u); err != nil {
		return nil, err
	}
	out := &signInOutput{}
	out.Body.User = newUserJSON(u)
	return out, nil
}

func (s *Server) apiSignOut(ctx context.Context, _ *struct{}) (*struct{}, error) {
	if err := s.sessions.Destroy(ctx); err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

type meOutput struct {
	Body struct {
		Kind    string     `json:"kind" enum:"user,agent" doc:"Whether the caller is a user or a machine agent."`
		User    *UserJSON  `json:"user,omitempty" doc:"The calling user, when kind is user."`
		Agent   *AgentJSON `json:"agent,omitempty" doc:"The calling agent; for a user, the agent they work as, if any."`
		TokenID string     `json:"token_id,omitempty" doc:"The ID of the token the request came with, if any."`
	}
}

func (s *Server) apiMe(ctx context.Context, _ *struct{}) (*meOutput, error) {
	actor := switchboard.ActorFromContext(ctx)
	out := &meOutput{}
	out.Body.Kind = actor.Kind()
	out.Body.TokenID = actor.TokenID
	agent := actor.Agent
	if actor.User != nil {
		u := newUserJSON(actor.User)
		out.Body.User = &u
		a, err := s.Agents.FindAgentByUserID(ctx, actor.User.ID)
		switch {
		case err == nil:
			agent = a
		case switchboard.ErrorCode(err) != switchboard.ENOTFOUND:
			return nil, err
		}
	}
	if agent != nil {
		a := newAgentJSON(agent)
		out.Body.Agent = &a
	}
	return out, nil
}

type changePasswordInput struct {
	Body struct {
		CurrentPassword string `json:"current_password" maxLength:"1024"`
		NewPassword     string `json:"new_password" minLength:"12" maxLength:"256" doc:"At least 12 characters, and not one of the common passwords attackers try first (422 otherwise)."`
	}
}

func (s *Server) apiChangePassword(ctx context.Context, in *changePasswordInput) (*struct{}, error) {
	if err := s.allowSignInAttempt(ctx); err != nil {
		return nil, err
	}
	u, err := s.Users.ChangePassword(ctx, switchboard.PasswordChange{Current: in.Body.CurrentPassword, New: in.Body.NewPassword})
	if err != nil {
		return nil, err
	}
	// Keep the caller's own browser session, if that is how they came.
	if s.sessions.GetString(ctx, sessionUserID) == u.ID {
		if err := s.signIn(ctx, u); err != nil {
			return nil, err
		}
	}
	return &struct{}{}, nil
}
