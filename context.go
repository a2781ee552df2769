package switchboard

import (
	"context"
	"net/netip"
)

// Actor is whoever makes a request: a user (through a browser session or a
// personal token), a machine agent (through an agent token), or the system
// itself (the command line, background jobs).
type Actor struct {
	User    *User
	Agent   *Agent
	TokenID string // the token the request came with, if any
	System  string // non-empty for the system actor: what part of it acts
}

// SystemActor is the actor for work the operator does on the command line or
// that the server does on its own.
func SystemActor(what string) *Actor { return &Actor{System: what} }

// IsSystem reports whether the actor is the system itself.
func (a *Actor) IsSystem() bool { return a != nil && a.System != "" }

// Role returns the role of a user actor, and "" for agents and the system.
func (a *Actor) Role() Role {
	if a == nil || a.User == nil {
		return ""
	}
	return a.User.Role
}

// IsAdmin reports whether the actor may do anything an admin may: an admin
// user, or the system.
func (a *Actor) IsAdmin() bool { return a.IsSystem() || a.Role() == RoleAdmin }

// UserID returns the user's ID for a user actor, else "".
func (a *Actor) UserID() string {
	if a == nil || a.User == nil {
		return ""
	}
	return a.User.ID
}

// Kind is "user", "agent" or "system".
func (a *Actor) Kind() string {
	switch {
	case a == nil:
		return ""
	case a.User != nil:
		return "user"
	case a.Agent != nil:
		return "agent"
	}
	return "system"
}

// String identifies the actor in logs and audit entries.
func (a *Actor) String() string {
	switch {
	case a == nil:
		return "anonymous"
	case a.User != nil:
		return "user:" + a.User.ID
	case a.Agent != nil:
		return "agent:" + a.Agent.ID
	}
	return "system:" + a.System
}

// RequestInfo describes the request a change comes from, for the audit log.
type RequestInfo struct {
	ID        string
	IP        string
	UserAgent string
}

// Network is the client network that throttles and lockouts count the
// request against: the address itself for IPv4, its /64 network for IPv6,
// where one subscriber holds a whole /64 and could otherwise take a fresh
// address for every attempt.
func (r RequestInfo) Network() string {
	addr, err := netip.ParseAddr(r.IP)
	if err != nil || addr.Unmap().Is4() {
		return r.IP
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return r.IP
	}
	return p.String()
}

type contextKey int

const (
	actorKey contextKey = iota
	requestInfoKey
)

// NewContextWithActor returns a context that carries the actor.
func NewContextWithActor(ctx context.Context, a *Actor) context.Context {
	return context.WithValue(ctx, actorKey, a)
}

// ActorFromContext returns the actor of ctx, or nil when anonymous.
func ActorFromContext(ctx context.Context) *Actor {
	a, _ := ctx.Value(actorKey).(*Actor)
	return a
}

// NewContextWithRequestInfo returns a context that carries request details.
func NewContextWithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey, info)
}

// RequestInfoFromContext returns the request details of ctx (zero if none).
func RequestInfoFromContext(ctx context.Context) RequestInfo {
	info, _ := ctx.Value(requestInfoKey).(RequestInfo)
	return info
}
