package switchboard

import "slices"

// The rules of who may see and change what. Admins (and the system) reach
// everything; supervisors the agents, keys and events of the teams they
// supervise; an agent, or the user of a human agent, only themselves. The
// store applies these rules to its queries and the live streams to their
// events, so that both answer the same.

// ErrSignInFirst is the error for a request that needs an actor and has none.
var ErrSignInFirst = &Error{Code: EUNAUTHORIZED, Message: "Sign in first."}

// Scope is the part of the agents an actor may reach.
type Scope struct {
	All          bool   // every agent: admins and the system
	SupervisorID string // the agents of the teams this user supervises
	UserID       string // the agent linked to this user (agent-role users)
	AgentID      string // this agent only (machine agents)
}

// ScopeOf returns the scope of an actor. EUNAUTHORIZED without one.
func ScopeOf(a *Actor) (Scope, error) {
	switch {
	case a == nil:
		return Scope{}, ErrSignInFirst
	case a.IsAdmin():
		return Scope{All: true}, nil
	case a.Agent != nil:
		return Scope{AgentID: a.Agent.ID}, nil
	case a.Role() == RoleSupervisor:
		return Scope{SupervisorID: a.User.ID}, nil
	}
	return Scope{UserID: a.UserID()}, nil
}

// Manages reports whether the scope may change agents, not only see them.
func (s Scope) Manages() bool { return s.All || s.SupervisorID != "" }

// RequireAdmin refuses anyone but an admin or the system.
// EUNAUTHORIZED, EFORBIDDEN.
func RequireAdmin(a *Actor) error {
	switch {
	case a == nil:
		return ErrSignInFirst
	case !a.IsAdmin():
		return &Error{Code: EFORBIDDEN, Message: "Only admins may do this."}
	}
	return nil
}

// RequireManager refuses anyone but admins and supervisors, saying what
// they tried to do ("manage agents"). EUNAUTHORIZED, EFORBIDDEN.
func RequireManager(a *Actor, what string) (Scope, error) {
	sc, err := ScopeOf(a)
	if err != nil {
		return sc, err
	}
	if !sc.Manages() {
		return sc, &Error{Code: EFORBIDDEN, Message: "Only admins and supervisors may " + what + "."}
	}
	return sc, nil
}

// CanSeeUser reports whether an actor may read a user's account: admins
// any, everyone else their own.
func CanSeeUser(a *Actor, userID string) bool {
	return a != nil && (a.IsAdmin() || a.UserID() == userID)
}

// EventViewer is what one actor may see of the event log.
type EventViewer struct {
	All bool
	// UserID is the viewing user: they see what they did themselves.
	UserID string
	// Teams are the teams a supervisor supervises.
	Teams []string
	// AgentID is the viewer's own agent: they see the events about it.
	AgentID string
}

// CanSee reports whether the viewer may see e: admins every event;
// supervisors those of their teams and their own actions; agents those
// about themselves. Nothing else, whatever the event's type.
func (v *EventViewer) CanSee(e *Event) bool {
	switch {
	case v == nil:
		return false
	case v.All:
		return true
	case v.UserID != "" && e.Actor.Type == "user" && e.Actor.ID == v.UserID:
		return true
	case v.AgentID != "" && e.AgentID == v.AgentID:
		return true
	}
	for _, t := range e.TeamIDs {
		if slices.Contains(v.Teams, t) {
			return true
		}
	}
	return false
}

// TeamsMayChange reports whether e may change which teams a supervisor
// supervises, so that a stream's viewer must be looked up again.
func (e *Event) TeamsMayChange() bool {
	switch e.Type {
	case AuditTeamCreated, AuditTeamUpdated, AuditTeamDeleted, AuditUserUpdated:
		return true
	}
	return false
}
