package server

import (
	"context"

	"github.com/switchboardhq/switchboard"
)

type heartbeatInput struct {
	Body *struct {
		Metadata map[string]any `json:"metadata,omitempty" doc:"What the agent reports about itself (version, hostname, load...), shown on its page; replaces what it sent before. At most 4 KiB, nested at most 16 levels deep." example:"{\"hostname\":\"runner-17\",\"version\":\"2.4.1\",\"load\":0.4}"`
		Presence string         `json:"presence,omitempty" enum:"available,away,offline" doc:"Announces a presence as well: written at once when it differs from the agent's. A machine agent that sends available with every heartbeat comes back by itself after the sweeper took it offline."`
	}
}

// apiHeartbeat takes a sign of life. It costs no database write: the
// heartbeat is buffered and written with the others within a second. Only
// a change of presence is written at once.
func (s *Server) apiHeartbeat(ctx context.Context, in *heartbeatInput) (*struct{}, error) {
	actor := switchboard.ActorFromContext(ctx)
	agent := actor.Agent
	if agent == nil && actor.User != nil {
		a, err := s.Agents.FindAgentByUserID(ctx, actor.User.ID)
		if err != nil && switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
			return nil, err
		}
		agent = a
	}
	if agent == nil {
		return nil, &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "You are not an agent, so you have no heartbeat to send."}
	}
	var metadata map[string]any
	var presence switchboard.Presence
	if in.Body != nil {
		var v switchboard.Validation
		switchboard.ValidateJSONObject(&v, "metadata", in.Body.Metadata, switchboard.MaxMetadataBytes)
		if err := v.Err(); err != nil {
			return nil, err
		}
		metadata, presence = in.Body.Metadata, switchboard.Presence(in.Body.Presence)
	}
	if presence != "" && presence != agent.Presence {
		if _, err := s.Presence.SetPresence(ctx, presence); err != nil {
			return nil, err
		}
	}
	s.Heartbeats.Beat(agent.ID, metadata)
	return nil, nil
}
