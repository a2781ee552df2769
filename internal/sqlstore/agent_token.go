package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/switchboardhq/switchboard"
)

// CreateAgentToken issues a token for a machine agent.
func (s *AgentService) CreateAgentToken(ctx context.Context, agentID string, nt switchboard.NewToken) (*switchboard.APIToken, string, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, "", err
	}
	now := s.db.now()
	if nt.ExpiresAt != nil {
		t := nt.ExpiresAt.UTC().Truncate(time.Microsecond)
		nt.ExpiresAt = &t
	}
	if err := nt.Validate(now); err != nil {
		return nil, "", err
	}
	var token *switchboard.APIToken
	var secret string
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		row, err := findAgentRow(ctx, tx, switchboard.Scope{All: true}, "a.id = ?", agentID, true)
		if err != nil {
			return err
		}
		switch {
		case row.Kind != string(switchboard.MachineAgent):
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "Only machine agents have agent tokens; people sign in."}
		case row.Status == string(switchboard.AgentRetired):
			return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "The agent is retired.",
				State: &switchboard.StateConflict{Current: row.Status, Requested: row.Status}}
		}
		token, secret, err = insertAgentToken(ctx, tx, row, nt.Name, nt.ExpiresAt)
		if err != nil {
			return err
		}
		e := tokenEvent(switchboard.AuditTokenCreated, token, row.Name)
		e.After = tokenSummary(token)
		tx.Record(e)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return token, secret, nil
}

// insertAgentToken issues a new token for an agent; the secret is returned
// once, and only its hash stored.
func insertAgentToken(ctx context.Context, tx *Tx, agent *agentRow, name string, expiresAt *time.Time) (*switchboard.APIToken, string, error) {
	secret := switchboard.NewSecret(switchboard.AgentTokenPrefix)
	row := &tokenRow{
		ID:         uuid.Must(uuid.NewV7()).String(),
		Kind:       string(switchboard.AgentToken),
		Name:       name,
		AgentID:    &agent.ID,
		Prefix:     switchboard.SecretPrefix(secret),
		SecretHash: switchboard.HashSecret(secret),
		CreatedAt:  tx.now,
		ExpiresAt:  expiresAt,
	}
	if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
		return nil, "", err
	}
	return row.domain(), secret, nil
}

// FindAgentTokens lists an agent's tokens, newest first.
func (s *AgentService) FindAgentTokens(ctx context.Context, agentID string, f switchboard.TokenFilter) (*switchboard.Page[*switchboard.APIToken], error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if _, err := findAgentRow(ctx, s.db.bun, switchboard.Scope{All: true}, "a.id = ?", agentID, false); err != nil {
		return nil, err
	}
	var v switchboard.Validation
	limit := switchboard.PageLimit(&v, f.Limit)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.db.tokenPage(ctx, "t.agent_id = ?", []any{agentID}, limit, f.Cursor)
}

// RevokeAgentToken revokes one of an agent's tokens.
func (s *AgentService) RevokeAgentToken(ctx context.Context, agentID, tokenID string) error {
	if err := requireAdmin(ctx); err != nil {
		return err
	}
	return s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		var row tokenRow
		err := forUpdate(tx.NewSelect().Model(&row).Where("t.id = ? AND t.agent_id = ?", tokenID, agentID)).Scan(ctx)
		if errors.Is(err, errNoRows) {
			return errTokenNotFound()
		} else if err != nil {
			return err
		}
		return revokeToken(ctx, tx, &row)
	})
}
