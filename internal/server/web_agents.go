package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

type agentsData struct {
	Filter url.Values
	Page   *switchboard.Page[*switchboard.Agent]
	Cursor string
	Teams  []*switchboard.Team
	Now    time.Time
	// Count is how many agents the filter matches; From and To are the
	// positions of the page's first and last, counted from 1.
	Count, From, To int
	NextFrom        int
	Limit           int
	PageSizes       []int
	Columns         map[string]sortColumn
	SkillKey        string // the skill filtered on, as skills are stored
	// Query is the filter as a query string, for the bulk form's address
	// and the export link.
	Query       string
	BulkActions []option
}

// agentListParams are the query parameters of the agent list that its
// links keep.
var agentListParams = []string{"q", "status", "presence", "kind", "team", "skill", "min_level", "sort", "limit", "show_retired"}

// sortColumn is a sortable column header: its link sorts by it, in reverse
// when it is the order already.
type sortColumn struct {
	Label string
	Href  string
	Sort  string // "ascending", "descending" or "" (for aria-sort)
	Num   bool
}

func sortColumns(filter url.Values, current string, names ...string) map[string]sortColumn {
	cols := map[string]sortColumn{}
	for i := 0; i+1 < len(names); i += 2 {
		key, label := names[i], names[i+1]
		c := sortColumn{Label: label, Num: key == "skill_level"}
		next := key
		switch current {
		case key:
			c.Sort, next = "ascending", "-"+key
		case "-" + key:
			c.Sort = "descending"
		}
		q := keep(filter, agentListParams...)
		q.Set("sort", next)
		c.Href = "/agents?" + q.Encode()
		cols[key] = c
	}
	return cols
}

// parseAgentList reads the agent list's filter from its address: retired
// agents stay out unless asked for.
func parseAgentList(q url.Values) (switchboard.AgentFilter, error) {
	filter, err := switchboard.ParseAgentFilter(q)
	filter.HideRetired = q.Get("show_retired") == ""
	return filter, err
}

func (s *Server) webAgents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	filter, err := parseAgentList(q)
	var p *switchboard.Page[*switchboard.Agent]
	count := 0
	if err == nil {
		p, err = s.Agents.FindAgents(ctx, filter)
	}
	if err == nil {
		count, err = s.Agents.CountMatchingAgents(ctx, filter)
	}
	if err != nil {
		if switchboard.ErrorCode(err) == switchboard.EINVALID {
			s.renderError(w, r, http.StatusBadRequest, switchboard.ErrorMessage(err))
			return
		}
		s.internalError(w, r, err)
		return
	}
	teams, err := s.visibleTeams(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	// from is where the page starts, carried by the pager's links: a
	// cursor knows the last agent before it, not how many came before.
	from, _ := strconv.Atoi(q.Get("from"))
	if filter.Cursor == "" || from < 1 {
		from = 1
	}
	kept := keep(q, agentListParams...)
	d := &agentsData{
		Filter: kept, Page: p, Cursor: filter.Cursor, Teams: teams, Now: s.Now(),
		Count: count, From: from, To: from + len(p.Items) - 1, NextFrom: from + len(p.Items), Limit: filter.Limit, PageSizes: []int{25, 50, 100, 200},
		Query: kept.Encode(),
	}
	cols := []string{"name", "Name", "status", "Status", "presence", "Presence"}
	if filter.Skill != "" {
		d.SkillKey = switchboard.NormalizeSkill(filter.Skill)
		cols = append(cols, "skill_level", "Level of "+d.SkillKey)
	}
	d.Columns = sortColumns(q, filter.Sort, append(cols, "created_at", "Created")...)
	for _, a := range switchboard.BulkActions {
		d.BulkActions = append(d.BulkActions, option{Value: a, Label: bulkActionLabel(a)})
	}
	p2 := page{Title: "Agents", Section: "agents", Data: d}
	s.render(w, r, http.StatusOK, "agents", p2)
}

// keep returns the non-empty values of the named query parameters, for links
// that preserve a list's filters.
func keep(q url.Values, names ...string) url.Values {
	out := url.Values{}
	for _, k := range names {
		if v := q.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out
}

// visibleTeams returns the teams the actor may see (all of them for admins,
// their own for supervisors), for filters and form choices.
func (s *Server) visibleTeams(r *http.Request) ([]*switchboard.Team, error) {
	var teams []*switchboard.Team
	cursor := ""
	for {
		p, err := s.Teams.FindTeams(r.Context(), switchboard.TeamFilter{Limit: switchboard.MaxPageLimit, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		teams = append(teams, p.Items...)
		if cursor = p.NextCursor; cursor == "" || len(teams) >= 1000 {
			return teams, nil
		}
	}
}

// agentFormData feeds the agent form, for creating and editing.
type agentFormData struct {
	Agent *switchboard.Agent // nil when creating
	Teams []option
}

func (s *Server) renderAgentForm(w http.ResponseWriter, r *http.Request, status int, f *form, a *switchboard.Agent) {
	teams, err := s.visibleTeams(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	opts := make([]option, len(teams))
	for i, t := range teams {
		opts[i] = option{Value: t.ID, Label: t.Name}
	}
	title, name := "New agent", "agent_new"
	if a != nil {
		title, name = "Edit "+a.Name, "agent_edit"
	}
	s.render(w, r, status, name, page{Title: title, Section: "agents", Form: f, Data: &agentFormData{Agent: a, Teams: opts}})
}

func (s *Server) webNewAgent(w http.ResponseWriter, r *http.Request) {
	f := newForm(url.Values{"kind": {"human"}, "capacity": {"1"}, "notify": {"inapp", "email"}})
	if team := r.URL.Query().Get("team"); team != "" {
		f.Values.Set("teams", team)
	}
	s.renderAgentForm(w, r, http.StatusOK, f, nil)
}

// agentFields are the agent form's fields in the order of the page, for the
// summary of errors.
var agentFields = []string{"name", "kind", "email", "phone", "skills", "capacity", "teams", "notify", "attributes"}

// agentFormFields reads the fields shared by the create and edit forms.
// Problems of form (a skill list or JSON that does not parse) go on f.
func agentFormFields(f *form) (skills map[string]int, capacity int, attributes map[string]any, notify []switchboard.Channel) {
	skills, err := switchboard.ParseSkills("skills", f.Get("skills"))
	if err != nil {
		f.Add("skills", switchboard.ErrorFields(err)[0].Message)
	}
	capacity, err = strconv.Atoi(strings.TrimSpace(f.Get("capacity")))
	if err != nil {
		f.Add("capacity", "Capacity must be a whole number, like 1 or 5.")
	}
	if a := strings.TrimSpace(f.Get("attributes")); a != "" {
		if attributes, err = switchboard.ParseJSONObject("attributes", a); err != nil {
			f.Add("attributes", switchboard.ErrorFields(err)[0].Message)
		}
	}
	notify = []switchboard.Channel{}
	for _, c := range f.Values["notify"] {
		notify = append(notify, switchboard.Channel(c))
	}
	return skills, capacity, attributes, notify
}

func (s *Server) webCreateAgent(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	skills, capacity, attributes, notify := agentFormFields(f)
	na := switchboard.NewAgent{
		Name: f.Get("name"), Kind: switchboard.AgentKind(f.Get("kind")), Email: f.Get("email"), Phone: f.Get("phone"),
		Skills: skills, Capacity: capacity, TeamIDs: f.Values["teams"], Attributes: attributes, Notify: notify,
	}
	if f.HasErrors() {
		// Report the rest of the form too, not only what failed to parse.
		na.Normalize()
		if err := na.Validate(); err != nil {
			s.fail(r, f, err)
		}
		f.sortErrors(agentFields...)
		s.renderAgentForm(w, r, http.StatusUnprocessableEntity, f, nil)
		return
	}
	if mayInvite(na.Kind, na.Email) {
		if err := s.canMakeLinks(r.Context()); err != nil {
			s.renderAgentForm(w, r, s.fail(r, f, err), f, nil)
			return
		}
	}
	a, inv, err := s.Agents.CreateAgent(r.Context(), na)
	if err != nil {
		status := s.fail(r, f, err)
		f.sortErrors(agentFields...)
		s.renderAgentForm(w, r, status, f, nil)
		return
	}
	if inv != nil {
		// The invitation link is a secret shown once, on the page the
		// redirect leads to.
		s.setFlash(r, "success", "Agent "+a.Name+" has been created and "+inv.Email+" invited.")
		s.revealOnAgentPage(w, r, a.ID, "", &agentReveal{Invitation: s.invitationJSON(r.Context(), inv)})
		return
	}
	s.setFlash(r, "success", "Agent "+a.Name+" has been created.")
	seeOther(w, r, "/agents/"+a.ID)
}

// agentData feeds the agent page.
type agentData struct {
	Agent      *switchboard.Agent
	Actions    []lifecycleButton
	Manage     bool // the actor may change the agent
	Admin      bool
	ReadOnly   bool // the agent's own profile page
	Tokens     *switchboard.Page[*switchboard.APIToken]
	History    []auditEntryView
	Attributes string
	Metadata   string
	Now        time.Time
	Activity   *agentActivity
	agentExtras
}

// agentExtras are what the agent page shows once, after an action.
type agentExtras struct {
	agentReveal
	TokenForm *form
}

// agentReveal is a secret the agent page shows once, after the redirect
// that follows its making (see stashReveal).
type agentReveal struct {
	Invitation *InvitationJSON       `json:"invitation,omitempty"`
	NewToken   *switchboard.APIToken `json:"new_token,omitempty"`
	NewSecret  string                `json:"new_secret,omitempty"`
}

// revealOnAgentPage redirects to the agent's page, which shows the secret
// once.
func (s *Server) revealOnAgentPage(w http.ResponseWriter, r *http.Request, id, fragment string, v *agentReveal) {
	target, err := s.stashReveal(r, "/agents/"+id, fragment, v)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	seeOther(w, r, target)
}

type lifecycleButton struct {
	Action  string
	Label   string
	Class   string
	Confirm string
}

func lifecycleButtons(a *switchboard.Agent) []lifecycleButton {
	var out []lifecycleButton
	for _, act := range a.Status.Actions() {
		b := lifecycleButton{Action: act.Name, Label: title(act.Name), Class: "button"}
		switch act.To {
		case switchboard.AgentActive:
			b.Class = "button-primary"
			if a.Status == switchboard.AgentPending {
				b.Label = "Approve"
			}
		case switchboard.AgentRetired:
			b.Class = "button-danger"
		}
		b.Confirm = lifecycleQuestion(a, act.To)
		out = append(out, b)
	}
	return out
}

// lifecycleQuestion is what moving the agent to status to asks first, or ""
// when the move needs no confirmation.
func lifecycleQuestion(a *switchboard.Agent, to switchboard.AgentStatus) string {
	switch to {
	case switchboard.AgentSuspended:
		return "Suspend " + a.Name + "? They stop receiving work until activated again."
	case switchboard.AgentRetired:
		return "Retire " + a.Name + " for good? A retired agent cannot be activated again; their history is kept."
	}
	return ""
}

func (s *Server) webAgent(w http.ResponseWriter, r *http.Request) {
	a, err := s.Agents.FindAgentByID(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	var extras agentExtras
	s.takeReveal(r, &extras.agentReveal)
	s.renderAgent(w, r, http.StatusOK, a, &extras)
}

// loadFailed answers a failed lookup: 404 for what does not exist (or is
// hidden from the actor), 500 for the rest.
func (s *Server) loadFailed(w http.ResponseWriter, r *http.Request, err error) {
	if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
		s.notFound(w, r)
		return
	}
	s.internalError(w, r, err)
}

func (s *Server) renderAgent(w http.ResponseWriter, r *http.Request, status int, a *switchboard.Agent, extras *agentExtras) {
	ctx := r.Context()
	actor := switchboard.ActorFromContext(ctx)
	d := &agentData{
		Agent: a, Now: s.Now(), Admin: actor.IsAdmin(),
		Manage:     actor.IsAdmin() || actor.Role() == switchboard.RoleSupervisor,
		Attributes: displayJSON(a.Attributes, maxDisplayJSON), Metadata: displayJSON(a.Metadata, maxDisplayJSON),
	}
	if extras != nil {
		d.agentExtras = *extras
	}
	if d.TokenForm == nil {
		d.TokenForm = newForm(url.Values{"lifetime": {"0"}})
	}
	activity, err := s.loadAgentActivity(ctx, a, d.Now)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d.Activity = activity
	if d.Manage {
		d.Actions = lifecycleButtons(a)
	} else {
		d.ReadOnly = true
	}
	if d.Admin {
		if a.Kind == switchboard.MachineAgent {
			tokens, err := s.Agents.FindAgentTokens(ctx, a.ID, switchboard.TokenFilter{Limit: 20})
			if err != nil {
				s.internalError(w, r, err)
				return
			}
			d.Tokens = tokens
		}
	}
	if !d.ReadOnly {
		history, err := s.Audit.FindAuditEntries(ctx, switchboard.AuditFilter{AgentID: a.ID, Limit: 10})
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		for _, e := range history.Items {
			d.History = append(d.History, newAuditEntryView(e, d.Admin))
		}
	}
	section, title := "agents", a.Name
	if d.ReadOnly {
		section, title = "profile", "My profile"
	}
	s.render(w, r, status, "agent", page{Title: title, Section: section, Data: d})
}

// maxDisplayJSON bounds the JSON of one free-form object on a page: as much
// as the largest object accepted at input.
const maxDisplayJSON = switchboard.MaxAttributesBytes

// displayJSON writes a free-form object for a page: compact, so that its
// size is that of the stored value whatever its depth (indenting grows with
// the square of the depth), and cut after limit bytes, so that no stored
// value, however it got there, makes a page large.
func displayJSON(m map[string]any, limit int) string {
	s := compactJSON(m)
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes in all; the rest is not shown)", len(s))
}

// compactJSON writes a free-form object as compact JSON, or "" when it is
// empty.
func compactJSON(m map[string]any) string {
	if len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return string(b)
}

func (s *Server) webEditAgent(w http.ResponseWriter, r *http.Request) {
	a, err := s.Agents.FindAgentByID(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	if a.Status == switchboard.AgentRetired {
		s.renderError(w, r, http.StatusConflict, "Agent "+a.Name+" is retired; retired agents are kept unchanged for history.")
		return
	}
	s.renderAgentForm(w, r, http.StatusOK, agentToForm(a), a)
}

func agentToForm(a *switchboard.Agent) *form {
	v := url.Values{
		"name": {a.Name}, "email": {a.Email}, "phone": {a.Phone}, "capacity": {strconv.Itoa(a.Capacity)},
		"skills": {switchboard.FormatSkills(a.Skills)}, "attributes": {compactJSON(a.Attributes)},
		"version": {strconv.Itoa(a.Version)},
	}
	for _, t := range a.Teams {
		v.Add("teams", t.ID)
	}
	for _, c := range a.Notify {
		v.Add("notify", string(c))
	}
	return newForm(v)
}

func (s *Server) webUpdateAgent(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	current, err := s.Agents.FindAgentByID(ctx, chi.URLParam(r, "id"))
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	skills, capacity, attributes, notify := agentFormFields(f)
	if attributes == nil {
		attributes = map[string]any{}
	}
	teams, err := s.keepHiddenTeams(r, current, f.Values["teams"])
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	name, email, phone := f.Get("name"), f.Get("email"), f.Get("phone")
	version := f.Version()
	upd := switchboard.AgentUpdate{Name: &name, Phone: &phone, Skills: &skills, Capacity: &capacity, TeamIDs: &teams,
		Attributes: &attributes, Notify: &notify, IfVersion: version}
	if current.Kind == switchboard.MachineAgent {
		upd.Email = &email
	}
	if f.HasErrors() {
		// Report the rest of the form too, not only what failed to parse.
		if err := upd.Validate(current.Kind); err != nil {
			s.fail(r, f, err)
		}
		f.sortErrors(agentFields...)
		s.renderAgentForm(w, r, http.StatusUnprocessableEntity, f, current)
		return
	}
	a, err := s.Agents.UpdateAgent(ctx, current.ID, upd)
	if err != nil {
		status := s.fail(r, f, err)
		f.sortErrors(agentFields...)
		if switchboard.ErrorCode(err) == switchboard.EPRECONDITION {
			fresh := agentToForm(current)
			fresh.Summary = "Someone else changed this agent while you were editing. The form now shows their version; make your change again."
			f = fresh
		}
		s.renderAgentForm(w, r, status, f, current)
		return
	}
	s.setFlash(r, "success", "Changes to "+a.Name+" have been saved.")
	seeOther(w, r, "/agents/"+a.ID)
}

// keepHiddenTeams adds to the teams chosen in a form the agent's teams the
// actor cannot see (a supervisor sees only their own), which the form could
// not show and so must not drop.
func (s *Server) keepHiddenTeams(r *http.Request, a *switchboard.Agent, chosen []string) ([]string, error) {
	visible, err := s.visibleTeams(r)
	if err != nil {
		return nil, err
	}
	shown := make(map[string]bool, len(visible))
	for _, t := range visible {
		shown[t.ID] = true
	}
	for _, t := range a.Teams {
		if !shown[t.ID] {
			chosen = append(chosen, t.ID)
		}
	}
	return chosen, nil
}

func (s *Server) webAgentLifecycle(w http.ResponseWriter, r *http.Request) {
	i := slices.IndexFunc(switchboard.AgentActions, func(a switchboard.AgentAction) bool {
		return a.Name == chi.URLParam(r, "action")
	})
	if i < 0 {
		s.notFound(w, r)
		return
	}
	to := switchboard.AgentActions[i].To
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	current, err := s.Agents.FindAgentByID(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	if q := lifecycleQuestion(current, to); q != "" {
		c := confirmation{Title: title(switchboard.AgentActions[i].Name) + " " + current.Name + "?", Question: q,
			Button: title(switchboard.AgentActions[i].Name) + " " + current.Name, Danger: to == switchboard.AgentRetired,
			Cancel: "/agents/" + current.ID, Section: "agents"}
		if !s.confirmed(w, r, f, c) {
			return
		}
	}
	version, _ := strconv.Atoi(f.Get("version"))
	a, err := s.Agents.SetAgentStatus(r.Context(), current.ID, to, version)
	switch switchboard.ErrorCode(err) {
	case "":
		s.setFlash(r, "success", a.Name+" is now "+string(a.Status)+".")
	case switchboard.ECONFLICT, switchboard.EPRECONDITION:
		s.setFlash(r, "error", switchboard.ErrorMessage(err))
	default:
		s.loadFailed(w, r, err)
		return
	}
	seeOther(w, r, "/agents/"+chi.URLParam(r, "id"))
}

func (s *Server) webDeleteAgent(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	a, err := s.Agents.FindAgentByID(r.Context(), id)
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	if !s.confirmed(w, r, f, confirmation{Title: "Delete " + a.Name + "?", Question: "Delete " + a.Name +
		"? A pending agent has no history worth keeping. This cannot be undone.", Button: "Delete " + a.Name,
		Danger: true, Cancel: "/agents/" + id, Section: "agents"}) {
		return
	}
	err = s.Agents.DeleteAgent(r.Context(), id)
	switch switchboard.ErrorCode(err) {
	case "":
		s.setFlash(r, "success", "The pending agent has been deleted.")
		seeOther(w, r, "/agents")
	case switchboard.ECONFLICT:
		s.setFlash(r, "error", switchboard.ErrorMessage(err))
		seeOther(w, r, "/agents/"+id)
	default:
		s.loadFailed(w, r, err)
	}
}

func (s *Server) webReinviteAgent(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	a, err := s.Agents.FindAgentByID(ctx, chi.URLParam(r, "id"))
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	if a.Kind != switchboard.HumanAgent || a.UserID == "" {
		s.notFound(w, r)
		return
	}
	if !s.confirmed(w, r, f, confirmation{Title: "Make a new invitation link?", Question: "Make a new invitation link for " +
		a.Name + "? Earlier links stop working.", Button: "Make a new link", Cancel: "/agents/" + a.ID, Section: "agents"}) {
		return
	}
	if err := s.canMakeLinks(ctx); err != nil {
		s.setFlash(r, "error", switchboard.ErrorMessage(err))
		seeOther(w, r, "/agents/"+a.ID)
		return
	}
	inv, err := s.Users.InviteUser(ctx, a.UserID)
	if err != nil {
		if switchboard.ErrorCode(err) == switchboard.ECONFLICT {
			s.setFlash(r, "error", switchboard.ErrorMessage(err))
			seeOther(w, r, "/agents/"+a.ID)
			return
		}
		s.loadFailed(w, r, err)
		return
	}
	s.setFlash(r, "success", "A new invitation link has been made; earlier links no longer work.")
	s.revealOnAgentPage(w, r, a.ID, "", &agentReveal{Invitation: s.invitationJSON(ctx, inv)})
}

func (s *Server) webCreateAgentToken(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	a, err := s.Agents.FindAgentByID(ctx, chi.URLParam(r, "id"))
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	nt := switchboard.NewToken{Name: f.Get("name")}
	if !s.tokenLifetime(r, f, &nt) {
		s.renderAgent(w, r, http.StatusUnprocessableEntity, a, &agentExtras{TokenForm: f})
		return
	}
	t, secret, err := s.Agents.CreateAgentToken(ctx, a.ID, nt)
	if err != nil {
		s.renderAgent(w, r, s.fail(r, f, err), a, &agentExtras{TokenForm: f})
		return
	}
	s.setFlashAt(r, "success", "tokens", "Token “"+t.Name+"” has been issued for "+a.Name+".")
	s.revealOnAgentPage(w, r, a.ID, "#tokens", &agentReveal{NewToken: t, NewSecret: secret})
}

func (s *Server) webRevokeAgentToken(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	a, err := s.Agents.FindAgentByID(r.Context(), id)
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	if !s.confirmed(w, r, f, confirmation{Title: "Revoke a token of " + a.Name + "?", Question: "Revoke this token of " + a.Name +
		"? The agent's requests with it are refused at once. This cannot be undone.", Button: "Revoke the token", Danger: true,
		Cancel: "/agents/" + id + "#tokens", Section: "agents"}) {
		return
	}
	if err := s.Agents.RevokeAgentToken(r.Context(), id, chi.URLParam(r, "token_id")); err != nil {
		s.loadFailed(w, r, err)
		return
	}
	s.setFlashAt(r, "success", "tokens", "The token has been revoked; the agent's requests with it are refused from now on.")
	seeOther(w, r, "/agents/"+id+"#tokens")
}

// webProfile shows an agent-role user the agent they work as.
func (s *Server) webProfile(w http.ResponseWriter, r *http.Request) {
	actor := switchboard.ActorFromContext(r.Context())
	a, err := s.Agents.FindAgentByUserID(r.Context(), actor.UserID())
	if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
		s.render(w, r, http.StatusOK, "profile_none", page{Title: "My profile", Section: "profile"})
		return
	} else if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.renderAgent(w, r, http.StatusOK, a, nil)
}
