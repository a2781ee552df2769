package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type invitationRow struct {
	bun.BaseModel `bun:"table:invitations,alias:inv"`

	ID         string     `bun:"id,pk"`
	Kind       string     `bun:"kind"`
	UserID     string     `bun:"user_id"`
	SecretHash string     `bun:"secret_hash"`
	ExpiresAt  time.Time  `bun:"expires_at"`
	UsedAt     *time.Time `bun:"used_at"`
	CreatedAt  time.Time  `bun:"created_at"`
}

func errInvitationNotFound() error {
	return &switchboard.Error{Code: switchboard.ENOTFOUND,
		Message: "This link is not valid: it may have expired or been used already. Ask an administrator for a new one."}
}

// newInvitation makes a single-use link of a kind for a user, and its secret.
func newInvitation(userID string, kind switchboard.InvitationKind, now time.Time) (*invitationRow, string) {
	prefix, ttl := switchboard.InvitationPrefix, switchboard.InvitationTTL
	if kind == switchboard.KindPasswordReset {
		prefix, ttl = switchboard.PasswordResetPrefix, switchboard.PasswordResetTTL
	}
	secret := switchboard.NewSecret(prefix)
	return &invitationRow{
		ID:         uuid.Must(uuid.NewV7()).String(),
		Kind:       string(kind),
		UserID:     userID,
		SecretHash: switchboard.HashSecret(secret),
		ExpiresAt:  now.Add(ttl),
		CreatedAt:  now,
	}, secret
}

// domain is the link as the domain sees it; secret is empty except when the
// link has just been made.
func (r *invitationRow) domain(user *userRow, secret string) *switchboard.Invitation {
	return &switchboard.Invitation{ID: r.ID, Kind: switchboard.InvitationKind(r.Kind), UserID: user.ID,
		Email: user.Email, Name: user.Name, ExpiresAt: r.ExpiresAt, Secret: secret}
}

// issueInvitation voids a user's earlier links, so that only the newest one
// works, and stores a new one of kind.
func issueInvitation(ctx context.Context, tx *Tx, user *userRow, kind switchboard.InvitationKind) (*switchboard.Invitation, error) {
	if err := voidInvitations(ctx, tx, user.ID); err != nil {
		return nil, err
	}
	inv, secret := newInvitation(user.ID, kind, tx.now)
	if _, err := tx.NewInsert().Model(inv).Exec(ctx); err != nil {
		return nil, err
	}
	return inv.domain(user, secret), nil
}

// invitedUserRow returns a user in role agent with no password yet.
func invitedUserRow(email, name string, now time.Time) *userRow {
	return &userRow{
		ID:          uuid.Must(uuid.NewV7()).String(),
		Email:       email,
		Name:        name,
		Role:        string(switchboard.RoleAgent),
		Status:      string(switchboard.UserActive),
		Version:     1,
		AuthVersion: 1,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
}

// voidInvitations ends every unused invitation of a user.
func voidInvitations(ctx context.Context, tx *Tx, userID string) error {
	_, err := tx.NewUpdate().Model((*invitationRow)(nil)).Set("used_at = ?", tx.now).
		Where("user_id = ? AND used_at IS NULL", userID).Exec(ctx)
	return err
}

// errExistingAccount refuses a supervisor an address that belongs to a
// user. It is one answer for every such address, whatever the user's role
// or agent, so that it tells the supervisor no more than that the account
// exists.
func errExistingAccount() error {
	const msg = "This address belongs to an existing account; ask an admin to add this person as an agent."
	return &switchboard.Error{Code: switchboard.ECONFLICT, Message: msg,
		Fields: []switchboard.FieldError{{Field: "email", Message: msg}}}
}

// linkOrInvite returns the ID of the user with email, creating and inviting
// one (role agent, no password) when there is none; the invitation is nil
// when the user existed. Only admins may link an existing user: retiring
// the agent would end the account, and the agent's supervisors could ask
// for links to it, so a supervisor must never gain a hold on an account
// they did not create through its agent.
func linkOrInvite(ctx context.Context, tx *Tx, email, name string) (string, *switchboard.Invitation, error) {
	var existing userRow
	err := tx.NewSelect().Model(&existing).Column("id", "role").Where("u.email = ?", email).Scan(ctx)
	if err == nil {
		if !switchboard.ActorFromContext(ctx).IsAdmin() {
			return "", nil, errExistingAccount()
		}
		return existing.ID, nil, nil
	} else if !errors.Is(err, errNoRows) {
		return "", nil, err
	}
	user := invitedUserRow(email, name, tx.now)
	if _, err := tx.NewInsert().Model(user).Exec(ctx); err != nil {
		return "", nil, err
	}
	tx.usersAdded++
	inv, secret := newInvitation(user.ID, switchboard.KindInvitation, tx.now)
	if _, err := tx.NewInsert().Model(inv).Exec(ctx); err != nil {
		return "", nil, err
	}
	tx.Record(switchboard.Event{Type: switchboard.AuditUserInvited, Subject: userSubject(user), After: userSummary(user)})
	invitation := inv.domain(user, secret)
	if err := notifyInvitation(tx, invitation); err != nil {
		return "", nil, err
	}
	return user.ID, invitation, nil
}

// InviteUser makes a new invitation link for a user without a password.
func (s *UserService) InviteUser(ctx context.Context, userID string) (*switchboard.Invitation, error) {
	actor := switchboard.ActorFromContext(ctx)
	if actor == nil {
		return nil, switchboard.ErrSignInFirst
	}
	var out *switchboard.Invitation
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		user, err := findUserRow(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		if !actor.IsAdmin() {
			// A supervisor may re-invite the person behind an agent of
			// theirs, and only people in the agent role: never someone
			// who has been given more power since.
			if user.Role != string(switchboard.RoleAgent) {
				return errUserNotFound()
			}
			sc, err := switchboard.ScopeOf(switchboard.ActorFromContext(ctx))
			if err != nil {
				return err
			}
			if sc.SupervisorID == "" {
				return &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only admins and supervisors may invite people."}
			}
			// The user must be one created for that agent, too, not an
			// account an admin linked to it.
			if row, err := findAgentRow(ctx, tx, sc, "a.user_id = ?", userID, false); err != nil || !row.OwnsUser {
				return errUserNotFound()
			}
		}
		if user.PasswordHash != "" {
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "This user has already set a password and can sign in."}
		}
		if out, err = issueInvitation(ctx, tx, user, switchboard.KindInvitation); err != nil {
			return err
		}
		tx.Record(switchboard.Event{Type: switchboard.AuditUserInvited, Subject: userSubject(user), After: map[string]any{"expires_at": out.ExpiresAt}})
		return notifyInvitation(tx, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// IssuePasswordReset makes a password reset link for a user who has lost
// their password. Only admins may, since the link is as good as the
// password; earlier links of the user stop working.
func (s *UserService) IssuePasswordReset(ctx context.Context, userID string) (*switchboard.Invitation, error) {
	actor := switchboard.ActorFromContext(ctx)
	if actor == nil {
		return nil, switchboard.ErrSignInFirst
	}
	if !actor.IsAdmin() {
		return nil, &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only admins may reset passwords."}
	}
	var out *switchboard.Invitation
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		user, err := findUserRow(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		switch {
		case user.Status != string(switchboard.UserActive):
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "This user is disabled: enable them before resetting their password."}
		case user.PasswordHash == "":
			return &switchboard.Error{Code: switchboard.ECONFLICT,
				Message: "This user has not chosen a password yet: make a new invitation link instead."}
		}
		out, err = issuePasswordReset(ctx, tx, user)
		if err != nil {
			return err
		}
		return notifyInvitation(tx, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// issuePasswordReset voids a user's earlier links and makes a password
// reset link, recorded as issued by the actor of the change.
func issuePasswordReset(ctx context.Context, tx *Tx, user *userRow) (*switchboard.Invitation, error) {
	inv, err := issueInvitation(ctx, tx, user, switchboard.KindPasswordReset)
	if err != nil {
		return nil, err
	}
	tx.Record(switchboard.Event{Type: switchboard.AuditPasswordResetIssued, Subject: userSubject(user), After: map[string]any{"expires_at": inv.ExpiresAt}})
	return inv, nil
}

// errNothingToSend rolls back a reset requested through "Forgot
// password?" that no e-mail could carry.
var errNothingToSend = errors.New("no e-mail can carry the link")

// RequestPasswordReset e-mails a password reset link to the user with an
// e-mail address, when there is one who may have it. The actor is whoever
// asked, usually anonymous. A link that no e-mail can carry is not made:
// it would only void a link an admin may have handed over.
func (s *UserService) RequestPasswordReset(ctx context.Context, email string) error {
	email = switchboard.NormalizeEmail(email)
	var v switchboard.Validation
	switchboard.ValidateEmail(&v, "email", email)
	if err := v.Err(); err != nil {
		return err
	}
	if s.db.Composer == nil {
		return nil
	}
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		var user userRow
		err := forUpdate(tx.NewSelect().Model(&user).Where("u.email = ?", email)).Scan(ctx)
		if errors.Is(err, errNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		// A disabled user may not sign in, and one without a password
		// needs an invitation, which only an admin or supervisor makes.
		if user.Status != string(switchboard.UserActive) || user.PasswordHash == "" {
			return nil
		}
		inv, err := issuePasswordReset(ctx, tx, &user)
		if err != nil {
			return err
		}
		sent := len(tx.notifications)
		if err := notifyInvitation(tx, inv); err != nil {
			return err
		}
		if len(tx.notifications) == sent {
			return errNothingToSend
		}
		return nil
	})
	if errors.Is(err, errNothingToSend) {
		return nil
	}
	return err
}

// FindInvitation returns a valid invitation or password reset link by its
// secret.
func (s *UserService) FindInvitation(ctx context.Context, secret string) (*switchboard.Invitation, error) {
	inv, user, err := s.findInvitation(ctx, s.db.bun, secret, false)
	if err != nil {
		return nil, err
	}
	return inv.domain(user, ""), nil
}

func (s *UserService) findInvitation(ctx context.Context, idb bun.IDB, secret string, lock bool) (*invitationRow, *userRow, error) {
	if len(secret) > 200 {
		return nil, nil, errInvitationNotFound()
	}
	var inv invitationRow
	q := idb.NewSelect().Model(&inv).Where("inv.secret_hash = ?", switchboard.HashSecret(secret))
	if lock {
		q = forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, errNoRows) {
			return nil, nil, errInvitationNotFound()
		}
		return nil, nil, err
	}
	if inv.UsedAt != nil || !s.db.now().Before(inv.ExpiresAt) {
		return nil, nil, errInvitationNotFound()
	}
	user, err := findUserRow(ctx, idb, inv.UserID, lock)
	if err != nil || user.Status != string(switchboard.UserActive) {
		return nil, nil, errInvitationNotFound()
	}
	// An invitation is for choosing a first password; once there is one
	// (set through another link), it has done its work.
	if inv.Kind == string(switchboard.KindInvitation) && user.PasswordHash != "" {
		return nil, nil, errInvitationNotFound()
	}
	return &inv, user, nil
}

// AcceptInvitation sets the password of the user of a link: an invited
// user's first, whose human agent waiting for them becomes active, or a new
// one after a reset. Every earlier session of the user ends.
func (s *UserService) AcceptInvitation(ctx context.Context, secret, password string) (*switchboard.User, error) {
	var v switchboard.Validation
	switchboard.ValidatePassword(&v, "password", password)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if _, _, err := s.findInvitation(ctx, s.db.bun, secret, false); err != nil {
		return nil, err
	}
	hash, err := s.db.Hasher.Hash(password)
	if err != nil {
		return nil, err
	}
	var user *userRow
	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		var inv *invitationRow
		var err error
		if inv, user, err = s.findInvitation(ctx, tx, secret, true); err != nil {
			return err
		}
		now := tx.now
		if _, err := tx.NewUpdate().Model(inv).Set("used_at = ?", now).WherePK().Exec(ctx); err != nil {
			return err
		}
		user.PasswordHash = hash
		user.Version++
		user.AuthVersion++
		user.UpdatedAt = now
		user.LastLoginAt = &now
		if _, err := tx.NewUpdate().Model(user).Column("password_hash", "version", "auth_version", "updated_at", "last_login_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		// A lockout guards the old password, which is gone: it goes too.
		if _, err := tx.NewDelete().Model((*signInFailureRow)(nil)).Where("email = ?", user.Email).Exec(ctx); err != nil {
			return err
		}
		actor := switchboard.EventActor{Type: "user", ID: user.ID, Name: user.Email}
		if inv.Kind == string(switchboard.KindPasswordReset) {
			tx.Record(switchboard.Event{Type: switchboard.AuditPasswordReset, Subject: userSubject(user), Actor: actor})
			return nil
		}
		tx.Record(switchboard.Event{Type: switchboard.AuditInvitationAccepted, Subject: userSubject(user), Actor: actor})
		// The human agent waiting for them starts work.
		row, err := findAgentRow(ctx, tx, switchboard.Scope{UserID: user.ID}, "a.status = ?", switchboard.AgentPending, true)
		if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		was, wasReady := row.count(), row.ready()
		row.Status, row.Version, row.UpdatedAt = string(switchboard.AgentActive), row.Version+1, now
		if _, err := tx.NewUpdate().Model(row).Column("status", "version", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		tx.agentChanged(was, row)
		if err := noteReadiness(ctx, tx, row, wasReady); err != nil {
			return err
		}
		agents, err := s.db.loadAgents(ctx, tx, []*agentRow{row})
		if err != nil {
			return err
		}
		e := agentEvent(switchboard.AuditAgentStatusChanged, agents[0], nil)
		e.Actor = actor
		e.Before, e.After = map[string]any{"status": switchboard.AgentPending}, map[string]any{"status": switchboard.AgentActive}
		tx.Record(e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return user.domain(), nil
}
