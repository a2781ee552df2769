package sqlstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type signInFailureRow struct {
	bun.BaseModel `bun:"table:sign_in_failures,alias:sf"`

	Email           string     `bun:"email,pk"`
	Client          string     `bun:"client,pk"`
	Failures        int        `bun:"failures"`
	WindowStartedAt time.Time  `bun:"window_started_at"`
	LockedUntil     *time.Time `bun:"locked_until"`
}

// maxClientKey is the longest client network failures are counted for: an
// IPv6 /64 in its longest form, with room to spare.
const maxClientKey = 64

// clientNetwork is the client network of the request, as failures (of
// sign-in, of enrollment) are counted for it. Addresses come from the
// connection or a trusted proxy; anything else (there should be nothing
// else) is counted as one.
func clientNetwork(ctx context.Context) string {
	client := switchboard.RequestInfoFromContext(ctx).Network()
	if len(client) > maxClientKey || strings.ContainsFunc(client, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return "(unknown)"
	}
	return client
}

// Authenticate checks credentials for sign-in, throttled per e-mail address
// and client network. Each attempt is counted before its password is
// checked, so that parallel guesses cannot slip past the limit while the
// first ones are verified.
func (s *UserService) Authenticate(ctx context.Context, email, password string) (*switchboard.User, error) {
	email = switchboard.NormalizeEmail(email)
	if len(email) > switchboard.MaxEmailLength || len(password) > 4*switchboard.MaxPasswordLength {
		return nil, switchboard.ErrBadCredentials
	}
	now := s.db.now()
	client := clientNetwork(ctx)
	if err := s.reserveAttempt(ctx, email, client, now); err != nil {
		return nil, err
	}

	var row userRow
	err := s.db.bun.NewSelect().Model(&row).Where("u.email = ?", email).Scan(ctx)
	if err != nil && !errors.Is(err, errNoRows) {
		return nil, translate(err)
	}
	// An invited user without a password yet cannot sign in either.
	known := err == nil && row.PasswordHash != ""
	hash := row.PasswordHash
	if !known {
		// Verify against a throw-away hash, so that an unknown address takes
		// as long to reject as a wrong password and reveals nothing.
		s.dummyOnce.Do(func() { s.dummyHash, _ = s.db.Hasher.Hash("not anyone's password") })
		hash = s.dummyHash
	}
	ok, err := s.db.Hasher.Verify(hash, password)
	if err != nil {
		return nil, err
	}
	// The right password of a disabled account fails as a wrong one does,
	// by the same path: the answer must not tell a guesser that the
	// password is right, nor that the account exists.
	disabled := known && ok && row.Status != string(switchboard.UserActive)
	if !known || !ok || disabled {
		target := switchboard.EventSubject{Type: "user", Name: email}
		if !strings.Contains(email, "@") {
			// Whatever was typed may be a password in the wrong field.
			target.Name = "(not an e-mail address)"
		}
		if known {
			target.ID = row.ID
		}
		return nil, s.recordFailure(ctx, email, client, target, disabled, now)
	}

	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		// Only this network's failures: the owner signing in elsewhere
		// must not give a guesser here a fresh count.
		if _, err := tx.NewDelete().Model((*signInFailureRow)(nil)).Where("email = ? AND client = ?", email, client).Exec(ctx); err != nil {
			return err
		}
		row.LastLoginAt = &now
		if _, err := tx.NewUpdate().Model(&row).Column("last_login_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		tx.Record(switchboard.Event{Type: switchboard.AuditSignedIn, Subject: userSubject(&row),
			Actor: switchboard.EventActor{Type: "user", ID: row.ID, Name: row.Email}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

func errLocked(until, now time.Time) error {
	return &switchboard.Error{
		Code:       switchboard.ERATELIMIT,
		Message:    "Too many failed sign-in attempts for this account from your address; try again later.",
		RetryAfter: until.Sub(now),
	}
}

// reserveAttempt counts a sign-in attempt for an address from a client
// network, or refuses it while the address is locked for that network. The
// attempt that reaches the limit locks at once; if its password turns out
// right, the sign-in clears the count again. Other networks keep counts of
// their own, so that a guesser locks out only themselves.
func (s *UserService) reserveAttempt(ctx context.Context, email, client string, now time.Time) error {
	// Make sure the row exists first, in a statement of its own: inserting
	// it in the locking transaction would leave a shared lock that two
	// attempts then both try to upgrade (a deadlock on MySQL).
	if _, err := s.db.bun.NewInsert().Model(&signInFailureRow{Email: email, Client: client, WindowStartedAt: now}).Ignore().Exec(ctx); err != nil {
		return translate(err)
	}
	return s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		var f signInFailureRow
		if err := forUpdate(tx.NewSelect().Model(&f).Where("sf.email = ? AND sf.client = ?", email, client)).Scan(ctx); err != nil {
			return err
		}
		if f.LockedUntil != nil && f.LockedUntil.After(now) {
			return errLocked(*f.LockedUntil, now)
		}
		if now.Sub(f.WindowStartedAt) >= switchboard.SignInFailureWindow || f.LockedUntil != nil {
			f.Failures, f.WindowStartedAt, f.LockedUntil = 0, now, nil
		}
		f.Failures++
		if f.Failures >= switchboard.MaxSignInFailures {
			until := now.Add(switchboard.SignInLockout)
			f.LockedUntil = &until
		}
		_, err := tx.NewUpdate().Model(&f).Column("failures", "window_started_at", "locked_until").WherePK().Exec(ctx)
		return err
	})
}

// recordFailure writes the audit entries of a failed attempt (already
// counted by reserveAttempt) and forgets addresses whose failures have aged
// out. It returns the error the caller should see: the generic one. The
// audit log, which only admins read, says when the password was right but
// the account disabled.
func (s *UserService) recordFailure(ctx context.Context, email, client string, target switchboard.EventSubject, disabled bool, now time.Time) error {
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		var f signInFailureRow
		err := tx.NewSelect().Model(&f).Where("sf.email = ? AND sf.client = ?", email, client).Scan(ctx)
		if err != nil && !errors.Is(err, errNoRows) {
			return err
		}
		anonymous := switchboard.EventActor{Type: "anonymous"}
		failed := map[string]any{"failures": f.Failures}
		if disabled {
			failed["reason"] = "disabled"
		}
		tx.Record(switchboard.Event{Type: switchboard.AuditSignInFailed, Subject: target, Actor: anonymous, After: failed})
		if f.LockedUntil != nil && f.LockedUntil.After(now) && f.Failures == switchboard.MaxSignInFailures {
			tx.Record(switchboard.Event{Type: switchboard.AuditLockedOut, Subject: target, Actor: anonymous,
				After: map[string]any{"locked_until": *f.LockedUntil}})
		}
		_, err = tx.NewDelete().Model((*signInFailureRow)(nil)).
			Where("window_started_at < ? AND (locked_until IS NULL OR locked_until < ?)", now.Add(-switchboard.SignInFailureWindow), now).
			Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	return switchboard.ErrBadCredentials
}
