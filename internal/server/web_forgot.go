package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/switchboardhq/switchboard"
)

// "Forgot password?" throttles: per client address (a household or an
// office shares one), ten requests and then one a minute; per e-mail address, whoever asks, three links and then one
// every ten minutes, so that nobody can flood a mailbox, nor keep voiding
// the link its owner was just sent.
const (
	resetRequestBurst    = 10
	resetRequestInterval = time.Minute
	resetEmailBurst      = 3
	resetEmailInterval   = 10 * time.Minute
)

// resetRequestAnswer is the one answer to every request for a reset link:
// it must not tell whether the address has an account.
const resetRequestAnswer = "If an account exists for that address, we have sent it a link to choose a new password. " +
	"The link works once, for 24 hours. Nothing arrived? Check your spam folder, or ask an administrator."

// requestPasswordReset checks and throttles a request for a password reset
// link, then leaves the request to the background and returns: a reply
// that waited for the lookup and the write would take longer for an
// address with an account than for one without, and so tell them apart.
// EINVALID, ERATELIMIT.
func (s *Server) requestPasswordReset(ctx context.Context, email string) error {
	email = switchboard.NormalizeEmail(email)
	var v switchboard.Validation
	switchboard.ValidateEmail(&v, "email", email)
	if err := v.Err(); err != nil {
		return err
	}
	if err := s.allowAttempt(ctx, "reset", resetRequestBurst, resetRequestInterval,
		"Too many password reset requests from your address; wait a little and try again."); err != nil {
		return err
	}
	// The request's values (its ID and client address, for the audit
	// log) go along; its cancellation does not.
	select {
	case s.resetSlots <- struct{}{}:
	default:
		s.Logger.Warn("password reset request dropped: too many at once", "request_id", requestIDFrom(ctx))
		return nil
	}
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	s.background.Go(func() {
		defer func() { cancel(); <-s.resetSlots }()
		s.issueRequestedReset(bg, email)
	})
	return nil
}

// issueRequestedReset makes and e-mails a reset link for email, when its
// address's throttle allows. What happens is only logged.
func (s *Server) issueRequestedReset(ctx context.Context, email string) {
	log := s.Logger.With("request_id", requestIDFrom(ctx))
	// The bucket's key is a hash: the throttles table need not hold the
	// addresses people type, accounts or not.
	sum := sha256.Sum256([]byte(email))
	ok, _, err := s.Throttle(ctx, "reset-email:"+hex.EncodeToString(sum[:16]), resetEmailBurst, resetEmailInterval)
	switch {
	case err != nil:
		log.Error("password reset request: throttle", "err", err.Error())
		return
	case !ok:
		log.Info("password reset request ignored: too many for one address")
		return
	}
	if s.opts.BaseURL == nil {
		log.Warn("password reset request: reset e-mails cannot be sent without SWITCHBOARD_BASE_URL, the public address their links need")
		return
	}
	if !s.opts.SendsEmail {
		log.Warn("password reset request: e-mail is not configured, so a reset e-mail waits in the outbox until SWITCHBOARD_SMTP_URL names a mail server")
	}
	if err := s.Users.RequestPasswordReset(ctx, email); err != nil {
		log.Error("password reset request", "err", err.Error())
	}
}

// Wait waits for the work that requests left to the background to finish.
func (s *Server) Wait() { s.background.Wait() }

func (s *Server) webForgot(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil)
	f.Values.Set("email", r.URL.Query().Get("email"))
	s.render(w, r, http.StatusOK, "forgot", page{Title: "Forgot password", Form: f})
}

func (s *Server) webForgotSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	if err := s.requestPasswordReset(r.Context(), f.Get("email")); err != nil {
		status := s.fail(r, f, err)
		if e, ok := err.(*switchboard.Error); ok && e.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfter(e.RetryAfter.Seconds()))
		}
		s.render(w, r, status, "forgot", page{Title: "Forgot password", Form: f})
		return
	}
	s.render(w, r, http.StatusOK, "forgot", page{Title: "Check your e-mail", Form: f,
		Data: struct{ Sent string }{resetRequestAnswer}})
}

type passwordResetRequestInput struct {
	Body struct {
		Email string `json:"email" maxLength:"254" doc:"The e-mail address of the account." example:"ada@example.com"`
	}
}

type passwordResetRequestOutput struct {
	Body struct {
		Message string `json:"message" doc:"The same whether or not the address has an account."`
	}
}

func (s *Server) apiRequestPasswordReset(ctx context.Context, in *passwordResetRequestInput) (*passwordResetRequestOutput, error) {
	if err := s.requestPasswordReset(ctx, in.Body.Email); err != nil {
		return nil, err
	}
	out := &passwordResetRequestOutput{}
	out.Body.Message = resetRequestAnswer
	return out, nil
}
