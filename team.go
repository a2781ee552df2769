package switchboard

import (
	"context"
	"strings"
	"time"
)

// UserRef names a user shown beside something else, like a team's supervisor.
type UserRef struct {
	ID    string
	Name  string
	Email string
}

// Team is a named group of agents with the supervisors who manage them.
type Team struct {
	ID          string
	Name        string
	Description string
	Supervisors []UserRef // sorted by name
	MemberCount int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int
}

// Limits on team input.
const (
	MaxTeamNameLength        = 100
	MaxTeamDescriptionLength = 1000
	MaxSupervisorsPerTeam    = 50
	MaxMembersPerChange      = 1000
)

// NewTeam is the input for creating a team.
type NewTeam struct {
	Name          string
	Description   string
	SupervisorIDs []string
}

// Validate normalizes and checks the input.
func (t *NewTeam) Validate() error {
	var v Validation
	t.Name = strings.TrimSpace(t.Name)
	t.Description = strings.TrimSpace(t.Description)
	t.SupervisorIDs = dedupe(t.SupervisorIDs)
	validateTeamName(&v, t.Name)
	validateTeamDescription(&v, t.Description)
	if len(t.SupervisorIDs) > MaxSupervisorsPerTeam {
		v.Add("supervisors", "A team can have at most %d supervisors.", MaxSupervisorsPerTeam)
	}
	ValidateIDs(&v, "supervisors", t.SupervisorIDs)
	return v.Err()
}

// TeamUpdate changes a team. Supervisors replaces the whole list; members
// are added and removed by ID, since a team may have thousands.
type TeamUpdate struct {
	Name          *string
	Description   *string
	SupervisorIDs *[]string
	AddMembers    []string
	RemoveMembers []string
	IfVersion     int
}

// Validate normalizes and checks the fields that are set.
func (u *TeamUpdate) Validate() error {
	var v Validation
	if u.Name != nil {
		*u.Name = strings.TrimSpace(*u.Name)
		validateTeamName(&v, *u.Name)
	}
	if u.Description != nil {
		*u.Description = strings.TrimSpace(*u.Description)
		validateTeamDescription(&v, *u.Description)
	}
	if u.SupervisorIDs != nil {
		*u.SupervisorIDs = dedupe(*u.SupervisorIDs)
		if len(*u.SupervisorIDs) > MaxSupervisorsPerTeam {
			v.Add("supervisors", "A team can have at most %d supervisors.", MaxSupervisorsPerTeam)
		}
		ValidateIDs(&v, "supervisors", *u.SupervisorIDs)
	}
	u.AddMembers, u.RemoveMembers = dedupe(u.AddMembers), dedupe(u.RemoveMembers)
	if len(u.AddMembers)+len(u.RemoveMembers) > MaxMembersPerChange {
		v.Add("add_members", "Change at most %d members at once.", MaxMembersPerChange)
	}
	ValidateIDs(&v, "add_members", u.AddMembers)
	ValidateIDs(&v, "remove_members", u.RemoveMembers)
	return v.Err()
}

// TeamFilter selects teams for a list, sorted by name.
type TeamFilter struct {
	Query  string
	Limit  int
	Cursor string
}

// TeamService manages teams. Admins manage them all; supervisors see the
// teams they supervise and no others.
type TeamService interface {
	// FindTeamByID returns a team. ENOTFOUND.
	FindTeamByID(ctx context.Context, id string) (*Team, error)

	// FindTeams returns one page of teams, by name. EINVALID.
	FindTeams(ctx context.Context, filter TeamFilter) (*Page[*Team], error)

	// CreateTeam creates a team; admins only. Supervisors must be users in
	// role supervisor or admin. EINVALID, ECONFLICT (name taken), EFORBIDDEN.
	CreateTeam(ctx context.Context, t NewTeam) (*Team, error)

	// UpdateTeam changes a team; admins only. A supervisor taken off the
	// team loses the enrollment keys they made for it (unless an admin).
	// EINVALID, ENOTFOUND, ECONFLICT, EFORBIDDEN, EPRECONDITION.
	UpdateTeam(ctx context.Context, id string, upd TeamUpdate) (*Team, error)

	// DeleteTeam deletes a team; its agents stay, without it. Admins only.
	// ENOTFOUND, EFORBIDDEN.
	DeleteTeam(ctx context.Context, id string) error
}
