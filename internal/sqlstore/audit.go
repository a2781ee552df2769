package sqlstore

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type auditRow struct {
	bun.BaseModel `bun:"table:audit_entries,alias:ae"`

	ID         string    `bun:"id,pk"`
	At         time.Time `bun:"at"`
	ActorType  string    `bun:"actor_type"`
	ActorID    string    `bun:"actor_id"`
	ActorName  string    `bun:"actor_name"`
	Action     string    `bun:"action"`
	TargetType string    `bun:"target_type"`
	TargetID   string    `bun:"target_id"`
	TargetName string    `bun:"target_name"`
	BeforeJSON *string   `bun:"before_json"`
	AfterJSON  *string   `bun:"after_json"`
	IP         string    `bun:"ip"`
	RequestID  string    `bun:"request_id"`
	Reason     string    `bun:"reason"`
}

func (r *auditRow) domain() *switchboard.AuditEntry {
	e := &switchboard.AuditEntry{
		ID: r.ID, At: r.At.UTC(), ActorType: r.ActorType, ActorID: r.ActorID, ActorName: r.ActorName,
		Action: r.Action, TargetType: r.TargetType, TargetID: r.TargetID, TargetName: r.TargetName,
		IP: r.IP, RequestID: r.RequestID, Reason: r.Reason,
	}
	if r.BeforeJSON != nil {
		_ = unmarshalJSON(*r.BeforeJSON, &e.Before)
	}
	if r.AfterJSON != nil {
		_ = unmarshalJSON(*r.AfterJSON, &e.After)
	}
	return e
}

func jsonOrNil(m map[string]any) *string {
	if len(m) == 0 {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	s := string(b)
	return &s
}

// clip shortens s to at most n characters (runes, not bytes: cutting a
// UTF-8 sequence would store garbage).
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// changes returns the fields whose values differ between before and after,
// as two maps holding only those fields.
func changes(before, after map[string]any) (map[string]any, map[string]any) {
	b, a := map[string]any{}, map[string]any{}
	for k, av := range after {
		if bv, ok := before[k]; !ok || !reflect.DeepEqual(normalizeJSON(bv), normalizeJSON(av)) {
			b[k], a[k] = before[k], av
		}
	}
	return b, a
}

// normalizeJSON makes values comparable after a trip through JSON (where
// every number is a json.Number, exact, and every slice a []any).
func normalizeJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	_ = unmarshalJSON(string(b), &out)
	return out
}

// supervisedEntries keeps the entries a supervisor may read: those about
// the agents of the teams they supervise (as those teams are now), about
// the teams themselves, their enrollment keys and queues, about the tasks
// of those queues and their offers (the tasks the supervisor may list),
// and what the supervisor did (their own sign-ins too). Other people's
// sign-ins, users and tokens stay with admins. A task's entries are found
// by a look-up of the task for each entry read, not by a list of the
// queues' tasks, which grows without bound: a page of the newest entries
// reads a page's worth of them.
func supervisedEntries(q *bun.SelectQuery, supervisorID string) *bun.SelectQuery {
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("ae.actor_type = 'user' AND ae.actor_id = ?", supervisorID).
			WhereOr("ae.target_type = 'agent' AND ae.target_id IN (SELECT stm.agent_id FROM team_members stm "+
				"JOIN team_supervisors sts ON sts.team_id = stm.team_id WHERE sts.user_id = ?)", supervisorID).
			WhereOr("ae.target_type = 'team' AND ae.target_id IN (SELECT sts.team_id FROM team_supervisors sts WHERE sts.user_id = ?)", supervisorID).
			WhereOr("ae.target_type = 'enrollment_key' AND ae.target_id IN (SELECT ek.id FROM enrollment_keys ek "+
				"JOIN team_supervisors sts ON sts.team_id = ek.team_id WHERE sts.user_id = ?)", supervisorID).
			WhereOr("ae.target_type = 'queue' AND ae.target_id IN (SELECT qt.queue_id FROM queue_teams qt "+
				"JOIN team_supervisors sts ON sts.team_id = qt.team_id WHERE sts.user_id = ?)", supervisorID).
			WhereOr("ae.target_type = 'task' AND EXISTS (SELECT 1 FROM tasks stk JOIN queue_teams sqt ON sqt.queue_id = stk.queue_id "+
				"JOIN team_supervisors sts ON sts.team_id = sqt.team_id WHERE stk.id = ae.target_id AND sts.user_id = ?)", supervisorID).
			WhereOr("ae.target_type = 'offer' AND EXISTS (SELECT 1 FROM offers so JOIN tasks stk ON stk.id = so.task_id "+
				"JOIN queue_teams sqt ON sqt.queue_id = stk.queue_id JOIN team_supervisors sts ON sts.team_id = sqt.team_id "+
				"WHERE so.id = ae.target_id AND sts.user_id = ?)", supervisorID)
	})
}

// AuditService implements switchboard.AuditService.
type AuditService struct {
	db *DB
}

var _ switchboard.AuditService = (*AuditService)(nil)

// NewAuditService returns the audit log reader on db.
func NewAuditService(db *DB) *AuditService { return &AuditService{db: db} }

// FindAuditEntries returns entries newest first: every entry to admins, to
// supervisors those about their teams.
func (s *AuditService) FindAuditEntries(ctx context.Context, f switchboard.AuditFilter) (*switchboard.Page[*switchboard.AuditEntry], error) {
	sc, err := switchboard.RequireManager(switchboard.ActorFromContext(ctx), "read the audit log")
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	limit := f.Limit
	var rows []*auditRow
	q := s.db.bun.NewSelect().Model(&rows)
	if sc.SupervisorID != "" {
		q = supervisedEntries(q, sc.SupervisorID)
	}
	if f.ActorID != "" {
		q = q.Where("ae.actor_id = ?", f.ActorID)
	}
	if f.TargetID != "" {
		q = q.Where("ae.target_id = ?", f.TargetID)
	}
	if f.TargetType != "" {
		q = q.Where("ae.target_type = ?", f.TargetType)
	}
	if f.AgentID != "" {
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("ae.target_type = 'agent' AND ae.target_id = ?", f.AgentID).
				WhereOr("ae.target_type = 'token' AND ae.target_id IN (SELECT t.id FROM api_tokens t WHERE t.agent_id = ?)", f.AgentID)
		})
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			q = q.Where("ae.action LIKE ? ESCAPE '!'", prefixPattern(f.Action))
		} else {
			q = q.Where("ae.action = ?", f.Action)
		}
	}
	if f.Since != nil {
		q = q.Where("ae.at >= ?", f.Since.UTC())
	}
	if f.Until != nil {
		q = q.Where("ae.at < ?", f.Until.UTC())
	}
	order := newListOrder("-at", "ae.id", map[string]string{"at": "ae.at"}, "at")
	domain := (*auditRow).domain
	if sc.SupervisorID != "" {
		// Addresses are personal: a supervisor sees their own only.
		domain = func(r *auditRow) *switchboard.AuditEntry {
			e := r.domain()
			if e.ActorType != "user" || e.ActorID != sc.SupervisorID {
				e.IP = ""
			}
			return e
		}
	}
	return listPage(ctx, q, &rows, order, f.Cursor, limit, each(domain),
		func(r *auditRow) (any, string) { return r.At, r.ID })
}
