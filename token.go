package switchboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"time"
)

// TokenKind says whom a token authenticates.
type TokenKind string

const (
	// PersonalToken authenticates a user, with that user's role.
	PersonalToken TokenKind = "personal"
	// AgentToken authenticates a machine agent.
	AgentToken TokenKind = "agent"
)

// Secret prefixes make a leaked secret recognisable (and greppable by secret
// scanners) and tell at a glance what it grants.
const (
	PersonalTokenPrefix = "sbp_"
	AgentTokenPrefix    = "sba_"
)

// APIToken is a bearer credential. Only a hash of its secret is stored; the
// secret itself is shown once, at creation. Prefix is the secret's first
// characters, kept so that a user can tell tokens apart.
type APIToken struct {
	ID         string
	Kind       TokenKind
	Name       string
	UserID     string // for personal tokens
	AgentID    string // for agent tokens
	Prefix     string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// Status describes the token at time now: "active", "expired" or "revoked".
func (t *APIToken) Status(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return "expired"
	}
	return "active"
}

// MaxTokenNameLength bounds a token's name.
const MaxTokenNameLength = 100

// NewToken is the input for a personal API token. UserID is the owner; the
// caller may only name themselves unless they are the system actor.
type NewToken struct {
	UserID    string
	Name      string
	ExpiresAt *time.Time
}

// Validate checks the name and expiry against now.
func (t *NewToken) Validate(now time.Time) error {
	var v Validation
	t.Name = strings.TrimSpace(t.Name)
	validateSecretLabel(&v, "token", t.Name, t.ExpiresAt, now)
	return v.Err()
}

// TokenFilter selects tokens for a list.
type TokenFilter struct {
	UserID string // required: tokens are listed per owner
	Limit  int
	Cursor string
}

// TokenService manages personal API tokens and authenticates bearer secrets.
type TokenService interface {
	// CreateToken creates a personal token and returns it with its secret,
	// which is not stored and cannot be shown again. The actor must be the
	// owner or the system. EINVALID, ENOTFOUND (owner), EFORBIDDEN.
	CreateToken(ctx context.Context, t NewToken) (*APIToken, string, error)

	// FindTokens lists a user's personal tokens, newest first. The actor must
	// be the owner or an admin. EFORBIDDEN, EINVALID.
	FindTokens(ctx context.Context, filter TokenFilter) (*Page[*APIToken], error)

	// RevokeToken revokes one of the actor's tokens (admins: anyone's).
	// Revoking twice is not an error. ENOTFOUND.
	RevokeToken(ctx context.Context, id string) error

	// Authenticate resolves a bearer secret to the actor it stands for and
	// records its use. Unknown, expired and revoked secrets, and secrets of
	// disabled users, give EUNAUTHORIZED.
	Authenticate(ctx context.Context, secret string) (*Actor, error)
}

var secretEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewSecret returns a random secret with the given prefix: 256 bits of
// entropy, lower-case letters and digits so that it survives copy and paste.
func NewSecret(prefix string) string {
	return prefix + secretEncoding.EncodeToString(randomBytes(32))
}

// HashSecret returns the hex SHA-256 of a secret, the form in which tokens and
// keys are stored. A fast hash is right here: the secret has 256 random bits,
// so there is nothing for a slow hash to protect against.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SecretPrefix returns the part of a secret that may be shown after creation.
func SecretPrefix(secret string) string {
	const visible = 8
	i := strings.IndexByte(secret, '_') + 1
	if len(secret) < i+visible {
		return secret
	}
	return secret[:i+visible]
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never fails on supported platforms (it panics on its own).
	_, _ = rand.Read(b)
	return b
}
