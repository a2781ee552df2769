package server

import (
	"context"
	"time"

	"github.com/switchboardhq/switchboard"
)

// TeamJSON is a team as the API shows it.
type TeamJSON struct {
	ID          string        `json:"id"`
	Name        string        `json:"name" example:"Billing"`
	Description string        `json:"description"`
	Supervisors []UserRefJSON `json:"supervisors" nullable:"false"`
	MemberCount int           `json:"member_count" doc:"List the members with GET /api/v1/agents?team={id}."`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
}

// UserRefJSON names a user.
type UserRefJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

func newTeamJSON(t *switchboard.Team) TeamJSON {
	sups := make([]UserRefJSON, len(t.Supervisors))
	for i, u := range t.Supervisors {
		sups[i] = UserRefJSON{ID: u.ID, Name: u.Name, Email: u.Email}
	}
	return TeamJSON{ID: t.ID, Name: t.Name, Description: t.Description, Supervisors: sups, MemberCount: t.MemberCount,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
}

type listTeamsInput struct {
	ListQuery
	Q string `query:"q" maxLength:"100" doc:"Part of the name, any case."`
}

type listTeamsOutput struct {
	Body ListBody[TeamJSON]
}

func (s *Server) apiListTeams(ctx context.Context, in *listTeamsInput) (*listTeamsOutput, error) {
	p, err := s.Teams.FindTeams(ctx, switchboard.TeamFilter{Query: in.Q, Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, err
	}
	return &listTeamsOutput{Body: listBody(p, newTeamJSON)}, nil
}

type createTeamInput struct {
	Body struct {
		Name        string   `json:"name" maxLength:"100" example:"Billing"`
		Description string   `json:"description,omitempty" maxLength:"1000"`
		Supervisors []string `json:"supervisors,omitempty" maxItems:"50" doc:"IDs of users with the supervisor or admin role."`
	}
}

type teamOutput struct {
	ETag string `header:"ETag"`
	Body TeamJSON
}

type createdTeamOutput struct {
	Location string `header:"Location"`
	ETag     string `header:"ETag"`
	Body     TeamJSON
}

func (s *Server) apiCreateTeam(ctx context.Context, in *createTeamInput) (*createdTeamOutput, error) {
	t, err := s.Teams.CreateTeam(ctx, switchboard.NewTeam{Name: in.Body.Name, Description: in.Body.Description, SupervisorIDs: in.Body.Supervisors})
	if err != nil {
		return nil, err
	}
	return &createdTeamOutput{Location: "/api/v1/teams/" + t.ID, ETag: etag(t.Version), Body: newTeamJSON(t)}, nil
}

type teamIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (s *Server) apiGetTeam(ctx context.Context, in *teamIDInput) (*teamOutput, error) {
	t, err := s.Teams.FindTeamByID(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &teamOutput{ETag: etag(t.Version), Body: newTeamJSON(t)}, nil
}

type updateTeamInput struct {
	ID      string `path:"id" maxLength:"64"`
	IfMatch string `header:"If-Match" doc:"The ETag from a previous read; 412 if the team changed since."`
	Body    struct {
		Name          *string   `json:"name,omitempty" maxLength:"100"`
		Description   *string   `json:"description,omitempty" maxLength:"1000"`
		Supervisors   *[]string `json:"supervisors,omitempty" maxItems:"50" doc:"Replaces all supervisors."`
		AddMembers    []string  `json:"add_members,omitempty" maxItems:"1000" doc:"Agent IDs to add."`
		RemoveMembers []string  `json:"remove_members,omitempty" maxItems:"1000" doc:"Agent IDs to remove."`
	}
}

func (s *Server) apiUpdateTeam(ctx context.Context, in *updateTeamInput) (*teamOutput, error) {
	t, err := s.Teams.UpdateTeam(ctx, in.ID, switchboard.TeamUpdate{
		Name: in.Body.Name, Description: in.Body.Description, SupervisorIDs: in.Body.Supervisors,
		AddMembers: in.Body.AddMembers, RemoveMembers: in.Body.RemoveMembers, IfVersion: ifMatchVersion(in.IfMatch),
	})
	if err != nil {
		return nil, err
	}
	return &teamOutput{ETag: etag(t.Version), Body: newTeamJSON(t)}, nil
}

func (s *Server) apiDeleteTeam(ctx context.Context, in *teamIDInput) (*struct{}, error) {
	return &struct{}{}, s.Teams.DeleteTeam(ctx, in.ID)
}
