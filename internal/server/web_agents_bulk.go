package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/switchboardhq/switchboard"
)

// bulkActionLabel is how the bulk form names an action.
func bulkActionLabel(action string) string {
	switch action {
	case "activate":
		return "Activate or approve"
	case switchboard.BulkAddToTeam:
		return "Add to team"
	case switchboard.BulkRemoveFromTeam:
		return "Remove from team"
	}
	return title(action)
}

// bulkConfirmed are the actions that ask first: they take agents out of
// work.
func bulkConfirmed(action string) bool { return action == "suspend" || action == "retire" }

// bulkShown is how many agents the confirmation page names.
const bulkShown = 100

// bulkData feeds the confirmation page of a bulk action.
type bulkData struct {
	Action string
	Verb   string // "Suspend"
	Count  int
	Agents []*switchboard.Agent // the first bulkShown
	More   int
	Form   url.Values // what the confirming form sends again
	Query  string     // the list's filter, to go back to
	Team   string
}

// webBulkAgents applies an action to the agents chosen on the list: those
// ticked (ids), the page's (page_ids, with scope=page) or all the list's
// filter matches (scope=all). Suspending and retiring are confirmed on a
// page of their own first, which works without scripts.
func (s *Server) webBulkAgents(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	filterQuery := keep(r.URL.Query(), agentListParams...)
	back := "/agents"
	if len(filterQuery) > 0 {
		back += "?" + filterQuery.Encode()
	}
	action := f.Get("action")
	b := switchboard.AgentBulk{Action: action, TeamID: strings.TrimSpace(f.Get("team_id"))}
	if b.TeamID != "" && action != switchboard.BulkAddToTeam && action != switchboard.BulkRemoveFromTeam {
		b.TeamID = "" // chosen in the form, but not for this action
	}
	scope := f.Get("scope")
	switch scope {
	case "all":
		filter, err := parseAgentList(filterQuery)
		if err != nil {
			s.renderError(w, r, http.StatusBadRequest, switchboard.ErrorMessage(err))
			return
		}
		b.Filter = &filter
	case "page":
		b.IDs = f.Values["page_ids"]
	default:
		scope = "selected"
		b.IDs = f.Values["ids"]
	}
	switch {
	case !slices.Contains(switchboard.BulkActions, action):
		s.setFlash(r, "error", "Choose what to do with the selected agents.")
		seeOther(w, r, back)
		return
	case b.Filter == nil && len(b.IDs) == 0:
		s.setFlash(r, "error", "Select at least one agent first.")
		seeOther(w, r, back)
		return
	case (action == switchboard.BulkAddToTeam || action == switchboard.BulkRemoveFromTeam) && b.TeamID == "":
		s.setFlash(r, "error", "Choose the team to "+strings.ToLower(bulkActionLabel(action))+".")
		seeOther(w, r, back)
		return
	}
	if bulkConfirmed(action) && f.Get("confirm") != "yes" {
		s.renderBulkConfirm(w, r, &b, scope, filterQuery)
		return
	}
	res, err := s.Agents.BulkAgents(ctx, b)
	switch switchboard.ErrorCode(err) {
	case "":
		s.setFlash(r, "success", bulkDone(res, b.TeamID, s.teamName(r, b.TeamID)))
	case switchboard.EINVALID, switchboard.ECONFLICT, switchboard.EFORBIDDEN:
		s.setFlash(r, "error", bulkRefusal(err))
	default:
		s.internalError(w, r, err)
		return
	}
	seeOther(w, r, back)
}

// renderBulkConfirm shows how many agents, and which, an action would
// change, with the form that does it.
func (s *Server) renderBulkConfirm(w http.ResponseWriter, r *http.Request, b *switchboard.AgentBulk, scope string, filterQuery url.Values) {
	ctx := r.Context()
	d := &bulkData{Action: b.Action, Verb: title(b.Action), Query: filterQuery.Encode(),
		Form: url.Values{"action": {b.Action}, "scope": {scope}, "confirm": {"yes"}}}
	if b.Filter != nil {
		n, err := s.Agents.CountMatchingAgents(ctx, *b.Filter)
		if err != nil {
			s.loadFailed(w, r, err)
			return
		}
		filter := *b.Filter
		filter.Limit = bulkShown
		p, err := s.Agents.FindAgents(ctx, filter)
		if err != nil {
			s.loadFailed(w, r, err)
			return
		}
		d.Count, d.Agents = n, p.Items
	} else {
		ids := dedupeStrings(b.IDs)
		if len(ids) > switchboard.MaxBulkAgents {
			s.setFlash(r, "error", fmt.Sprintf("Choose at most %d agents at once.", switchboard.MaxBulkAgents))
			seeOther(w, r, "/agents?"+d.Query)
			return
		}
		field := "ids"
		if scope == "page" {
			field = "page_ids"
		}
		d.Form[field] = ids
		d.Count = len(ids)
		for _, id := range ids {
			if len(d.Agents) == bulkShown {
				break
			}
			// An agent out of sight is left out here; the action itself
			// names it when it refuses.
			if a, err := s.Agents.FindAgentByID(ctx, id); err == nil {
				d.Agents = append(d.Agents, a)
			}
		}
	}
	d.More = max(d.Count-len(d.Agents), 0)
	s.render(w, r, http.StatusOK, "agents_bulk", page{Title: fmt.Sprintf("%s %d agents?", d.Verb, d.Count), Section: "agents", Data: d})
}

func dedupeStrings(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// teamName names a team for a message, or "" when it cannot be read.
func (s *Server) teamName(r *http.Request, id string) string {
	if id == "" {
		return ""
	}
	t, err := s.Teams.FindTeamByID(r.Context(), id)
	if err != nil {
		return ""
	}
	return t.Name
}

// bulkDone says what a bulk action did: "Suspended 12 agents."
func bulkDone(res *switchboard.BulkResult, teamID, teamName string) string {
	n := len(res.Changed)
	agents := plural(n, "agent", "agents")
	var msg string
	switch res.Action {
	case "activate":
		msg = "Activated " + agents
	case "suspend":
		msg = "Suspended " + agents
	case "retire":
		msg = "Retired " + agents
	case switchboard.BulkAddToTeam:
		msg = "Added " + agents + " to " + orElse(teamName, "the team")
	case switchboard.BulkRemoveFromTeam:
		msg = "Removed " + agents + " from " + orElse(teamName, "the team")
	}
	if res.Unchanged > 0 {
		msg += fmt.Sprintf("; %s already %s", plural(res.Unchanged, "agent was", "agents were"), map[bool]string{true: "in it", false: "out of it"}[res.Action == switchboard.BulkAddToTeam])
	}
	return msg + "."
}

func orElse(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// bulkRefusal is the message of a refused bulk action, with the first few
// agents it refused and why.
func bulkRefusal(err error) string {
	msg := switchboard.ErrorMessage(err)
	fields := switchboard.ErrorFields(err)
	if len(fields) < 2 {
		return msg
	}
	var reasons []string
	for _, f := range fields[:min(len(fields), 5)] {
		reasons = append(reasons, f.Message)
	}
	msg = strings.TrimSuffix(msg, "; see the errors.") + ": " + strings.Join(reasons, "; ")
	if len(fields) > 5 {
		msg += fmt.Sprintf("; and %d more", len(fields)-5)
	}
	return msg + "."
}
