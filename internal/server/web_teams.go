package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

type teamsData struct {
	Filter url.Values // the list's query, for links that keep it
	Page   *switchboard.Page[*switchboard.Team]
	Cursor string
}

func (s *Server) webTeams(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	filter := switchboard.TeamFilter{Query: strings.TrimSpace(q.Get("q")), Cursor: q.Get("cursor")}
	p, err := s.Teams.FindTeams(r.Context(), filter)
	if err != nil {
		if switchboard.ErrorCode(err) == switchboard.EINVALID {
			s.renderError(w, r, http.StatusBadRequest, switchboard.ErrorMessage(err))
			return
		}
		s.internalError(w, r, err)
		return
	}
	base := url.Values{}
	if filter.Query != "" {
		base.Set("q", filter.Query)
	}
	s.render(w, r, http.StatusOK, "teams", page{Title: "Teams", Section: "teams", Data: &teamsData{
		Filter: base, Page: p, Cursor: filter.Cursor,
	}})
}

// supervisorChoices lists the users who may supervise a team: active
// supervisors and admins, by name.
func (s *Server) supervisorChoices(ctx context.Context) ([]option, error) {
	var opts []option
	for _, role := range []switchboard.Role{switchboard.RoleSupervisor, switchboard.RoleAdmin} {
		p, err := s.Users.FindUsers(ctx, switchboard.UserFilter{Role: role, Status: switchboard.UserActive, Limit: switchboard.MaxPageLimit})
		if err != nil {
			return nil, err
		}
		for _, u := range p.Items {
			opts = append(opts, option{Value: u.ID, Label: u.Name + " (" + u.Email + ", " + string(u.Role) + ")"})
		}
	}
	slices.SortFunc(opts, func(a, b option) int { return strings.Compare(strings.ToLower(a.Label), strings.ToLower(b.Label)) })
	return opts, nil
}

type teamNewData struct {
	Supervisors []option
}

func (s *Server) webNewTeam(w http.ResponseWriter, r *http.Request) {
	s.renderNewTeam(w, r, http.StatusOK, newForm(nil))
}

func (s *Server) renderNewTeam(w http.ResponseWriter, r *http.Request, status int, f *form) {
	sups, err := s.supervisorChoices(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, status, "team_new", page{Title: "New team", Section: "teams", Form: f, Data: &teamNewData{Supervisors: sups}})
}

func (s *Server) webCreateTeam(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	t, err := s.Teams.CreateTeam(r.Context(), switchboard.NewTeam{
		Name: f.Get("name"), Description: f.Get("description"), SupervisorIDs: f.Values["supervisors"],
	})
	if err != nil {
		s.renderNewTeam(w, r, s.fail(r, f, err), f)
		return
	}
	s.setFlash(r, "success", "Team "+t.Name+" has been created. Add its agents below.")
	seeOther(w, r, "/teams/"+t.ID)
}

// teamMembersPage is how many members the team page lists at once.
const teamMembersPage = 50

type teamData struct {
	Team  *switchboard.Team
	Admin bool
	// Members is one page of the team's agents; MembersQuery keeps the
	// page's other parameters (the add search) in the pager's links.
	Members      *switchboard.Page[*switchboard.Agent]
	MembersQuery url.Values
	Cursor       string
	// For admins: the edit form's choices and the "Add agents" search,
	// whose Candidates are the matching agents not yet in the team.
	Supervisors []option
	AddQuery    string
	Candidates  []*switchboard.Agent
	// Hidden counts matches left out because they are members or retired;
	// Truncated says that there are more matches than were looked at.
	Hidden    int
	Truncated bool
}

func (s *Server) webTeam(w http.ResponseWriter, r *http.Request) {
	t, err := s.Teams.FindTeamByID(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	s.renderTeam(w, r, http.StatusOK, t, teamForm(t))
}

// teamForm is the edit form filled in with the team as it is.
func teamForm(t *switchboard.Team) *form {
	f := newForm(url.Values{"name": {t.Name}, "description": {t.Description}, "version": {strconv.Itoa(t.Version)}})
	for _, u := range t.Supervisors {
		f.Values.Add("supervisors", u.ID)
	}
	return f
}

func (s *Server) renderTeam(w http.ResponseWriter, r *http.Request, status int, t *switchboard.Team, f *form) {
	ctx := r.Context()
	q := r.URL.Query()
	d := &teamData{Team: t, Admin: switchboard.ActorFromContext(ctx).IsAdmin(), MembersQuery: url.Values{},
		Cursor: q.Get("cursor"), AddQuery: strings.TrimSpace(q.Get("add_q"))}
	members, cursor, err := findFromCursor(d.Cursor, func(cursor string) (*switchboard.Page[*switchboard.Agent], error) {
		return s.Agents.FindAgents(ctx, switchboard.AgentFilter{TeamID: t.ID, Limit: teamMembersPage, Cursor: cursor})
	})
	d.Cursor = cursor
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d.Members = members
	if d.Admin {
		if d.Supervisors, err = s.supervisorChoices(ctx); err != nil {
			s.internalError(w, r, err)
			return
		}
		if d.AddQuery != "" {
			d.MembersQuery.Set("add_q", d.AddQuery)
			found, err := s.Agents.FindAgents(ctx, switchboard.AgentFilter{Query: d.AddQuery, Limit: teamMembersPage})
			if err != nil && switchboard.ErrorCode(err) != switchboard.EINVALID {
				s.internalError(w, r, err)
				return
			}
			if found != nil {
				d.Truncated = found.NextCursor != ""
				for _, a := range found.Items {
					if a.Status == switchboard.AgentRetired || slices.Contains(a.TeamIDs(), t.ID) {
						d.Hidden++
						continue
					}
					d.Candidates = append(d.Candidates, a)
				}
			}
		}
	}
	s.render(w, r, status, "team", page{Title: t.Name, Section: "teams", Form: f, Data: d})
}

func (s *Server) webUpdateTeam(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id := chi.URLParam(r, "id")
	name, description := f.Get("name"), f.Get("description")
	// No box ticked means no supervisors, not "leave them as they are".
	sups := append([]string{}, f.Values["supervisors"]...)
	version := f.Version()
	t, err := s.Teams.UpdateTeam(ctx, id, switchboard.TeamUpdate{Name: &name, Description: &description, SupervisorIDs: &sups, IfVersion: version})
	if err != nil {
		current, ferr := s.Teams.FindTeamByID(ctx, id)
		if ferr != nil {
			s.loadFailed(w, r, ferr)
			return
		}
		status := s.fail(r, f, err)
		if switchboard.ErrorCode(err) == switchboard.EPRECONDITION {
			f = teamForm(current)
			f.Summary = "Someone else changed this team while you were editing. The page now shows their version; make your change again."
		}
		s.renderTeam(w, r, status, current, f)
		return
	}
	s.setFlash(r, "success", "Changes to "+t.Name+" have been saved.")
	seeOther(w, r, "/teams/"+t.ID)
}

// changeMembers adds the ticked agents or removes one, and goes back to the
// team page, keeping the add search so that more agents can be added.
func (s *Server) changeMembers(w http.ResponseWriter, r *http.Request, add bool) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	team, err := s.Teams.FindTeamByID(r.Context(), id)
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	back := teamBack(id, f)
	var upd switchboard.TeamUpdate
	var who, done, place string
	if add {
		for _, agentID := range f.Values["agent_id"] {
			if agentID = strings.TrimSpace(agentID); agentID != "" {
				upd.AddMembers = append(upd.AddMembers, agentID)
			}
		}
		if len(upd.AddMembers) == 0 {
			s.setFlashAt(r, "error", "add-agents", "Tick the agents to add first.")
			seeOther(w, r, back+"#add-agents")
			return
		}
		who, done, place = s.agentName(r, upd.AddMembers[0]), " added to ", "add-agents"
		if n := len(upd.AddMembers); n > 1 {
			who = fmt.Sprintf("%d agents", n)
		}
	} else {
		agentID := chi.URLParam(r, "agent_id")
		who, done, place = s.agentName(r, agentID), " removed from ", "members"
		if !s.confirmed(w, r, f, confirmation{Title: "Remove " + who + " from " + team.Name + "?", Question: "Remove " + who +
			" from " + team.Name + "? The agent stays in Switchboard, only outside this team.", Button: "Remove " + who,
			Danger: true, Cancel: back + "#members", Section: "teams"}) {
			return
		}
		upd.RemoveMembers = []string{agentID}
	}
	t, err := s.Teams.UpdateTeam(r.Context(), id, upd)
	switch switchboard.ErrorCode(err) {
	case "":
		s.setFlashAt(r, "success", place, who+done+t.Name+".")
	case switchboard.ENOTFOUND:
		s.notFound(w, r)
		return
	case switchboard.EFORBIDDEN:
		s.renderError(w, r, http.StatusForbidden, switchboard.ErrorMessage(err))
		return
	case switchboard.EINVALID, switchboard.ECONFLICT:
		// Like a retired agent: say why on the page the button was on.
		s.setFlashAt(r, "error", place, switchboard.ErrorMessage(err))
	default:
		s.internalError(w, r, err)
		return
	}
	seeOther(w, r, back+"#"+place)
}

// agentName names an agent in a message; one that cannot be found is
// reported by the change itself.
func (s *Server) agentName(r *http.Request, id string) string {
	if a, err := s.Agents.FindAgentByID(r.Context(), id); err == nil {
		return a.Name
	}
	return "The agent"
}

// teamBack is the team page with the add search of the form f.
func teamBack(id string, f *form) string {
	back := "/teams/" + id
	if q := strings.TrimSpace(f.Get("add_q")); q != "" {
		back += "?" + url.Values{"add_q": {q}}.Encode()
	}
	return back
}

func (s *Server) webAddTeamMember(w http.ResponseWriter, r *http.Request) {
	s.changeMembers(w, r, true)
}

func (s *Server) webRemoveTeamMember(w http.ResponseWriter, r *http.Request) {
	s.changeMembers(w, r, false)
}

func (s *Server) webDeleteTeam(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	t, err := s.Teams.FindTeamByID(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	if !s.confirmed(w, r, f, confirmation{Title: "Delete the team " + t.Name + "?", Question: "Delete the team " + t.Name +
		"? It and its supervisors' access to it go away; its agents stay in Switchboard, without the team. This cannot be undone.",
		Button: "Delete " + t.Name, Danger: true, Cancel: "/teams/" + t.ID, Section: "teams"}) {
		return
	}
	if err := s.Teams.DeleteTeam(r.Context(), t.ID); err != nil {
		s.loadFailed(w, r, err)
		return
	}
	s.setFlash(r, "success", "The team has been deleted. Its agents remain, without it.")
	seeOther(w, r, "/teams")
}
