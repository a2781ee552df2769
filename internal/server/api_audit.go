package server

import (
	"context"
	"time"

	"github.com/switchboardhq/switchboard"
)

// AuditEntryJSON is one audit log entry.
type AuditEntryJSON struct {
	ID     string         `json:"id"`
	At     time.Time      `json:"at"`
	Actor  AuditPartyJSON `json:"actor"`
	Action string         `json:"action" example:"agent.updated"`
	Target AuditPartyJSON `json:"target"`
	Before map[string]any `json:"before,omitempty" doc:"The changed fields before the change."`
	After  map[string]any `json:"after,omitempty" doc:"The changed fields after the change."`
	IP     string         `json:"ip,omitempty"`
	// RequestID matches the X-Request-ID of the request that made the change.
	RequestID string `json:"request_id,omitempty"`
	Reason    string `json:"reason,omitempty" doc:"Why the change was made, when it was given a reason." example:"offer accepted"`
}

// AuditPartyJSON is the actor or the target of an audit entry.
type AuditPartyJSON struct {
	Type string `json:"type" example:"user"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

func newAuditEntryJSON(e *switchboard.AuditEntry) AuditEntryJSON {
	return AuditEntryJSON{
		ID: e.ID, At: e.At.UTC(), Action: e.Action,
		Actor:  AuditPartyJSON{Type: e.ActorType, ID: e.ActorID, Name: e.ActorName},
		Target: AuditPartyJSON{Type: e.TargetType, ID: e.TargetID, Name: e.TargetName},
		Before: e.Before, After: e.After, IP: e.IP, RequestID: e.RequestID, Reason: e.Reason,
	}
}

type listAuditInput struct {
	ListQuery
	Actor      string    `query:"actor" maxLength:"64" doc:"The ID of the actor (user, agent or enrollment key)."`
	Target     string    `query:"target" maxLength:"64" doc:"The ID of the object acted on."`
	TargetType string    `query:"target_type" enum:"user,agent,team,token,enrollment_key,queue,task,offer,notification,webhook"`
	Action     string    `query:"action" maxLength:"64" doc:"An action like agent.updated, or a prefix ending in a dot like agent." example:"agent."`
	Since      time.Time `query:"since" doc:"Entries at or after this time."`
	Until      time.Time `query:"until" doc:"Entries before this time."`
}

type listAuditOutput struct {
	Body ListBody[AuditEntryJSON]
}

func (s *Server) apiListAudit(ctx context.Context, in *listAuditInput) (*listAuditOutput, error) {
	f := switchboard.AuditFilter{ActorID: in.Actor, TargetID: in.Target, TargetType: in.TargetType, Action: in.Action,
		Limit: in.Limit, Cursor: in.Cursor}
	if !in.Since.IsZero() {
		f.Since = &in.Since
	}
	if !in.Until.IsZero() {
		f.Until = &in.Until
	}
	p, err := s.Audit.FindAuditEntries(ctx, f)
	if err != nil {
		return nil, err
	}
	return &listAuditOutput{Body: listBody(p, newAuditEntryJSON)}, nil
}
