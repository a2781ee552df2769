package switchboard

import "time"

// InvitationPrefix starts every invitation secret.
const InvitationPrefix = "sbi_"

// InvitationTTL is how long an invitation link works.
const InvitationTTL = 7 * 24 * time.Hour

// Invitation is a single-use, expiring link with which a new user sets their
// first password. Only a hash of its secret is stored; Secret is set only
// when the invitation is created.
type Invitation struct {
	ID        string
	UserID    string
	Email     string
	Name      string
	ExpiresAt time.Time
	Secret    string
}

// Path is the invitation's link, relative to the server's base URL.
func (i *Invitation) Path() string { return "/invite/" + i.Secret }
