package server

import (
	"encoding/json"
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
var auditTargetTypes = []string{"user", "agent", "team", "token", "enrollment_key", "notification", "webhook"}

// auditPrefixes are the families of actions ("agent." and so on), for
// filtering on all of a kind at once.
var auditPrefixes = func() []string {
	var out []string
	for _, a := range switchboard.AuditActions {
		if p, _, ok := strings.Cut(a, "."); ok && !slices.Contains(out, p+".") {
			out = append(out, p+".")
		}
	}
	return out
}()

// auditMaxChanges is how many changed fields an entry shows in the list.
const auditMaxChanges = 6

type auditData struct {
	Filter      url.Values // the filters in effect, for the pager's links
	Page        *switchboard.Page[*switchboard.AuditEntry]
	Entries     []auditEntryView
	Cursor      string
	Actions     []string
	Prefixes    []string
	TargetTypes []string
}

// auditEntryView is an entry with what the list shows of it worked out.
type auditEntryView struct {
	*switchboard.AuditEntry
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

func (s *Server) webAudit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	f := newForm(url.Values{})
	filter := switchboard.AuditFilter{Cursor: q.Get("cursor")}
	d := &auditData{Filter: url.Values{}, Actions: switchboard.AuditActions, Prefixes: auditPrefixes, TargetTypes: auditTargetTypes}
	for _, k := range []string{"action", "target_type", "actor", "target", "since", "until"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			f.Values.Set(k, v)
			d.Filter.Set(k, v)
		}
	}
	filter.Action, filter.TargetType = f.Get("action"), f.Get("target_type")
	filter.ActorID, filter.TargetID = f.Get("actor"), f.Get("target")
	filter.Since = parseDate(f, "since")
	filter.Until = parseDayEnd(f, "until")
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
	if d.Page != nil {
		admin := switchboard.ActorFromContext(ctx).IsAdmin()
		for _, e := range d.Page.Items {
			d.Entries = append(d.Entries, newAuditEntryView(e, admin))
		}
	}
	s.render(w, r, status, "audit", page{Title: "Audit log", Section: "audit", Form: f, Data: d})
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
	for _, k := range fields {
		b, hasB := e.Before[k]
		a, hasA := e.After[k]
		if (!hasB && isEmptyValue(a)) || (!hasA && isEmptyValue(b)) {
			continue // an empty field of something created or deleted says nothing
		}
		if len(v.Changes) == auditMaxChanges {
			v.More++
			continue
		}
		v.Changes = append(v.Changes, auditChange{Field: k, Before: auditValue(b), After: auditValue(a), HasBefore: hasB, HasAfter: hasA})
	}
	return v
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
