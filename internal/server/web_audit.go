package server

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard"
)

// auditTargetTypes are the kinds of object audit entries name as targets.
var auditTargetTypes = []string{"user", "agent", "team", "token", "enrollment_key", "queue", "task", "offer", "notification", "webhook"}

// auditMaxChanges is how many changed fields an entry shows in the list.
const auditMaxChanges = 6

// auditPageSizes are the page sizes the log offers; the store's default
// is among them.
var auditPageSizes = []int{25, switchboard.DefaultPageLimit, 100, switchboard.MaxPageLimit}

// auditActorsMax is how many people, and how many agents, the actor
// filter lists: one page of each.
const auditActorsMax = switchboard.MaxPageLimit

type auditData struct {
	Filter      url.Values // the filters in effect, for the pager's and the export's links
	Page        *switchboard.Page[*switchboard.AuditEntry]
	Entries     []auditEntryView
	Cursor      string
	Limit       int
	PageSizes   []int
	Actions     []option
	Prefixes    []option
	TargetTypes []string
	// People and Agents are the actors the reader may pick; ActorsCut says
	// that there were more than the lists hold.
	People, Agents []option
	ActorsCut      bool
}

// auditEntryView is an entry with what the list shows of it worked out.
type auditEntryView struct {
	*switchboard.AuditEntry
	Label      string // the action, for people
	ActorLink  string
	TargetLink string
	Changes    []auditChange
	More       int // changed fields left out
}

// auditChange is one changed field: its value before and after, as text.
type auditChange struct {
	Field               string
	Before, After       string
	HasBefore, HasAfter bool
}

// auditQuery reads the log's filters from a query, recording mistakes on
// the returned form. The filters in effect are returned as a query too,
// for links that keep them.
func auditQuery(q url.Values) (*form, switchboard.AuditFilter, url.Values) {
	f := newForm(url.Values{})
	filter := switchboard.AuditFilter{Cursor: q.Get("cursor")}
	kept := url.Values{}
	for _, k := range []string{"action", "target_type", "actor", "target", "since", "until", "limit"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			f.Values.Set(k, v)
			kept.Set(k, v)
		}
	}
	filter.Action, filter.TargetType = f.Get("action"), f.Get("target_type")
	filter.ActorID, filter.TargetID = f.Get("actor"), f.Get("target")
	filter.Since = parseDate(f, "since")
	filter.Until = parseDayEnd(f, "until")
	if v := f.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || !slices.Contains(auditPageSizes, n) {
			// A size the page does not offer is a hand-made link: show
			// the usual page rather than an error.
			kept.Del("limit")
			f.Values.Del("limit")
		} else {
			filter.Limit = n
		}
	}
	return f, filter, kept
}

func (s *Server) webAudit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, filter, kept := auditQuery(r.URL.Query())
	d := &auditData{Filter: kept, PageSizes: auditPageSizes, Actions: auditActionOptions, Prefixes: auditPrefixOptions, TargetTypes: auditTargetTypes}
	d.Limit = cmp.Or(filter.Limit, switchboard.DefaultPageLimit)
	status := http.StatusOK
	if !f.HasErrors() {
		p, _, err := findFromCursor(filter.Cursor, func(cursor string) (*switchboard.Page[*switchboard.AuditEntry], error) {
			filter.Cursor = cursor
			return s.Audit.FindAuditEntries(ctx, filter)
		})
		if err != nil {
			if switchboard.ErrorCode(err) != switchboard.EINVALID {
				s.internalError(w, r, err)
				return
			}
			s.fail(r, f, err)
		}
		d.Page, d.Cursor = p, filter.Cursor
	}
	if f.HasErrors() {
		status = http.StatusBadRequest
	}
	var err error
	if d.People, d.Agents, d.ActorsCut, err = s.auditActors(ctx, filter.ActorID); err != nil {
		s.internalError(w, r, err)
		return
	}
	if d.Page != nil {
		admin := switchboard.ActorFromContext(ctx).IsAdmin()
		for _, e := range d.Page.Items {
			d.Entries = append(d.Entries, newAuditEntryView(e, admin))
		}
	}
	s.render(w, r, status, "audit", page{Title: "Audit log", Section: "audit", Form: f, Data: d})
}

// auditActors are the people and agents whose changes the reader may look
// for: every user and agent for admins; a supervisor themselves and their
// teams' agents. An actor picked already stays in the lists, by its ID if
// it is not among them, so that the form shows what is in effect.
func (s *Server) auditActors(ctx context.Context, picked string) (people, agents []option, cut bool, err error) {
	actor := switchboard.ActorFromContext(ctx)
	if actor.IsAdmin() {
		users, err := s.Users.FindUsers(ctx, switchboard.UserFilter{Sort: "email", Limit: auditActorsMax})
		if err != nil {
			return nil, nil, false, err
		}
		for _, u := range users.Items {
			people = append(people, option{Value: u.ID, Label: u.Name + " (" + u.Email + ")"})
		}
		cut = users.NextCursor != ""
	} else if u := actor.User; u != nil {
		people = append(people, option{Value: u.ID, Label: u.Name + " (you)"})
	}
	as, err := s.Agents.FindAgents(ctx, switchboard.AgentFilter{Sort: "name", Limit: auditActorsMax})
	if err != nil {
		return nil, nil, false, err
	}
	for _, a := range as.Items {
		agents = append(agents, option{Value: a.ID, Label: a.Name})
	}
	cut = cut || as.NextCursor != ""
	listed := func(opts []option) bool {
		return slices.ContainsFunc(opts, func(o option) bool { return o.Value == picked })
	}
	if picked != "" && !listed(people) && !listed(agents) {
		people = append(people, option{Value: picked, Label: picked})
	}
	return people, agents, cut, nil
}

// webAuditExport sends the entries the log's filters select as CSV, all
// of them, page by page as they are read, so that a long log neither
// waits nor sits in memory.
func (s *Server) webAuditExport(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, filter, _ := auditQuery(r.URL.Query())
	if f.HasErrors() {
		s.webAudit(w, r)
		return
	}
	filter.Cursor, filter.Limit = "", switchboard.MaxPageLimit
	p, err := s.Audit.FindAuditEntries(ctx, filter)
	if err != nil {
		if switchboard.ErrorCode(err) == switchboard.EINVALID {
			s.webAudit(w, r)
			return
		}
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="switchboard-audit-`+time.Now().UTC().Format("20060102-150405")+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := switchboard.NewCSVWriter(w)
	rc := http.NewResponseController(w)
	_ = cw.Write(auditCSVHeader)
	for {
		for _, e := range p.Items {
			if err := cw.Write(auditCSVRecord(e)); err != nil {
				return // the reader went away
			}
		}
		if err := cw.Flush(); err != nil {
			return
		}
		_ = rc.Flush()
		if p.NextCursor == "" {
			return
		}
		filter.Cursor = p.NextCursor
		if p, err = s.Audit.FindAuditEntries(ctx, filter); err != nil {
			// The status has gone: all that is left is to stop, and say
			// why in the log. A cut file lacks its last lines.
			s.logInternal(ctx, err)
			return
		}
	}
}

var auditCSVHeader = []string{"time", "actor_type", "actor_id", "actor", "action", "description",
	"target_type", "target_id", "target", "changes", "ip", "request_id"}

// auditCSVRecord is one entry as a line of the export, its changes in one
// cell: "field: before → after; ...".
func auditCSVRecord(e *switchboard.AuditEntry) []string {
	var changes []string
	for _, c := range auditChanges(e) {
		switch {
		case c.HasBefore && c.HasAfter:
			changes = append(changes, c.Field+": "+c.Before+" → "+c.After)
		case c.HasAfter:
			changes = append(changes, c.Field+": "+c.After)
		default:
			changes = append(changes, c.Field+": "+c.Before+" (removed)")
		}
	}
	return []string{e.At.UTC().Format(time.RFC3339), e.ActorType, e.ActorID, e.ActorName, e.Action, entryLabel(e),
		e.TargetType, e.TargetID, e.TargetName, strings.Join(changes, "; "), e.IP, e.RequestID}
}

// parseDate reads a YYYY-MM-DD field as midnight UTC. It returns nil for an
// empty field, and for a malformed one, whose mistake it records on the form.
func parseDate(f *form, field string) *time.Time {
	v := f.Get(field)
	if v == "" {
		return nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		f.Add(field, "Enter a date like 2026-01-31.")
		return nil
	}
	return &t
}

// findFromCursor finds a page of a list from cursor, or from the first
// page when the cursor is stale (a bookmarked link): what the reader
// wants, rather than an error. It returns the cursor it used.
func findFromCursor[P any](cursor string, find func(cursor string) (P, error)) (P, string, error) {
	p, err := find(cursor)
	if cursor != "" && hasFieldError(err, "cursor") {
		cursor = ""
		p, err = find(cursor)
	}
	return p, cursor, err
}

// parseDayEnd reads a date field as the end of that day, so that a range
// "until" the date includes all of it.
func parseDayEnd(f *form, field string) *time.Time {
	t := parseDate(f, field)
	if t == nil {
		return nil
	}
	end := t.Add(24 * time.Hour)
	return &end
}

func hasFieldError(err error, field string) bool {
	for _, fe := range switchboard.ErrorFields(err) {
		if fe.Field == field {
			return true
		}
	}
	return false
}

// newAuditEntryView works out what the list shows of an entry. Only admins
// have users' pages to link to.
func newAuditEntryView(e *switchboard.AuditEntry, admin bool) auditEntryView {
	link := func(kind, id string) string {
		if kind == "user" && !admin {
			return ""
		}
		return objectLink(kind, id)
	}
	v := auditEntryView{AuditEntry: e, ActorLink: link(e.ActorType, e.ActorID)}
	if !strings.HasSuffix(e.Action, ".deleted") { // a deleted object has no page
		v.TargetLink = link(e.TargetType, e.TargetID)
	}
	v.Label = entryLabel(e)
	for _, c := range auditChanges(e) {
		if len(v.Changes) == auditMaxChanges {
			v.More++
			continue
		}
		v.Changes = append(v.Changes, c)
	}
	return v
}

// auditChanges are the changed fields of an entry worth showing, by name.
func auditChanges(e *switchboard.AuditEntry) []auditChange {
	var fields []string
	for k := range e.Before {
		fields = append(fields, k)
	}
	for k := range e.After {
		if _, ok := e.Before[k]; !ok {
			fields = append(fields, k)
		}
	}
	slices.Sort(fields)
	var out []auditChange
	for _, k := range fields {
		b, hasB := e.Before[k]
		a, hasA := e.After[k]
		if (!hasB && isEmptyValue(a)) || (!hasA && isEmptyValue(b)) {
			continue // an empty field of something created or deleted says nothing
		}
		out = append(out, auditChange{Field: k, Before: auditValue(b), After: auditValue(a), HasBefore: hasB, HasAfter: hasA})
	}
	return out
}

func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// objectLink is the page of an object that has one, or "".
func objectLink(kind, id string) string {
	if id == "" {
		return ""
	}
	switch kind {
	case "user":
		return "/users/" + id
	case "agent":
		return "/agents/" + id
	case "team":
		return "/teams/" + id
	case "queue":
		return "/queues/" + id
	case "task":
		return "/tasks/" + id
	case "webhook":
		return "/webhooks/" + id
	}
	return ""
}

// auditValue shows a summarised value in a few words.
func auditValue(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		s = "none"
	case string:
		s = x
		if s == "" {
			s = "(empty)"
		}
	case bool:
		s = map[bool]string{true: "yes", false: "no"}[x]
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number: // as read back from the log: exact
		s = x.String()
	case map[string]any: // like skills: "billing 3, refunds 2"
		keys := slices.Sorted(maps.Keys(x))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " " + auditValue(x[k])
		}
		s = strings.Join(parts, ", ")
		if s == "" {
			s = "none"
		}
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = auditValue(p)
		}
		s = strings.Join(parts, ", ")
		if s == "" {
			s = "none"
		}
	default:
		b, _ := json.Marshal(x)
		s = string(b)
	}
	const max = 80
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}
