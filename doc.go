// Package switchboard is the domain of Switchboard, a self-hosted server for
// managing agents: the people and programs that receive work. It owns the
// nouns (Agent and its lifecycle, Team, User, APIToken, EnrollmentKey,
// Invitation, Event, AuditEntry), the service interfaces through which the
// rest of the program reads and changes them (AgentService, TeamService,
// UserService...), the error codes every service returns, the checks of
// input (validate.go), and the rules of who may see and change what
// (policy.go).
//
// Arrows point inward: this package imports only the standard library, and
// knows nothing of storage or transport (SQL, HTTP statuses, routes, pages).
// Every package under internal/ imports it and reaches its siblings only
// through its interfaces; only cmd/switchboard knows the concrete types and
// wires them together.
package switchboard
