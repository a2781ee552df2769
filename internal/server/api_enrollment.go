package server

import (
	"context"
	"time"

	"github.com/switchboardhq/switchboard"
)

// EnrollmentKeyJSON is an enrollment key as the API shows it, without its
// secret.
type EnrollmentKeyJSON struct {
	ID          string     `json:"id"`
	Name        string     `json:"name" example:"build fleet"`
	Prefix      string     `json:"prefix" example:"sbe_4fj2k9aa"`
	Status      string     `json:"status" enum:"active,expired,exhausted,revoked"`
	TeamID      string     `json:"team_id,omitempty"`
	TeamName    string     `json:"team_name,omitempty"`
	AutoApprove bool       `json:"auto_approve" doc:"Enrolled agents start active instead of pending."`
	MaxUses     int        `json:"max_uses,omitempty" doc:"Absent for no limit."`
	Uses        int        `json:"uses"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

func (s *Server) newKeyJSON(k *switchboard.EnrollmentKey) EnrollmentKeyJSON {
	return EnrollmentKeyJSON{
		ID: k.ID, Name: k.Name, Prefix: k.Prefix, Status: k.Status(s.Now()), TeamID: k.TeamID, TeamName: k.TeamName,
		AutoApprove: k.AutoApprove, MaxUses: k.MaxUses, Uses: k.Uses, ExpiresAt: apiTime(k.ExpiresAt),
		CreatedAt: k.CreatedAt.UTC(), RevokedAt: apiTime(k.RevokedAt),
	}
}

type listKeysOutput struct {
	Body ListBody[EnrollmentKeyJSON]
}

func (s *Server) apiListKeys(ctx context.Context, in *ListQuery) (*listKeysOutput, error) {
	p, err := s.Enrollment.FindEnrollmentKeys(ctx, switchboard.EnrollmentKeyFilter{Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, err
	}
	return &listKeysOutput{Body: listBody(p, s.newKeyJSON)}, nil
}

type createKeyInput struct {
	Body struct {
		Name        string     `json:"name" maxLength:"100" example:"build fleet"`
		TeamID      string     `json:"team_id,omitempty" maxLength:"64" doc:"The team enrolled agents join. Required for supervisors."`
		AutoApprove bool       `json:"auto_approve,omitempty" doc:"Enrolled agents start active instead of pending."`
		MaxUses     int        `json:"max_uses,omitempty" minimum:"0" maximum:"1000000" doc:"0 or absent for no limit."`
		ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	}
}

type createdKeyOutput struct {
	Body struct {
		EnrollmentKeyJSON
		Key string `json:"key" doc:"The secret, shown this once. Give it to the processes that should enroll."`
	}
}

func (s *Server) apiCreateKey(ctx context.Context, in *createKeyInput) (*createdKeyOutput, error) {
	k, secret, err := s.Enrollment.CreateEnrollmentKey(ctx, switchboard.NewEnrollmentKey{
		Name: in.Body.Name, TeamID: in.Body.TeamID, AutoApprove: in.Body.AutoApprove, MaxUses: in.Body.MaxUses, ExpiresAt: in.Body.ExpiresAt,
	})
	if err != nil {
		return nil, err
	}
	out := &createdKeyOutput{}
	out.Body.EnrollmentKeyJSON = s.newKeyJSON(k)
	out.Body.Key = secret
	return out, nil
}

type keyIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (s *Server) apiRevokeKey(ctx context.Context, in *keyIDInput) (*struct{}, error) {
	return &struct{}{}, s.Enrollment.RevokeEnrollmentKey(ctx, in.ID)
}

type enrollInput struct {
	Body struct {
		Key      string         `json:"key" maxLength:"200" doc:"An enrollment key."`
		Name     string         `json:"name" maxLength:"200" example:"build-runner-17"`
		Skills   map[string]int `json:"skills,omitempty" example:"{\"linux\":8}"`
		Metadata map[string]any `json:"metadata,omitempty" doc:"What the agent reports about itself: version, hostname... At most 4 KiB, nested at most 16 levels deep." example:"{\"hostname\":\"runner-17\",\"version\":\"2.4.1\"}"`
	}
}

type enrollOutput struct {
	// The answer carries a secret to a caller who has no session, so
	// nothing else marks it uncacheable.
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Agent AgentJSON `json:"agent"`
		Token string    `json:"token" doc:"The agent's token, shown this once. Without auto-approval the agent is pending until approved; it can poll GET /api/v1/me meanwhile."`
	}
}

func (s *Server) apiEnroll(ctx context.Context, in *enrollInput) (*enrollOutput, error) {
	a, token, err := s.Enrollment.Enroll(ctx, switchboard.Enrollment{Key: in.Body.Key, Name: in.Body.Name, Skills: in.Body.Skills, Metadata: in.Body.Metadata})
	if err != nil {
		return nil, err
	}
	out := &enrollOutput{CacheControl: "no-store"}
	out.Body.Agent = newAgentJSON(a)
	out.Body.Token = token
	return out, nil
}
