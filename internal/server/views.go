package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard"
)

//go:embed templates static
var assets embed.FS

// views holds the parsed templates: each page is parsed together with the
// layout and the shared partials, so that every page defines its own
// "content" block without clashing with the others.
type views struct {
	pages map[string]*template.Template
	// staticVersion is a hash of the static files, appended to their URLs
	// so that browsers may cache them for good and still see new releases.
	staticVersion string
}

func mustParseViews(version string) *views {
	v := &views{pages: make(map[string]*template.Template), staticVersion: hashStatic()}
	funcs := template.FuncMap{
		"static":  func(name string) string { return "/static/" + name + "?v=" + v.staticVersion },
		"version": func() string { return version },
		"datetime": func(t any) string {
			if tt := timeOf(t); tt != nil {
				return tt.UTC().Format("2006-01-02 15:04 UTC")
			}
			return ""
		},
		"isotime": func(t any) string {
			if tt := timeOf(t); tt != nil {
				return tt.UTC().Format(time.RFC3339)
			}
			return ""
		},
		// exacttime is a time to the second, where seconds matter: when
		// an agent was last seen, when its presence changed.
		"exacttime": func(t any) string {
			if tt := timeOf(t); tt != nil {
				return tt.UTC().Format("2006-01-02 15:04:05 UTC")
			}
			return ""
		},
		"since": func(from, to any) time.Duration {
			f, t := timeOf(from), timeOf(to)
			if f == nil || t == nil {
				return 0
			}
			return t.Sub(*f)
		},
		"ago":          func(t any) string { return relativeTime(timeOf(t), time.Now()) },
		"join":         strings.Join,
		"channelLabel": channelLabel,
		"list":         func(items ...string) []string { return items },
		"skillNames":   switchboard.SortedSkills,
		"topSkills":    topSkills,
		"channelName": func(c switchboard.Channel) string {
			return map[switchboard.Channel]string{switchboard.ChannelEmail: "e-mail", switchboard.ChannelSMS: "SMS", switchboard.ChannelInApp: "in-app"}[c]
		},
		"teamsHint": func(a *switchboard.Actor) string {
			if a.Role() == switchboard.RoleSupervisor {
				return "Your teams. Put the agent in at least one, or you will not see it afterwards."
			}
			return ""
		},
		"options": func(pairs ...string) []option {
			opts := make([]option, 0, len(pairs)/2)
			for i := 0; i+1 < len(pairs); i += 2 {
				opts = append(opts, option{Value: pairs[i], Label: pairs[i+1]})
			}
			return opts
		},
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, fmt.Errorf("dict needs key-value pairs")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("dict key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
		"hasRole": func(a *switchboard.Actor, roles ...string) bool {
			for _, r := range roles {
				if string(a.Role()) == r {
					return true
				}
			}
			return false
		},
		"link": pageLink,
		"initials": func(name string) string {
			var out []rune
			for _, w := range strings.Fields(name) {
				out = append(out, []rune(strings.ToUpper(w))[0])
				if len(out) == 2 {
					break
				}
			}
			return string(out)
		},
		"duration":      humanDuration,
		"bellLabel":     bellLabel,
		"bellCount":     bellCount,
		"inboxLink":     inboxLink,
		"actionLabel":   actionLabel,
		"roughDuration": roughDuration,
		"strategyLabel": strategyLabel,
		"title": func(s string) string {
			if s == "" {
				return s
			}
			return strings.ToUpper(s[:1]) + s[1:]
		},
	}
	shared := []string{"templates/layout.html", "templates/partials.html"}
	pages, err := fs.Glob(assets, "templates/pages/*.html")
	if err != nil {
		panic(err)
	}
	for _, p := range pages {
		t := template.Must(template.New(path.Base(p)).Funcs(funcs).ParseFS(assets, append(shared, p)...))
		v.pages[strings.TrimSuffix(path.Base(p), ".html")] = t
	}
	return v
}

func hashStatic() string {
	h := sha256.New()
	_ = fs.WalkDir(assets, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func timeOf(v any) *time.Time {
	switch t := v.(type) {
	case time.Time:
		if t.IsZero() {
			return nil
		}
		return &t
	case *time.Time:
		return t
	}
	return nil
}

// relativeTime says how long ago (or how far ahead) t is, in the largest
// whole unit.
func relativeTime(t *time.Time, now time.Time) string {
	if t == nil {
		return ""
	}
	d := now.Sub(*t)
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, " from now"
	}
	unit := func(n int, name string) string {
		if n != 1 {
			name += "s"
		}
		return fmt.Sprintf("%d %s%s", n, name, suffix)
	}
	switch {
	case d < time.Minute:
		if suffix == " ago" {
			return "just now"
		}
		return "in a moment"
	case d < time.Hour:
		return unit(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return unit(int(d/time.Hour), "hour")
	case d < 60*24*time.Hour:
		return unit(int(d/(24*time.Hour)), "day")
	case d < 2*365*24*time.Hour:
		return unit(int(d/(30*24*time.Hour)), "month")
	}
	return unit(int(d/(365*24*time.Hour)), "year")
}

// humanDuration says a duration in whole units, largest first, like
// "1 h 30 min" or "45 s".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0 s"
	}
	var parts []string
	for _, u := range []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "min"}, {time.Second, "s"}} {
		if n := d / u.size; n > 0 {
			parts = append(parts, strconv.Itoa(int(n))+" "+u.name)
			d -= n * u.size
		}
	}
	return strings.Join(parts, " ")
}

// option is one choice of a select field.
type option struct{ Value, Label string }

// page is what every template receives.
type page struct {
	Title   string
	Section string // the navigation entry to highlight
	Actor   *switchboard.Actor
	// MyAgent is the agent the signed-in user works as, if any: it decides
	// whether the navigation offers My work, and shows their presence.
	MyAgent   *switchboard.Agent
	Flash     *flash
	Form      *form
	RequestID string
	// HeartbeatEvery is how often, in milliseconds, an open page keeps
	// the signed-in human agent present.
	HeartbeatEvery int64
	// Unread is the bell's count of the signed-in user's unread
	// notifications, read for whole pages only.
	Unread int
	// Scripts are the page's own script files, beside the shared one.
	Scripts []string
	Data    any

	// agentKnown says that a handler has looked MyAgent up already.
	agentKnown bool
	// fragment names a template to render alone, without the layout: a
	// part of a page that a script fetches to update it in place.
	fragment string
}

type flash struct {
	Kind    string // "success" or "error"
	Message string
	// Place names the part of the page the action was in (an element ID
	// like "members"): the message shows there, beside the action, rather
	// than at the top of a long page. Empty is the top.
	Place string
}

// render writes a page. It renders into a buffer first, so that a template
// error becomes a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := s.views.pages[name]
	if !ok {
		s.internalError(w, r, fmt.Errorf("no template %q", name))
		return
	}
	ctx := r.Context()
	// Pages are for people: an agent's token shows the anonymous layout.
	if a := switchboard.ActorFromContext(ctx); a != nil && a.User != nil {
		p.Actor = a
		if !p.agentKnown {
			p.MyAgent = s.myAgent(r)
		}
	}
	p.RequestID = requestIDFrom(ctx)
	p.HeartbeatEvery = s.heartbeatEvery().Milliseconds()
	root := "layout"
	if p.fragment != "" {
		// A fragment leaves the flash message for the next whole page.
		root = p.fragment
	} else {
		if p.Flash == nil && s.sessions != nil {
			if f := s.popFlash(r); f != nil {
				p.Flash = f
			}
		}
		if p.Actor != nil {
			p.Unread = s.unreadCount(r)
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, root, p); err != nil {
		s.logInternal(ctx, fmt.Errorf("render %s: %w", name, err))
		http.Error(w, "An internal error has occurred.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// myAgent returns the agent the signed-in user works as, or nil. A failed
// lookup is logged and costs the page only its My work link.
func (s *Server) myAgent(r *http.Request) *switchboard.Agent {
	actor := switchboard.ActorFromContext(r.Context())
	if actor == nil || actor.User == nil {
		return nil
	}
	a, err := s.Agents.FindAgentByUserID(r.Context(), actor.User.ID)
	if err != nil {
		if switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
			s.logInternal(r.Context(), fmt.Errorf("look up the agent of the signed-in user: %w", err))
		}
		return nil
	}
	return a
}

// setFlash leaves a message for the next page the browser sees.
func (s *Server) setFlash(r *http.Request, kind, message string) {
	s.setFlashAt(r, kind, "", message)
}

// setFlashAt leaves a message for the part of the next page named place
// (see flash.Place); redirect to "#"+place so that the browser shows it.
func (s *Server) setFlashAt(r *http.Request, kind, place, message string) {
	s.sessions.Put(r.Context(), sessionFlash, kind+"|"+place+"|"+message)
}

func (s *Server) popFlash(r *http.Request) *flash {
	if !sessionLoaded(r.Context()) {
		return nil // a route without sessions, like a 404 for an unknown path
	}
	v := s.sessions.PopString(r.Context(), sessionFlash)
	if v == "" {
		return nil
	}
	kind, rest, _ := strings.Cut(v, "|")
	place, msg, _ := strings.Cut(rest, "|")
	return &flash{Kind: kind, Place: place, Message: msg}
}

func (s *Server) renderErrorPage(w http.ResponseWriter, r *http.Request, status int, detail string) {
	s.render(w, r, status, "error", page{
		Title: http.StatusText(status),
		Data: struct {
			Status int
			Detail string
		}{status, detail},
	})
}

// form carries what a user typed and what was wrong with it back to the
// page, so that errors show beside their fields and nothing typed is lost.
type form struct {
	Values  url.Values
	Errors  map[string]string
	Summary string
	order   []string // fields in the order their errors arose: the page's order
}

func newForm(values url.Values) *form {
	if values == nil {
		values = url.Values{}
	}
	return &form{Values: values, Errors: map[string]string{}}
}

// Get returns a submitted value.
func (f *form) Get(field string) string { return f.Values.Get(field) }

// Version returns the object version an edit form was rendered with, for
// IfVersion. A form without one cannot prove it is current: -1 matches no
// version.
func (f *form) Version() int {
	if v, err := strconv.Atoi(f.Get("version")); err == nil && v > 0 {
		return v
	}
	return -1
}

// Has reports whether a multi-valued field (checkboxes) holds value.
func (f *form) Has(field, value string) bool {
	for _, v := range f.Values[field] {
		if v == value {
			return true
		}
	}
	return false
}

// Error returns the error of a field, if any.
func (f *form) Error(field string) string { return f.Errors[field] }

// Add records an error on a field.
func (f *form) Add(field, message string) {
	if _, ok := f.Errors[field]; !ok {
		f.Errors[field] = message
		f.order = append(f.order, field)
	}
}

// FieldErrors lists the errors in the order they were found, for the summary
// at the top of the form.
func (f *form) FieldErrors() []switchboard.FieldError {
	out := make([]switchboard.FieldError, len(f.order))
	for i, field := range f.order {
		out[i] = switchboard.FieldError{Field: field, Message: f.Errors[field]}
	}
	return out
}

// sortErrors puts the errors in the order of fields, the order of the
// page: a form's own checks and the service's may find them in another.
// Fields not named go last.
func (f *form) sortErrors(fields ...string) {
	rank := func(field string) int {
		if i := slices.Index(fields, field); i >= 0 {
			return i
		}
		return len(fields)
	}
	slices.SortStableFunc(f.order, func(a, b string) int { return rank(a) - rank(b) })
}

// HasErrors reports whether the form needs correcting.
func (f *form) HasErrors() bool { return len(f.Errors) > 0 || f.Summary != "" }

// fail records a service error on the form: field errors beside their
// fields, anything else as the summary. It returns the status to answer.
func (s *Server) fail(r *http.Request, f *form, err error) int {
	code := switchboard.ErrorCode(err)
	if code == switchboard.EINTERNAL {
		s.logInternal(r.Context(), err)
	}
	fields := switchboard.ErrorFields(err)
	for _, fe := range fields {
		// An error about one entry of a field ("skills.billing") shows
		// beside the field that holds the entries.
		field, _, _ := strings.Cut(fe.Field, ".")
		f.Add(field, fe.Message)
	}
	if len(fields) == 0 {
		f.Summary = switchboard.ErrorMessage(err)
	}
	status, ok := httpStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	return status
}

// pageLink returns the URL of path with query, changed by key-value pairs
// (an empty value removes the key). The result is a whole URL, so that the
// template escapes it once as a URL: escaping only its query part, after a
// literal "?", would encode the "=" and "&" of the query itself.
func pageLink(path string, query url.Values, kv ...string) template.URL {
	q := url.Values{}
	for k, vs := range query {
		q[k] = vs
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return template.URL(path)
	}
	// Only paths written in the templates come here, and the query is
	// encoded: the URL is safe to mark as such.
	return template.URL(path + "?" + q.Encode())
}

// skillLevel is one skill of an agent, for display.
type skillLevel struct {
	Name  string
	Level int
}

// someSkills are an agent's strongest skills, and how many others it has.
type someSkills struct {
	Top  []skillLevel
	More int
}

// topSkills returns the n highest skills (ties by name), for lists that
// show a line per agent.
func topSkills(skills map[string]int, n int) someSkills {
	all := make([]skillLevel, 0, len(skills))
	for _, name := range switchboard.SortedSkills(skills) {
		all = append(all, skillLevel{Name: name, Level: skills[name]})
	}
	slices.SortStableFunc(all, func(a, b skillLevel) int { return b.Level - a.Level })
	if len(all) <= n {
		return someSkills{Top: all}
	}
	return someSkills{Top: all[:n], More: len(all) - n}
}
