package server

import (
	"context"
	"time"

	"github.com/switchboardhq/switchboard"
)

// UserJSON is a user as the API shows it.
type UserJSON struct {
	ID          string     `json:"id"`
	Email       string     `json:"email" example:"ada@example.com"`
	Name        string     `json:"name" example:"Ada Lovelace"`
	Role        string     `json:"role" enum:"admin,supervisor,agent"`
	Status      string     `json:"status" enum:"active,disabled"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	LastLoginAt *time.Time `json:"last_login_at,omitempty"`
}

func newUserJSON(u *switchboard.User) UserJSON {
	return UserJSON{
		ID:          u.ID,
		Email:       u.Email,
		Name:        u.Name,
		Role:        string(u.Role),
		Status:      string(u.Status),
		CreatedAt:   u.CreatedAt.UTC(),
		UpdatedAt:   u.UpdatedAt.UTC(),
		LastLoginAt: apiTime(u.LastLoginAt),
	}
}

type listUsersInput struct {
	ListQuery
	Q      string `query:"q" maxLength:"200" doc:"Part of the e-mail address or name, any case."`
	Role   string `query:"role" enum:"admin,supervisor,agent"`
	Status string `query:"status" enum:"active,disabled"`
	Sort   string `query:"sort" enum:"email,-email,created_at,-created_at" default:"email" doc:"Order; a leading - reverses it."`
}

type listUsersOutput struct {
	Body ListBody[UserJSON]
}

func (s *Server) apiListUsers(ctx context.Context, in *listUsersInput) (*listUsersOutput, error) {
	p, err := s.Users.FindUsers(ctx, switchboard.UserFilter{
		Query: in.Q, Role: switchboard.Role(in.Role), Status: switchboard.UserStatus(in.Status),
		Sort: in.Sort, Limit: in.Limit, Cursor: in.Cursor,
	})
	if err != nil {
		return nil, err
	}
	return &listUsersOutput{Body: listBody(p, newUserJSON)}, nil
}

type createUserInput struct {
	Body struct {
		Email    string `json:"email" maxLength:"254" example:"grace@example.com"`
		Name     string `json:"name" maxLength:"200" example:"Grace Hopper"`
		Role     string `json:"role" enum:"admin,supervisor,agent"`
		Password string `json:"password" minLength:"12" maxLength:"256" doc:"The user's first password; they can change it. At least 12 characters, and not one of the common passwords attackers try first."`
	}
}

type createdUserOutput struct {
	Location string `header:"Location"`
	ETag     string `header:"ETag"`
	Body     UserJSON
}

func (s *Server) apiCreateUser(ctx context.Context, in *createUserInput) (*createdUserOutput, error) {
	u, err := s.Users.CreateUser(ctx, switchboard.NewUser{
		Email: in.Body.Email, Name: in.Body.Name, Role: switchboard.Role(in.Body.Role), Password: in.Body.Password,
	})
	if err != nil {
		return nil, err
	}
	return &createdUserOutput{Location: "/api/v1/users/" + u.ID, ETag: etag(u.Version), Body: newUserJSON(u)}, nil
}

type userIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (s *Server) apiGetUser(ctx context.Context, in *userIDInput) (*userOutput, error) {
	u, err := s.Users.FindUserByID(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &userOutput{ETag: etag(u.Version), Body: newUserJSON(u)}, nil
}

func (s *Server) apiInviteUser(ctx context.Context, in *userIDInput) (*linkOutput, error) {
	if err := s.canMakeLinks(ctx); err != nil {
		return nil, err
	}
	inv, err := s.Users.InviteUser(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &linkOutput{Body: *s.invitationJSON(ctx, inv)}, nil
}

func (s *Server) apiResetPassword(ctx context.Context, in *userIDInput) (*linkOutput, error) {
	if err := s.canMakeLinks(ctx); err != nil {
		return nil, err
	}
	inv, err := s.Users.IssuePasswordReset(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &linkOutput{Body: *s.invitationJSON(ctx, inv)}, nil
}

type updateUserInput struct {
	ID      string `path:"id" maxLength:"64"`
	IfMatch string `header:"If-Match" doc:"The ETag from a previous read; the update fails with 412 if the user changed since."`
	Body    struct {
		Name   *string `json:"name,omitempty" maxLength:"200"`
		Role   *string `json:"role,omitempty" enum:"admin,supervisor,agent" doc:"Changing the role signs the user out of the web UI."`
		Status *string `json:"status,omitempty" enum:"active,disabled" doc:"Disabling signs the user out and revokes their API tokens for good (enabling them again does not bring the tokens back). Disabling or demoting revokes the enrollment keys they made and could no longer make."`
	}
}

func (s *Server) apiUpdateUser(ctx context.Context, in *updateUserInput) (*userOutput, error) {
	upd := switchboard.UserUpdate{Name: in.Body.Name, IfVersion: ifMatchVersion(in.IfMatch)}
	if in.Body.Role != nil {
		r := switchboard.Role(*in.Body.Role)
		upd.Role = &r
	}
	if in.Body.Status != nil {
		st := switchboard.UserStatus(*in.Body.Status)
		upd.Status = &st
	}
	u, err := s.Users.UpdateUser(ctx, in.ID, upd)
	if err != nil {
		return nil, err
	}
	return &userOutput{ETag: etag(u.Version), Body: newUserJSON(u)}, nil
}
