package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type tokenRow struct {
	bun.BaseModel `bun:"table:api_tokens,alias:t"`

	ID         string     `bun:"id,pk"`
	Kind       string     `bun:"kind"`
	Name       string     `bun:"name"`
	UserID     *string    `bun:"user_id"`
	AgentID    *string    `bun:"agent_id"`
	Prefix     string     `bun:"prefix"`
	SecretHash string     `bun:"secret_hash"`
	CreatedAt  time.Time  `bun:"created_at"`
	ExpiresAt  *time.Time `bun:"expires_at"`
	LastUsedAt *time.Time `bun:"last_used_at"`
	RevokedAt  *time.Time `bun:"revoked_at"`
}

func (r *tokenRow) domain() *switchboard.APIToken {
	t := &switchboard.APIToken{
		ID:         r.ID,
		Kind:       switchboard.TokenKind(r.Kind),
		Name:       r.Name,
		Prefix:     r.Prefix,
		CreatedAt:  r.CreatedAt.UTC(),
		ExpiresAt:  utcPtr(r.ExpiresAt),
		LastUsedAt: utcPtr(r.LastUsedAt),
		RevokedAt:  utcPtr(r.RevokedAt),
	}
	t.UserID, t.AgentID = deref(r.UserID), deref(r.AgentID)
	return t
}

// tokenEvent is an event about a token, for admins and, for an agent
// token, the agent.
func tokenEvent(typ string, t *switchboard.APIToken, owner string) switchboard.Event {
	return switchboard.Event{Type: typ, Subject: switchboard.EventSubject{Type: "token", ID: t.ID, Name: t.Name + " (" + owner + ")"}, AgentID: t.AgentID}
}

// tokenSummary is what the audit log records of a token: its prefix, never
// its secret or hash.
func tokenSummary(t *switchboard.APIToken) map[string]any {
	m := map[string]any{"name": t.Name, "kind": t.Kind, "prefix": t.Prefix}
	if t.ExpiresAt != nil {
		m["expires_at"] = t.ExpiresAt
	}
	if t.UserID != "" {
		m["user_id"] = t.UserID
	}
	if t.AgentID != "" {
		m["agent_id"] = t.AgentID
	}
	return m
}

// revoke marks a token revoked, once, with an audit entry.
func revokeToken(ctx context.Context, tx *Tx, row *tokenRow) error {
	return revokeTokenFor(ctx, tx, row, "")
}

// revokeTokenFor revokes a token, saying why in its event when the reason
// is not that someone asked.
func revokeTokenFor(ctx context.Context, tx *Tx, row *tokenRow, reason string) error {
	if row.RevokedAt != nil {
		return nil
	}
	now := tx.now
	row.RevokedAt = &now
	if _, err := tx.NewUpdate().Model(row).Column("revoked_at").WherePK().Exec(ctx); err != nil {
		return err
	}
	t := row.domain()
	e := tokenEvent(switchboard.AuditTokenRevoked, t, t.Prefix)
	if reason != "" {
		e.After = map[string]any{"reason": reason}
	}
	tx.Record(e)
	return nil
}

// revokePersonalTokens revokes every live personal token of a user who is
// being disabled. A token is a grant of the user's access: it ends with
// the access, rather than waking up again if the user is enabled later.
func revokePersonalTokens(ctx context.Context, tx *Tx, userID, reason string) error {
	var rows []*tokenRow
	err := forUpdate(tx.NewSelect().Model(&rows).
		Where("t.user_id = ? AND t.kind = ? AND t.revoked_at IS NULL", userID, switchboard.PersonalToken).
		Where("(t.expires_at IS NULL OR t.expires_at > ?)", tx.now)).Scan(ctx)
	if err != nil {
		return err
	}
	for _, row := range rows {
		if err := revokeTokenFor(ctx, tx, row, reason); err != nil {
			return err
		}
	}
	return nil
}

// lastUsedResolution is how stale a token's last-used time may get. Writing
// it on every request would turn each authenticated read into a write.
const lastUsedResolution = time.Minute

// TokenService implements switchboard.TokenService.
type TokenService struct {
	db *DB
}

var _ switchboard.TokenService = (*TokenService)(nil)

// NewTokenService returns the token service on db.
func NewTokenService(db *DB) *TokenService { return &TokenService{db: db} }

func errTokenNotFound() error {
	return &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "No such token."}
}

// CreateToken creates a personal token for its owner.
func (s *TokenService) CreateToken(ctx context.Context, nt switchboard.NewToken) (*switchboard.APIToken, string, error) {
	actor := switchboard.ActorFromContext(ctx)
	switch {
	case actor == nil:
		return nil, "", switchboard.ErrSignInFirst
	case !actor.IsSystem() && (actor.User == nil || actor.UserID() != nt.UserID):
		return nil, "", &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "You can only create tokens for yourself."}
	}
	now := s.db.now()
	if nt.ExpiresAt != nil {
		t := nt.ExpiresAt.UTC().Truncate(time.Microsecond)
		nt.ExpiresAt = &t
	}
	if err := nt.Validate(now); err != nil {
		return nil, "", err
	}
	secret := switchboard.NewSecret(switchboard.PersonalTokenPrefix)
	row := &tokenRow{
		ID:         uuid.Must(uuid.NewV7()).String(),
		Kind:       string(switchboard.PersonalToken),
		Name:       nt.Name,
		UserID:     &nt.UserID,
		Prefix:     switchboard.SecretPrefix(secret),
		SecretHash: switchboard.HashSecret(secret),
		CreatedAt:  now,
		ExpiresAt:  nt.ExpiresAt,
	}
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		var status string
		err := tx.NewSelect().Model((*userRow)(nil)).Column("status").Where("u.id = ?", nt.UserID).Scan(ctx, &status)
		if errors.Is(err, errNoRows) {
			return errUserNotFound()
		} else if err != nil {
			return err
		}
		if status != string(switchboard.UserActive) {
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "The user is disabled; enable them before creating a token."}
		}
		if _, err = tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		t := row.domain()
		e := tokenEvent(switchboard.AuditTokenCreated, t, t.Prefix)
		e.After = tokenSummary(t)
		tx.Record(e)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return row.domain(), secret, nil
}

// FindTokens lists a user's personal tokens, newest first.
func (s *TokenService) FindTokens(ctx context.Context, f switchboard.TokenFilter) (*switchboard.Page[*switchboard.APIToken], error) {
	actor := switchboard.ActorFromContext(ctx)
	switch {
	case actor == nil:
		return nil, switchboard.ErrSignInFirst
	case !actor.IsAdmin() && (actor.User == nil || actor.UserID() != f.UserID):
		return nil, &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "You can only list your own tokens."}
	}
	var v switchboard.Validation
	limit := switchboard.PageLimit(&v, f.Limit)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.db.tokenPage(ctx, "t.user_id = ? AND t.kind = ?", []any{f.UserID, switchboard.PersonalToken}, limit, f.Cursor)
}

// tokenPage returns one page of the tokens matching where, newest first.
func (db *DB) tokenPage(ctx context.Context, where string, args []any, limit int, cursor string) (*switchboard.Page[*switchboard.APIToken], error) {
	var rows []*tokenRow
	q := db.bun.NewSelect().Model(&rows).Where(where, args...)
	order := newListOrder("-created_at", "t.id", map[string]string{"created_at": "t.created_at"}, "created_at")
	return listPage(ctx, q, &rows, order, cursor, limit, each((*tokenRow).domain),
		func(r *tokenRow) (any, string) { return r.CreatedAt, r.ID })
}

// RevokeToken revokes a token of the actor's, or any personal token for an admin.
func (s *TokenService) RevokeToken(ctx context.Context, id string) error {
	actor := switchboard.ActorFromContext(ctx)
	if actor == nil {
		return switchboard.ErrSignInFirst
	}
	return s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		var row tokenRow
		err := forUpdate(tx.NewSelect().Model(&row).Where("t.id = ?", id)).Scan(ctx)
		if errors.Is(err, errNoRows) {
			return errTokenNotFound()
		} else if err != nil {
			return err
		}
		owner := row.UserID != nil && *row.UserID == actor.UserID()
		if !owner && !actor.IsAdmin() {
			return errTokenNotFound()
		}
		return revokeToken(ctx, tx, &row)
	})
}

// Authenticate resolves a bearer secret to its actor.
func (s *TokenService) Authenticate(ctx context.Context, secret string) (*switchboard.Actor, error) {
	actor, _, err := s.ResolveToken(ctx, secret)
	return actor, err
}

// ResolveToken resolves a bearer secret to its actor, and tells until when
// the token lasts if it expires.
func (s *TokenService) ResolveToken(ctx context.Context, secret string) (*switchboard.Actor, *time.Time, error) {
	r, err := s.resolve(ctx, secret)
	if err != nil {
		return nil, nil, err
	}
	return r.actor, r.expiresAt, nil
}

type resolved struct {
	actor     *switchboard.Actor
	expiresAt *time.Time
}

func (s *TokenService) resolve(ctx context.Context, secret string) (*resolved, error) {
	errBad := &switchboard.Error{Code: switchboard.EUNAUTHORIZED, Message: "The token is invalid, expired or revoked."}
	if len(secret) > 200 {
		return nil, errBad
	}
	var row tokenRow
	err := s.db.bun.NewSelect().Model(&row).Where("t.secret_hash = ?", switchboard.HashSecret(secret)).Scan(ctx)
	if errors.Is(err, errNoRows) {
		return nil, errBad
	} else if err != nil {
		return nil, translate(err)
	}
	now := s.db.now()
	if row.domain().Status(now) != "active" {
		return nil, errBad
	}
	actor := &switchboard.Actor{TokenID: row.ID}
	switch {
	case row.UserID != nil:
		user, err := findUserRow(ctx, s.db.bun, *row.UserID, false)
		if err != nil && switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
			return nil, err
		}
		if err != nil || user.Status != string(switchboard.UserActive) {
			return nil, errBad
		}
		actor.User = user.domain()
	case row.AgentID != nil:
		// Pending and suspended agents keep their tokens, so that they can
		// learn their status; a retired agent's token is dead.
		agent, err := s.db.findAgent(ctx, s.db.bun, switchboard.Scope{All: true}, "a.id = ?", *row.AgentID, false)
		if err != nil && switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
			return nil, translate(err)
		}
		if err != nil || agent.Status == switchboard.AgentRetired {
			return nil, errBad
		}
		actor.Agent = agent
	default:
		return nil, errBad
	}
	if row.LastUsedAt == nil || now.Sub(*row.LastUsedAt) >= lastUsedResolution {
		// Conditional, so that concurrent requests with one token write
		// once. Written as a change, in line with the others: on SQLite a
		// write of its own would wait for the one write lock, which the
		// committer takes again at once after each commit, and a fleet
		// signing in at once could starve it past the busy timeout.
		err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
			_, err := tx.NewUpdate().Model((*tokenRow)(nil)).Set("last_used_at = ?", now).
				Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", row.ID, now.Add(-lastUsedResolution)).Exec(ctx)
			return err
		})
		if err != nil {
			return nil, translate(err)
		}
	}
	return &resolved{actor: actor, expiresAt: utcPtr(row.ExpiresAt)}, nil
}
