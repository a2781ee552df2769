package sqlstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type userRow struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID           string     `bun:"id,pk"`
	Email        string     `bun:"email"`
	Name         string     `bun:"name"`
	Role         string     `bun:"role"`
	Status       string     `bun:"status"`
	PasswordHash string     `bun:"password_hash"`
	Version      int        `bun:"version"`
	AuthVersion  int        `bun:"auth_version"`
	CreatedAt    time.Time  `bun:"created_at"`
	UpdatedAt    time.Time  `bun:"updated_at"`
	LastLoginAt  *time.Time `bun:"last_login_at"`
}

func (r *userRow) domain() *switchboard.User {
	return &switchboard.User{
		ID:          r.ID,
		Email:       r.Email,
		Name:        r.Name,
		Role:        switchboard.Role(r.Role),
		Status:      switchboard.UserStatus(r.Status),
		CreatedAt:   r.CreatedAt.UTC(),
		UpdatedAt:   r.UpdatedAt.UTC(),
		LastLoginAt: utcPtr(r.LastLoginAt),
		Version:     r.Version,
		AuthVersion: r.AuthVersion,
		PasswordSet: r.PasswordHash != "",
	}
}

func userSubject(r *userRow) switchboard.EventSubject {
	return switchboard.EventSubject{Type: "user", ID: r.ID, Name: r.Email}
}

// userSummary is what the audit log records of a user: never the hash.
func userSummary(r *userRow) map[string]any {
	return map[string]any{"email": r.Email, "name": r.Name, "role": r.Role, "status": r.Status}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// UserService implements switchboard.UserService.
type UserService struct {
	db *DB

	dummyOnce sync.Once
	dummyHash string
}

var _ switchboard.UserService = (*UserService)(nil)

// NewUserService returns the user service on db.
func NewUserService(db *DB) *UserService { return &UserService{db: db} }

func errUserNotFound() error {
	return &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "No such user."}
}

// FindUserByID returns a user to an admin, or to the user themselves.
func (s *UserService) FindUserByID(ctx context.Context, id string) (*switchboard.User, error) {
	actor := switchboard.ActorFromContext(ctx)
	if actor == nil {
		return nil, switchboard.ErrSignInFirst
	}
	if !switchboard.CanSeeUser(actor, id) {
		return nil, errUserNotFound()
	}
	row, err := findUserRow(ctx, s.db.bun, id, false)
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// FindUserByEmail returns a user by e-mail address, to an admin.
func (s *UserService) FindUserByEmail(ctx context.Context, email string) (*switchboard.User, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var row userRow
	err := s.db.bun.NewSelect().Model(&row).Where("u.email = ?", switchboard.NormalizeEmail(email)).Scan(ctx)
	if errors.Is(err, errNoRows) {
		return nil, &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "No user has the e-mail address " + switchboard.NormalizeEmail(email) + "."}
	} else if err != nil {
		return nil, translate(err)
	}
	return row.domain(), nil
}

// findUserRow returns a user's row, locked for update when lock is set.
// ENOTFOUND.
func findUserRow(ctx context.Context, idb bun.IDB, id string, lock bool) (*userRow, error) {
	var row userRow
	q := idb.NewSelect().Model(&row).Where("u.id = ?", id)
	if lock {
		q = forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, errNoRows) {
			return nil, errUserNotFound()
		}
		return nil, translate(err)
	}
	return &row, nil
}

// FindUsers returns one page of users to an admin.
func (s *UserService) FindUsers(ctx context.Context, f switchboard.UserFilter) (*switchboard.Page[*switchboard.User], error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var v switchboard.Validation
	limit := switchboard.PageLimit(&v, f.Limit)
	if f.Sort == "" {
		f.Sort = "email"
	}
	switchboard.ValidSort(&v, f.Sort, switchboard.UserSorts)
	if f.Role != "" && !f.Role.Valid() {
		v.Add("role", "Role must be one of admin, supervisor or agent.")
	}
	if f.Status != "" && !f.Status.Valid() {
		v.Add("status", "Status must be active or disabled.")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}

	var rows []*userRow
	q := s.db.bun.NewSelect().Model(&rows)
	if f.Query != "" {
		pattern := likePattern(f.Query)
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where(s.db.ilike("u.email"), pattern).WhereOr(s.db.ilike("u.name"), pattern)
		})
	}
	if f.Role != "" {
		q = q.Where("u.role = ?", f.Role)
	}
	if f.Status != "" {
		q = q.Where("u.status = ?", f.Status)
	}
	order := newListOrder(f.Sort, "u.id", map[string]string{"email": "u.email", "created_at": "u.created_at"}, "created_at")
	return listPage(ctx, q, &rows, order, f.Cursor, limit, each((*userRow).domain), func(r *userRow) (any, string) {
		if order.isTime {
			return r.CreatedAt, r.ID
		}
		return r.Email, r.ID
	})
}

// CountUsers returns the number of users.
func (s *UserService) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.bun.NewSelect().Model((*rowCountRow)(nil)).Column("n").Where("name = ?", usersCount).Scan(ctx, &n)
	return n, translate(err)
}

// CreateUser creates a user on behalf of an admin or the system.
func (s *UserService) CreateUser(ctx context.Context, nu switchboard.NewUser) (*switchboard.User, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	row, err := s.newRow(nu)
	if switchboard.ErrorCode(err) == switchboard.EINVALID {
		// An address in use is one more mistake to report now, not after
		// the others are corrected.
		var v switchboard.Validation
		v.Merge(0, err)
		if email := switchboard.NormalizeEmail(nu.Email); !v.Has("email") {
			n, err := s.db.bun.NewSelect().Model((*userRow)(nil)).Where("email = ?", email).Count(ctx)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				v.Add("email", "A user with this e-mail address already exists.")
			}
		}
		return nil, v.Err()
	}
	if err != nil {
		return nil, err
	}
	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		if err := s.insert(ctx, tx, row); err != nil {
			return err
		}
		tx.Record(switchboard.Event{Type: switchboard.AuditUserCreated, Subject: userSubject(row), After: userSummary(row)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// CreateFirstAdmin creates the first admin, once. A marker row in settings,
// inserted in the same transaction, makes a second concurrent set-up fail on
// its primary key even where both transactions saw no users.
func (s *UserService) CreateFirstAdmin(ctx context.Context, nu switchboard.NewUser) (*switchboard.User, error) {
	nu.Role = switchboard.RoleAdmin
	row, err := s.newRow(nu)
	if err != nil {
		return nil, err
	}
	errDone := &switchboard.Error{Code: switchboard.ECONFLICT, Message: "Set-up is already complete; sign in instead."}
	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.NewInsert().Model(&settingRow{Name: settingSetupDone, Value: row.ID, UpdatedAt: row.CreatedAt}).Exec(ctx)
		if isUniqueViolation(err) {
			return errDone
		} else if err != nil {
			return err
		}
		n, err := tx.NewSelect().Model((*userRow)(nil)).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return errDone
		}
		if err := s.insert(ctx, tx, row); err != nil {
			return err
		}
		// The new admin is the actor of their own creation.
		tx.Record(switchboard.Event{Type: switchboard.AuditSetupCompleted, Subject: userSubject(row), After: userSummary(row),
			Actor: switchboard.EventActor{Type: "user", ID: row.ID, Name: row.Email}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// newRow validates input and hashes the password. Hashing is deliberately
// slow, so it happens before any transaction holds locks.
func (s *UserService) newRow(nu switchboard.NewUser) (*userRow, error) {
	nu.Normalize()
	if err := nu.Validate(); err != nil {
		return nil, err
	}
	hash, err := s.db.Hasher.Hash(nu.Password)
	if err != nil {
		return nil, err
	}
	now := s.db.now()
	return &userRow{
		ID:           uuid.Must(uuid.NewV7()).String(),
		Email:        nu.Email,
		Name:         nu.Name,
		Role:         string(nu.Role),
		Status:       string(switchboard.UserActive),
		PasswordHash: hash,
		Version:      1,
		AuthVersion:  1,
		CreatedAt:    now,
		UpdatedAt:    now,
	}, nil
}

func (s *UserService) insert(ctx context.Context, tx *Tx, row *userRow) error {
	_, err := tx.NewInsert().Model(row).Exec(ctx)
	if isUniqueViolation(err) {
		return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "A user with this e-mail address already exists.",
			Fields: []switchboard.FieldError{{Field: "email", Message: "A user with this e-mail address already exists."}}}
	}
	if err == nil {
		tx.usersAdded++
	}
	return err
}

// UpdateUser changes a user's name, role or status.
func (s *UserService) UpdateUser(ctx context.Context, id string, upd switchboard.UserUpdate) (*switchboard.User, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	actor := switchboard.ActorFromContext(ctx)
	var v switchboard.Validation
	if upd.Name != nil {
		switchboard.ValidateName(&v, "name", *upd.Name)
	}
	if upd.Role != nil && !upd.Role.Valid() {
		v.Add("role", "Role must be one of admin, supervisor or agent.")
	}
	if upd.Status != nil && !upd.Status.Valid() {
		v.Add("status", "Status must be active or disabled.")
	}
	if actor.UserID() == id {
		if upd.Role != nil && *upd.Role != switchboard.RoleAdmin {
			v.Add("role", "You cannot change your own role; ask another admin.")
		}
		if upd.Status != nil && *upd.Status != switchboard.UserActive {
			v.Add("status", "You cannot disable your own account.")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}

	var row *userRow
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		if row, err = findUserRow(ctx, tx, id, true); err != nil {
			return err
		}
		if upd.IfVersion != 0 && upd.IfVersion != row.Version {
			return errStale("user")
		}
		before := userSummary(row)
		wasActiveAdmin := row.Role == string(switchboard.RoleAdmin) && row.Status == string(switchboard.UserActive)
		changedStanding := false
		if upd.Name != nil {
			row.Name = *upd.Name
		}
		if upd.Role != nil && string(*upd.Role) != row.Role {
			row.Role, changedStanding = string(*upd.Role), true
		}
		if upd.Status != nil && string(*upd.Status) != row.Status {
			row.Status, changedStanding = string(*upd.Status), true
		}
		isActiveAdmin := row.Role == string(switchboard.RoleAdmin) && row.Status == string(switchboard.UserActive)
		if wasActiveAdmin && !isActiveAdmin {
			if err := s.requireAnotherAdmin(ctx, tx, id); err != nil {
				return err
			}
		}
		row.Version++
		if changedStanding {
			row.AuthVersion++
		}
		row.UpdatedAt = tx.now
		if _, err := tx.NewUpdate().Model(row).Column("name", "role", "status", "version", "auth_version", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		if changedStanding {
			// An invitation is for the standing the user had when it was
			// made: a promotion must not let an old link, or one a
			// supervisor asked for, set an admin's password.
			if err := voidInvitations(ctx, tx, row.ID); err != nil {
				return err
			}
		}
		if row.Role == string(switchboard.RoleAgent) {
			// Only supervisors and admins supervise teams.
			if _, err := tx.NewDelete().Model((*teamSupervisorRow)(nil)).Where("user_id = ?", row.ID).Exec(ctx); err != nil {
				return err
			}
		}
		tx.recordChange(switchboard.AuditUserUpdated, userSubject(row), before, userSummary(row), eventScope{})
		if changedStanding {
			return revokeBeyondStanding(ctx, tx, row, before)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// revokeBeyondStanding revokes the credentials a user's change of role or
// status has taken the grant of: their personal tokens when they are
// disabled, and the enrollment keys they could no longer create.
func revokeBeyondStanding(ctx context.Context, tx *Tx, row *userRow, before map[string]any) error {
	reason := "creator's role changed"
	if row.Status != string(switchboard.UserActive) {
		reason = "creator disabled"
		if before["status"] == string(switchboard.UserActive) {
			if err := revokePersonalTokens(ctx, tx, row.ID, "user disabled"); err != nil {
				return err
			}
		}
	}
	return revokeKeysBeyondGrant(ctx, tx, row.ID, reason)
}

// requireAnotherAdmin fails unless an active admin other than id exists. The
// other admins' rows are locked so that two admins demoting each other at
// the same moment cannot both succeed.
func (s *UserService) requireAnotherAdmin(ctx context.Context, tx *Tx, id string) error {
	var ids []string
	q := tx.NewSelect().Model((*userRow)(nil)).Column("id").
		Where("u.role = ? AND u.status = ? AND u.id <> ?", switchboard.RoleAdmin, switchboard.UserActive, id)
	if err := forUpdate(q).Scan(ctx, &ids); err != nil {
		return err
	}
	if len(ids) == 0 {
		return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "This is the last active admin; make another user an admin first."}
	}
	return nil
}

// ChangePassword replaces the calling user's password.
func (s *UserService) ChangePassword(ctx context.Context, pc switchboard.PasswordChange) (*switchboard.User, error) {
	actor := switchboard.ActorFromContext(ctx)
	if actor == nil || actor.User == nil {
		return nil, switchboard.ErrSignInFirst
	}
	row, err := findUserRow(ctx, s.db.bun, actor.User.ID, false)
	if err != nil {
		return nil, err
	}
	// Check every field, the current password included, before answering:
	// one attempt shows every mistake.
	var v switchboard.Validation
	if pc.Current == "" {
		v.Add("current_password", "Enter your current password.")
	} else {
		ok, err := s.db.Hasher.Verify(row.PasswordHash, pc.Current)
		if err != nil {
			return nil, err
		}
		if !ok {
			v.Add("current_password", "The current password is incorrect.")
		}
	}
	switchboard.ValidatePassword(&v, "new_password", pc.New)
	if pc.Confirm != nil && *pc.Confirm != pc.New {
		v.Add("new_password_confirm", "The new passwords do not match.")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	next := pc.New
	hash, err := s.db.Hasher.Hash(next)
	if err != nil {
		return nil, err
	}
	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		row.PasswordHash = hash
		row.UpdatedAt = tx.now
		_, err := tx.NewUpdate().Model(row).
			Set("password_hash = ?", hash).
			Set("version = version + 1").
			Set("auth_version = auth_version + 1").
			Set("updated_at = ?", row.UpdatedAt).
			WherePK().Exec(ctx)
		if err != nil {
			return err
		}
		// A reset link asked for earlier is no longer wanted.
		if err := voidInvitations(ctx, tx, row.ID); err != nil {
			return err
		}
		tx.Record(switchboard.Event{Type: switchboard.AuditUserPasswordChanged, Subject: userSubject(row)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.findDomain(ctx, row.ID)
}

func (s *UserService) findDomain(ctx context.Context, id string) (*switchboard.User, error) {
	row, err := findUserRow(ctx, s.db.bun, id, false)
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// AuthenticateSession returns the actor for a browser session of user id,
// made when the user's AuthVersion was authVersion. A session outlives
// neither a change of password, role or status, nor the user's disabling.
func (s *UserService) AuthenticateSession(ctx context.Context, id string, authVersion int) (*switchboard.Actor, error) {
	row, err := findUserRow(ctx, s.db.bun, id, false)
	if err != nil && switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
		return nil, err // an outage ends no session
	}
	if err != nil || row.AuthVersion != authVersion || row.Status != string(switchboard.UserActive) {
		return nil, &switchboard.Error{Code: switchboard.EUNAUTHORIZED, Message: "Your session has ended; sign in again."}
	}
	return &switchboard.Actor{User: row.domain()}, nil
}

func requireAdmin(ctx context.Context) error {
	return switchboard.RequireAdmin(switchboard.ActorFromContext(ctx))
}

func errStale(what string) error {
	return &switchboard.Error{Code: switchboard.EPRECONDITION, Message: "The " + what + " has changed since you read it; fetch it again and retry."}
}
