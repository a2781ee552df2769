package server

import (
	"net/http"

	"github.com/switchboardhq/switchboard"
)

type homeData struct {
	Users int
}

// webHome is the dashboard. Until agents, queues and tasks exist, it shows
// what there is and where to go next.
func (s *Server) webHome(w http.ResponseWriter, r *http.Request) {
	d := &homeData{}
	if switchboard.ActorFromContext(r.Context()).IsAdmin() {
		n, err := s.Users.CountUsers(r.Context())
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		d.Users = n
	}
	s.render(w, r, http.StatusOK, "home", page{Title: "Dashboard", Section: "home", Data: d})
}
