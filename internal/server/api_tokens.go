package server

import (
	"context"
	"time"

	"github.com/switchboardhq/switchboard"
)

// TokenJSON is an API token as the API shows it, without its secret.
type TokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name" example:"deploy script"`
	Prefix     string     `json:"prefix" doc:"The first characters of the secret, to tell tokens apart." example:"sbp_k3j9x2aa"`
	Status     string     `json:"status" enum:"active,expired,revoked"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty" doc:"When the token was last used, to the minute."`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func (s *Server) newTokenJSON(t *switchboard.APIToken) TokenJSON {
	return TokenJSON{
		ID:         t.ID,
		Name:       t.Name,
		Prefix:     t.Prefix,
		Status:     t.Status(s.Now()),
		CreatedAt:  t.CreatedAt.UTC(),
		ExpiresAt:  apiTime(t.ExpiresAt),
		LastUsedAt: apiTime(t.LastUsedAt),
		RevokedAt:  apiTime(t.RevokedAt),
	}
}

type listTokensOutput struct {
	Body ListBody[TokenJSON]
}

func (s *Server) apiListTokens(ctx context.Context, in *ListQuery) (*listTokensOutput, error) {
	p, err := s.Tokens.FindTokens(ctx, switchboard.TokenFilter{
		UserID: switchboard.ActorFromContext(ctx).UserID(), Limit: in.Limit, Cursor: in.Cursor,
	})
	if err != nil {
		return nil, err
	}
	return &listTokensOutput{Body: listBody(p, s.newTokenJSON)}, nil
}

type createTokenInput struct {
	Body struct {
		Name      string     `json:"name" maxLength:"100" example:"deploy script" doc:"What the token is for."`
		ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"When the token stops working; never, if absent."`
	}
}

type createdTokenOutput struct {
	Body struct {
		TokenJSON
		Token string `json:"token" doc:"The secret, shown this once. Send it as Authorization: Bearer <token>."`
	}
}

func (s *Server) apiCreateToken(ctx context.Context, in *createTokenInput) (*createdTokenOutput, error) {
	t, secret, err := s.Tokens.CreateToken(ctx, switchboard.NewToken{
		UserID: switchboard.ActorFromContext(ctx).UserID(), Name: in.Body.Name, ExpiresAt: in.Body.ExpiresAt,
	})
	if err != nil {
		return nil, err
	}
	out := &createdTokenOutput{}
	out.Body.TokenJSON = s.newTokenJSON(t)
	out.Body.Token = secret
	return out, nil
}

type tokenIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (s *Server) apiRevokeToken(ctx context.Context, in *tokenIDInput) (*struct{}, error) {
	if err := s.Tokens.RevokeToken(ctx, in.ID); err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}
