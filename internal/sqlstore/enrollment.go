package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type enrollmentKeyRow struct {
	bun.BaseModel `bun:"table:enrollment_keys,alias:ek"`

	ID          string     `bun:"id,pk"`
	Name        string     `bun:"name"`
	Prefix      string     `bun:"prefix"`
	SecretHash  string     `bun:"secret_hash"`
	TeamID      *string    `bun:"team_id"`
	AutoApprove bool       `bun:"auto_approve"`
	MaxUses     *int       `bun:"max_uses"`
	Uses        int        `bun:"uses"`
	ExpiresAt   *time.Time `bun:"expires_at"`
	CreatedBy   *string    `bun:"created_by"`
	CreatedAt   time.Time  `bun:"created_at"`
	RevokedAt   *time.Time `bun:"revoked_at"`

	TeamName *string `bun:"team_name,scanonly"`
}

func (r *enrollmentKeyRow) domain() *switchboard.EnrollmentKey {
	k := &switchboard.EnrollmentKey{
		ID: r.ID, Name: r.Name, Prefix: r.Prefix, TeamID: deref(r.TeamID), TeamName: deref(r.TeamName),
		AutoApprove: r.AutoApprove, Uses: r.Uses, ExpiresAt: utcPtr(r.ExpiresAt), CreatedBy: deref(r.CreatedBy),
		CreatedAt: r.CreatedAt.UTC(), RevokedAt: utcPtr(r.RevokedAt),
	}
	if r.MaxUses != nil {
		k.MaxUses = *r.MaxUses
	}
	return k
}

// keyEvent is an event about an enrollment key, for admins and the
// supervisors of its team.
func keyEvent(typ string, k *enrollmentKeyRow) switchboard.Event {
	e := switchboard.Event{Type: typ, Subject: switchboard.EventSubject{Type: "enrollment_key", ID: k.ID, Name: k.Name}}
	if k.TeamID != nil {
		e.TeamIDs = []string{*k.TeamID}
	}
	return e
}

// EnrollmentService implements switchboard.EnrollmentService.
type EnrollmentService struct {
	db *DB
}

var _ switchboard.EnrollmentService = (*EnrollmentService)(nil)

// NewEnrollmentService returns the enrollment service on db.
func NewEnrollmentService(db *DB) *EnrollmentService { return &EnrollmentService{db: db} }

func errKeyNotFound() error {
	return &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "No such enrollment key."}
}

// keyScope limits a query to the keys the actor may see: all for admins, the
// keys of their teams for supervisors.
func keyScope(ctx context.Context, q *bun.SelectQuery) (*bun.SelectQuery, error) {
	sc, err := switchboard.ScopeOf(switchboard.ActorFromContext(ctx))
	switch {
	case err != nil:
		return nil, err
	case sc.All:
		return q, nil
	case sc.SupervisorID != "":
		return q.Where("ek.team_id IN (SELECT team_id FROM team_supervisors WHERE user_id = ?)", sc.SupervisorID), nil
	}
	return nil, &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only admins and supervisors manage enrollment keys."}
}

func (s *EnrollmentService) selectKeys(idb bun.IDB, model any) *bun.SelectQuery {
	return idb.NewSelect().Model(model).ColumnExpr("ek.*").ColumnExpr("t.name AS team_name").
		Join("LEFT JOIN teams AS t ON t.id = ek.team_id")
}

// CreateEnrollmentKey creates a key.
func (s *EnrollmentService) CreateEnrollmentKey(ctx context.Context, nk switchboard.NewEnrollmentKey) (*switchboard.EnrollmentKey, string, error) {
	sc, err := switchboard.RequireManager(switchboard.ActorFromContext(ctx), "manage enrollment keys")
	if err != nil {
		return nil, "", err
	}
	now := s.db.now()
	if nk.ExpiresAt != nil {
		t := nk.ExpiresAt.UTC().Truncate(time.Microsecond)
		nk.ExpiresAt = &t
	}
	// Every mistake at once: the fields', a supervisor's missing team, and
	// a team that does not exist.
	var v switchboard.Validation
	v.Merge(0, nk.Validate(now))
	if !sc.All && nk.TeamID == "" {
		v.Add("team_id", "Choose one of your teams: agents that enroll join it.")
	}
	if v.Len() > 0 && nk.TeamID != "" && !v.Has("team_id") {
		n, err := s.db.bun.NewSelect().Table("teams").Where("id = ?", nk.TeamID).Count(ctx)
		if err != nil {
			return nil, "", err
		}
		if n == 0 {
			v.Add("team_id", "The team does not exist.")
		}
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	secret := switchboard.NewSecret(switchboard.EnrollmentKeyPrefix)
	row := &enrollmentKeyRow{
		ID: uuid.Must(uuid.NewV7()).String(), Name: nk.Name, Prefix: switchboard.SecretPrefix(secret),
		SecretHash: switchboard.HashSecret(secret), TeamID: nilIfEmpty(nk.TeamID), AutoApprove: nk.AutoApprove,
		ExpiresAt: nk.ExpiresAt, CreatedBy: nilIfEmpty(switchboard.ActorFromContext(ctx).UserID()), CreatedAt: now,
	}
	if nk.MaxUses > 0 {
		row.MaxUses = &nk.MaxUses
	}
	err = s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		if nk.TeamID != "" {
			var name string
			err := tx.NewSelect().Table("teams").Column("name").Where("id = ?", nk.TeamID).Scan(ctx, &name)
			if errors.Is(err, errNoRows) {
				return &switchboard.Error{Code: switchboard.EINVALID, Message: "The team does not exist.",
					Fields: []switchboard.FieldError{{Field: "team_id", Message: "The team does not exist."}}}
			} else if err != nil {
				return err
			}
			if !sc.All {
				own, err := s.db.supervisedTeams(ctx, tx, sc.SupervisorID)
				if err != nil {
					return err
				}
				if !own[nk.TeamID] {
					return errNotYourTeam()
				}
			}
			row.TeamName = &name
		}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		e := keyEvent(switchboard.AuditKeyCreated, row)
		e.After = map[string]any{
			"name": row.Name, "prefix": row.Prefix, "team": deref(row.TeamName), "auto_approve": row.AutoApprove,
			"max_uses": nk.MaxUses, "expires_at": row.ExpiresAt,
		}
		tx.Record(e)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return row.domain(), secret, nil
}

// FindEnrollmentKeys lists keys, newest first.
func (s *EnrollmentService) FindEnrollmentKeys(ctx context.Context, f switchboard.EnrollmentKeyFilter) (*switchboard.Page[*switchboard.EnrollmentKey], error) {
	var v switchboard.Validation
	limit := switchboard.PageLimit(&v, f.Limit)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var rows []*enrollmentKeyRow
	q, err := keyScope(ctx, s.selectKeys(s.db.bun, &rows))
	if err != nil {
		return nil, err
	}
	order := newListOrder("-created_at", "ek.id", map[string]string{"created_at": "ek.created_at"}, "created_at")
	return listPage(ctx, q, &rows, order, f.Cursor, limit, each((*enrollmentKeyRow).domain),
		func(r *enrollmentKeyRow) (any, string) { return r.CreatedAt, r.ID })
}

// RevokeEnrollmentKey revokes a key.
func (s *EnrollmentService) RevokeEnrollmentKey(ctx context.Context, id string) error {
	return s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		var row enrollmentKeyRow
		q, err := keyScope(ctx, tx.NewSelect().Model(&row).Where("ek.id = ?", id))
		if err != nil {
			return err
		}
		if err := forUpdate(q).Scan(ctx); err != nil {
			if errors.Is(err, errNoRows) {
				return errKeyNotFound()
			}
			return err
		}
		if row.RevokedAt != nil {
			return nil
		}
		row.RevokedAt = &tx.now
		if _, err := tx.NewUpdate().Model(&row).Column("revoked_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		tx.Record(keyEvent(switchboard.AuditKeyRevoked, &row))
		return nil
	})
}

// revokeKeysBeyondGrant revokes the live enrollment keys a user created that
// they could no longer create: all of them once the user is disabled or in
// the agent role, and, unless they are an admin, those of the teams they no
// longer supervise. A key enrolls agents, auto-approved ones too, with its
// creator's authority, so it must not outlive that authority.
func revokeKeysBeyondGrant(ctx context.Context, tx *Tx, userID, reason string) error {
	var u userRow
	if err := tx.NewSelect().Model(&u).Column("role", "status").Where("u.id = ?", userID).Scan(ctx); err != nil {
		return err
	}
	active := u.Status == string(switchboard.UserActive)
	if active && u.Role == string(switchboard.RoleAdmin) {
		return nil
	}
	var keys []*enrollmentKeyRow
	q := tx.NewSelect().Model(&keys).ColumnExpr("ek.*").
		Where("ek.created_by = ? AND ek.revoked_at IS NULL", userID).
		Where("(ek.expires_at IS NULL OR ek.expires_at > ?)", tx.now)
	if active && u.Role == string(switchboard.RoleSupervisor) {
		q = q.Where("(ek.team_id IS NULL OR ek.team_id NOT IN (SELECT team_id FROM team_supervisors WHERE user_id = ?))", userID)
	}
	if err := forUpdate(q).Scan(ctx); err != nil {
		return err
	}
	for _, k := range keys {
		k.RevokedAt = &tx.now
		if _, err := tx.NewUpdate().Model(k).Column("revoked_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		e := keyEvent(switchboard.AuditKeyRevoked, k)
		e.After = map[string]any{"reason": reason}
		tx.Record(e)
	}
	return nil
}

// Enroll registers a machine agent with a key, throttling the attempts with
// a bad key per client network (a good key's uses are limited by its
// MaxUses, not by where its agents come from).
func (s *EnrollmentService) Enroll(ctx context.Context, e switchboard.Enrollment) (*switchboard.Agent, string, error) {
	bucket := "enroll-failures:" + clientNetwork(ctx)
	wait, err := s.db.throttleWait(ctx, bucket, switchboard.EnrollFailureBurst, switchboard.EnrollFailureInterval)
	if err != nil {
		return nil, "", err
	}
	if wait > 0 {
		return nil, "", &switchboard.Error{Code: switchboard.ERATELIMIT, RetryAfter: wait,
			Message: "Too many enrollments with a wrong or unusable key from your address; wait a little and try again."}
	}
	agent, secret, err := s.enroll(ctx, e)
	if errors.Is(err, errBadEnrollmentKey) {
		if _, _, terr := s.db.Throttle(ctx, bucket, switchboard.EnrollFailureBurst, switchboard.EnrollFailureInterval); terr != nil {
			return nil, "", terr
		}
	}
	return agent, secret, err
}

var errBadEnrollmentKey = &switchboard.Error{Code: switchboard.EUNAUTHORIZED, Message: "The enrollment key is invalid, expired, revoked or used up."}

// enroll registers a machine agent. The key row is locked for the
// transaction, so that concurrent enrollments cannot exceed its uses.
func (s *EnrollmentService) enroll(ctx context.Context, e switchboard.Enrollment) (*switchboard.Agent, string, error) {
	errBadKey := errBadEnrollmentKey
	if len(e.Key) > 200 || e.Key == "" {
		return nil, "", errBadKey
	}
	na := switchboard.NewAgent{Name: e.Name, Kind: switchboard.MachineAgent, Skills: e.Skills}
	na.Normalize()
	var v switchboard.Validation
	if err := na.Validate(); err != nil {
		v.Merge(0, err)
	}
	switchboard.ValidateJSONObject(&v, "metadata", e.Metadata, switchboard.MaxMetadataBytes)
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	var agent *switchboard.Agent
	var secret string
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		var key enrollmentKeyRow
		err := forUpdate(tx.NewSelect().Model(&key).Where("ek.secret_hash = ?", switchboard.HashSecret(e.Key))).Scan(ctx)
		if errors.Is(err, errNoRows) {
			return errBadKey
		} else if err != nil {
			return err
		}
		if key.domain().Status(tx.now) != "active" {
			return errBadKey
		}
		if _, err := tx.NewUpdate().Model(&key).Set("uses = uses + 1").WherePK().Exec(ctx); err != nil {
			return err
		}
		na.Status = switchboard.AgentPending
		if key.AutoApprove {
			na.Status = switchboard.AgentActive
		}
		if key.TeamID != nil {
			na.TeamIDs = []string{*key.TeamID}
		}
		row := newAgentRow(na, tx.now)
		if e.Metadata != nil {
			row.Metadata = mustJSON(e.Metadata)
		}
		if err := insertAgent(ctx, tx, row, na.Skills, na.TeamIDs); err != nil {
			return err
		}
		var token *switchboard.APIToken
		if token, secret, err = insertAgentToken(ctx, tx, row, clip("enrollment: "+key.Name, switchboard.MaxTokenNameLength), nil); err != nil {
			return err
		}
		loaded, err := s.db.loadAgents(ctx, tx, []*agentRow{row})
		if err != nil {
			return err
		}
		agent = loaded[0]
		ev := agentEvent(switchboard.AuditAgentEnrolled, agent, nil)
		ev.Actor = switchboard.EventActor{Type: "enrollment_key", ID: key.ID, Name: key.Name}
		ev.After = agentSummary(agent)
		ev.After["token_prefix"] = token.Prefix
		tx.Record(ev)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return agent, secret, nil
}
