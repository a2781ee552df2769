package switchboard

import (
	"context"
	"strings"
	"time"
)

// EnrollmentKeyPrefix starts every enrollment key secret.
const EnrollmentKeyPrefix = "sbe_"

// EnrollmentKey lets machine agents register themselves: a process presents
// the key to POST /api/v1/enroll and receives an agent token. Only a hash of
// the key is stored.
type EnrollmentKey struct {
	ID          string
	Name        string
	Prefix      string
	TeamID      string // the team enrolled agents join, if any
	TeamName    string
	AutoApprove bool // enrolled agents start active rather than pending
	MaxUses     int  // 0 = unlimited
	Uses        int
	ExpiresAt   *time.Time
	CreatedBy   string // user ID
	CreatedAt   time.Time
	RevokedAt   *time.Time
}

// Status describes the key at time now: "active", "expired", "exhausted" or
// "revoked".
func (k *EnrollmentKey) Status(now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return "expired"
	case k.MaxUses > 0 && k.Uses >= k.MaxUses:
		return "exhausted"
	}
	return "active"
}

// MaxEnrollmentKeyUses bounds a key's maximum number of uses.
const MaxEnrollmentKeyUses = 1_000_000

// NewEnrollmentKey is the input for creating an enrollment key.
type NewEnrollmentKey struct {
	Name        string
	TeamID      string
	AutoApprove bool
	MaxUses     int // 0 = unlimited
	ExpiresAt   *time.Time
}

// Validate normalizes and checks the input against now.
func (k *NewEnrollmentKey) Validate(now time.Time) error {
	var v Validation
	k.Name = strings.TrimSpace(k.Name)
	k.TeamID = strings.TrimSpace(k.TeamID)
	validateSecretLabel(&v, "key", k.Name, k.ExpiresAt, now)
	ValidateID(&v, "team_id", k.TeamID)
	if k.MaxUses < 0 || k.MaxUses > MaxEnrollmentKeyUses {
		v.Add("max_uses", "Maximum uses must be between 1 and %d, or empty for no limit.", MaxEnrollmentKeyUses)
	}
	return v.Err()
}

// Enrollment is what an enrolling process sends.
type Enrollment struct {
	Key      string
	Name     string
	Skills   map[string]int
	Metadata map[string]any
}

// EnrollmentKeyFilter selects enrollment keys, newest first.
type EnrollmentKeyFilter struct {
	Limit  int
	Cursor string
}

// EnrollmentService manages enrollment keys and enrolls machine agents.
type EnrollmentService interface {
	// CreateEnrollmentKey creates a key and returns it with its secret, shown
	// once. Admins, or supervisors for one of their teams.
	// EINVALID, ENOTFOUND (team), EFORBIDDEN.
	CreateEnrollmentKey(ctx context.Context, k NewEnrollmentKey) (*EnrollmentKey, string, error)

	// FindEnrollmentKeys lists keys: all for admins, those of their teams for
	// supervisors. EINVALID, EFORBIDDEN.
	FindEnrollmentKeys(ctx context.Context, filter EnrollmentKeyFilter) (*Page[*EnrollmentKey], error)

	// RevokeEnrollmentKey revokes a key; agents already enrolled keep their
	// tokens. ENOTFOUND, EFORBIDDEN.
	RevokeEnrollmentKey(ctx context.Context, id string) error

	// Enroll registers a machine agent with a key and returns it with its
	// token secret. Without auto-approval the agent is pending until an
	// admin or supervisor activates it. Attempts with a bad key are
	// throttled per client network (RequestInfo.Network of ctx), see
	// EnrollFailureBurst; successful ones only by the key's MaxUses.
	// EUNAUTHORIZED (bad, expired, revoked or used-up key), EINVALID,
	// ERATELIMIT.
	Enroll(ctx context.Context, e Enrollment) (*Agent, string, error)
}

// Enrollment attempts with a wrong or unusable key are throttled per client
// network: a burst of EnrollFailureBurst, then one per
// EnrollFailureInterval. A fleet enrolling with a good key is never slowed
// down, however many machines share an address: MaxUses bounds a key.
const (
	EnrollFailureBurst    = 20
	EnrollFailureInterval = 3 * time.Second
)
