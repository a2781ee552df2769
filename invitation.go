package switchboard

import "time"

// InvitationPrefix starts every invitation secret, PasswordResetPrefix every
// password reset secret: a secret scanner can tell them apart.
const (
	InvitationPrefix    = "sbi_"
	PasswordResetPrefix = "sbr_"
)

// How long each kind of link works. A reset link replaces a password that
// someone may have lost control of, so it lives a day, not a week.
const (
	InvitationTTL    = 7 * 24 * time.Hour
	PasswordResetTTL = 24 * time.Hour
)

// InvitationKind says what a single-use link is for.
type InvitationKind string

const (
	// KindInvitation lets a new user choose their first password.
	KindInvitation InvitationKind = "invitation"
	// KindPasswordReset lets a user who lost their password choose a new one.
	KindPasswordReset InvitationKind = "password_reset"
)

// Invitation is a single-use, expiring link with which a user sets a
// password: their first (an invitation) or a new one (a password reset).
// Only a hash of its secret is stored; Secret is set only when the link is
// made.
type Invitation struct {
	ID        string
	Kind      InvitationKind
	UserID    string
	Email     string
	Name      string
	ExpiresAt time.Time
	Secret    string
}

// IsPasswordReset reports whether the link replaces an existing password.
func (i *Invitation) IsPasswordReset() bool { return i.Kind == KindPasswordReset }

// Path is the link relative to the base URL: each kind has its own page
// (/invite/{secret}, /reset/{secret}) that sets the password. It is made
// only while Secret is known.
func (i *Invitation) Path() string {
	if i.IsPasswordReset() {
		return "/reset/" + i.Secret
	}
	return "/invite/" + i.Secret
}
