package server

import (
	"net/http"

	"github.com/switchboardhq/switchboard"
)

type homeData struct {
	Users      int
	Agents     int
	ByStatus   map[string]int
	ByPresence map[string]int
}

// webHome is the dashboard: for admins and supervisors, the agents they look
// after at a glance; live figures come with presence and routing. Agents go
// to their work.
func (s *Server) webHome(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor := switchboard.ActorFromContext(ctx)
	d := &homeData{}
	if actor.Role() == switchboard.RoleAgent {
		// People who take work start with it; without an agent, their
		// profile says how they get one.
		if s.myAgent(r) != nil {
			seeOther(w, r, "/my-work")
		} else {
			seeOther(w, r, "/profile")
		}
		return
	}
	counts, err := s.Agents.CountAgents(ctx)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d.Agents, d.ByStatus, d.ByPresence = counts.Total, map[string]int{}, map[string]int{}
	for k, n := range counts.ByStatus {
		d.ByStatus[string(k)] = n
	}
	for k, n := range counts.ByPresence {
		d.ByPresence[string(k)] = n
	}
	if actor.IsAdmin() {
		if d.Users, err = s.Users.CountUsers(ctx); err != nil {
			s.internalError(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "home", page{Title: "Dashboard", Section: "home", Data: d})
}
