package switchboard

import (
	"context"
	"strings"
	"time"
)

// Role is what a user may do; see the permission matrix in the design.
type Role string

const (
	RoleAdmin      Role = "admin"
	RoleSupervisor Role = "supervisor"
	RoleAgent      Role = "agent"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleAdmin, RoleSupervisor, RoleAgent}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleSupervisor || r == RoleAgent
}

// UserStatus says whether a user may sign in.
type UserStatus string

const (
	UserActive   UserStatus = "active"
	UserDisabled UserStatus = "disabled"
)

// Valid reports whether s is a known status.
func (s UserStatus) Valid() bool { return s == UserActive || s == UserDisabled }

// User is a person who signs in: an administrator, a supervisor, or a human
// agent. E-mail addresses are unique regardless of case and stored lower-case.
type User struct {
	ID          string
	Email       string
	Name        string
	Role        Role
	Status      UserStatus
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastLoginAt *time.Time

	// Version grows with every change and is the basis of the ETag.
	Version int
	// AuthVersion grows whenever the user's credentials or standing change
	// (password, role, status). A browser session remembers the AuthVersion it
	// was created with and is void once they differ.
	AuthVersion int
	// PasswordSet is false for an invited user who has not yet chosen a
	// password, and so cannot sign in.
	PasswordSet bool
}

// Limits on user input.
const (
	MaxEmailLength    = 254
	MaxNameLength     = 200
	MinPasswordLength = 12
	MaxPasswordLength = 256
)

// NewUser is the input for creating a user. Password is plain text and is
// hashed before it is stored.
type NewUser struct {
	Email    string
	Name     string
	Role     Role
	Password string
}

// Normalize trims the input and lower-cases the e-mail address.
func (u *NewUser) Normalize() {
	u.Email = NormalizeEmail(u.Email)
	u.Name = strings.TrimSpace(u.Name)
	u.Role = Role(strings.TrimSpace(string(u.Role)))
}

// Validate checks every field and reports all problems at once.
func (u *NewUser) Validate() error {
	var v Validation
	ValidateName(&v, "name", u.Name)
	ValidateEmail(&v, "email", u.Email)
	if !u.Role.Valid() {
		v.Add("role", "Role must be one of admin, supervisor or agent.")
	}
	ValidatePassword(&v, "password", u.Password)
	return v.Err()
}

// UserUpdate changes some fields of a user; nil fields stay as they are.
// IfVersion, when non-zero, makes the update conditional on the stored
// version (If-Match), failing with EPRECONDITION when it has moved on.
type UserUpdate struct {
	Name      *string
	Role      *Role
	Status    *UserStatus
	IfVersion int
}

// UserFilter selects and orders users for a list.
type UserFilter struct {
	Query  string     // substring of e-mail or name
	Role   Role       // empty = any
	Status UserStatus // empty = any
	Sort   string     // one of UserSorts; empty = "email"
	Limit  int        // 1..MaxPageLimit; 0 = DefaultPageLimit
	Cursor string     // from a previous page's NextCursor
}

// UserSorts are the orders a user list can be sorted in.
var UserSorts = []string{"email", "-email", "created_at", "-created_at"}

// UserService manages users and their passwords.
type UserService interface {
	// FindUserByID returns one user. ENOTFOUND.
	FindUserByID(ctx context.Context, id string) (*User, error)

	// FindUserByEmail returns the user with an e-mail address, in any case;
	// admins only. ENOTFOUND, EFORBIDDEN.
	FindUserByEmail(ctx context.Context, email string) (*User, error)

	// FindUsers returns one page of users. Admins only. EINVALID, EFORBIDDEN.
	FindUsers(ctx context.Context, filter UserFilter) (*Page[*User], error)

	// CountUsers returns the number of users, of any status.
	CountUsers(ctx context.Context) (int, error)

	// CreateUser creates a user; admins only (or the system actor).
	// EINVALID, ECONFLICT (e-mail taken), EFORBIDDEN.
	CreateUser(ctx context.Context, u NewUser) (*User, error)

	// CreateFirstAdmin creates the first administrator while no user exists,
	// for first-run set-up. ECONFLICT once set-up is done. EINVALID.
	CreateFirstAdmin(ctx context.Context, u NewUser) (*User, error)

	// UpdateUser changes a user; admins only. An admin cannot disable or
	// demote themselves, nor leave the system without an active admin.
	// Disabling revokes the user's personal tokens for good; disabling or
	// demoting revokes the enrollment keys they made and could no longer
	// make. EINVALID, ENOTFOUND, EFORBIDDEN, ECONFLICT, EPRECONDITION.
	UpdateUser(ctx context.Context, id string, upd UserUpdate) (*User, error)

	// ChangePassword sets a new password for the calling user after checking
	// the current one, and returns the updated user. Every browser session of
	// the user ends but the caller's, which the caller renews with the
	// returned AuthVersion.
	// Nothing changes unless every field is right, and every wrong field is
	// reported at once.
	// EINVALID (with fields current_password, new_password,
	// new_password_confirm), EUNAUTHORIZED.
	ChangePassword(ctx context.Context, pc PasswordChange) (*User, error)

	// InviteUser makes a new invitation link for a user who has not set a
	// password yet; earlier links stop working. Admins, or supervisors for
	// the user of an agent in their teams. ENOTFOUND, ECONFLICT (the
	// password is set), EFORBIDDEN.
	InviteUser(ctx context.Context, userID string) (*Invitation, error)

	// IssuePasswordReset makes a password reset link for an active user who
	// has a password; earlier links stop working. Admins only. ENOTFOUND,
	// ECONFLICT (disabled, or no password yet), EFORBIDDEN.
	IssuePasswordReset(ctx context.Context, userID string) (*Invitation, error)

	// RequestPasswordReset is "Forgot password?": for the active user with
	// a password whose e-mail address this is, it makes a password reset
	// link as IssuePasswordReset does and e-mails it, when an e-mail with
	// the link can be written (there is a public address for it). Anyone
	// may ask, signed in or not. It answers nil whether or not the address
	// belongs to such a user, so that it tells nothing about accounts.
	// EINVALID (not an e-mail address).
	RequestPasswordReset(ctx context.Context, email string) error

	// FindInvitation returns the invitation or reset link of a secret, with
	// the user's e-mail and name. ENOTFOUND when unknown, used or expired.
	FindInvitation(ctx context.Context, secret string) (*Invitation, error)

	// AcceptInvitation sets the password of the link's user (the first one,
	// or a new one after a reset), uses up the link and ends the user's
	// other sessions. ENOTFOUND, EINVALID.
	AcceptInvitation(ctx context.Context, secret, password string) (*User, error)

	// AuthenticateSession returns the actor of a browser session made for
	// user id at authVersion. EUNAUTHORIZED when the user is gone, disabled,
	// or their credentials or role changed since.
	AuthenticateSession(ctx context.Context, id string, authVersion int) (*Actor, error)

	// Authenticate checks an e-mail address and password for sign-in, with
	// throttling per account and client network (RequestInfo.Network of
	// ctx): after MaxSignInFailures failures from one network within
	// SignInFailureWindow the account is locked for that network for
	// SignInLockout, even for the right password, while its owner can still
	// sign in from elsewhere. Unknown e-mail, wrong password and the right
	// password of a disabled account give the same EUNAUTHORIZED.
	// ERATELIMIT while locked.
	Authenticate(ctx context.Context, email, password string) (*User, error)
}

// Sign-in throttling per account and client network.
const (
	MaxSignInFailures   = 10
	SignInFailureWindow = 15 * time.Minute
	SignInLockout       = 15 * time.Minute
)

// ErrBadCredentials is the one error for every failed sign-in, so that a caller
// cannot tell an unknown e-mail from a wrong password.
var ErrBadCredentials = &Error{Code: EUNAUTHORIZED, Message: "The e-mail address or password is incorrect."}

// PasswordHasher turns passwords into self-describing hashes and checks them.
type PasswordHasher interface {
	Hash(password string) (string, error)
	// Verify reports whether password matches hash. An error means the hash
	// could not be read, not that the password is wrong.
	Verify(hash, password string) (bool, error)
}

// PasswordChange is a user's change of their own password. Confirm, when
// set, is the new password typed a second time, as a form asks for it; the
// API does not.
type PasswordChange struct {
	Current string
	New     string
	Confirm *string
}
