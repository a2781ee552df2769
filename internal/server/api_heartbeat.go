package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/validation"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboardhq/switchboard"
)

type heartbeatInput struct {
	Body *heartbeatInputBody
}

// heartbeatInputBody is what a heartbeat may carry. A fleet sends thousands a
// second, so a body is read in one pass: the operation skips the API
// layer's validation against the schema, which decodes every body a second
// time; UnmarshalJSON checks the fields instead, with the same answers; and
// the metadata stays JSON text down to the database. The exported fields
// describe the body in the contract; UnmarshalJSON fills the others.
type heartbeatInputBody struct {
	Metadata map[string]any `json:"metadata,omitempty" doc:"What the agent reports about itself (version, hostname, load...), shown on its page; replaces what it sent before. At most 4 KiB, nested at most 16 levels deep." example:"{\"hostname\":\"runner-17\",\"version\":\"2.4.1\",\"load\":0.4}"`
	Presence string         `json:"presence,omitempty" enum:"available,away,offline" doc:"Announces a presence as well: written at once when it differs from the agent's. A machine agent that sends available with every heartbeat comes back by itself after the sweeper took it offline."`

	metadata json.RawMessage // compacted; nil when absent or null
	presence switchboard.Presence
	// schemaErrors are what validation against the schema would have
	// found, located and worded alike; fields, what apiHeartbeat adds.
	schemaErrors []error
	fields       switchboard.Validation
}

func (b *heartbeatInputBody) UnmarshalJSON(data []byte) error {
	fail := func(location, message string) {
		b.schemaErrors = append(b.schemaErrors, &huma.ErrorDetail{Location: location, Message: message})
	}
	isObject, err := switchboard.EachJSONMember(data, func(name string, value jsontext.Value) {
		switch name {
		case "metadata":
			if k := value.Kind(); k != '{' && k != 'n' {
				fail("body.metadata", validation.MsgExpectedObject)
				return
			}
			b.metadata = switchboard.ValidateRawJSONObject(&b.fields, "metadata", value, switchboard.MaxMetadataBytes)
		case "presence":
			switch value.Kind() {
			case 'n':
			case '"':
				p, err := jsontext.AppendUnquote(nil, value)
				switch presence := switchboard.Presence(p); {
				case err != nil:
					fail("body.presence", validation.MsgExpectedString)
				case presence == switchboard.PresenceAvailable || presence == switchboard.PresenceAway || presence == switchboard.PresenceOffline:
					b.presence = presence
				default:
					fail("body.presence", fmt.Sprintf(validation.MsgExpectedOneOf, "available, away, offline"))
				}
			default:
				fail("body.presence", validation.MsgExpectedString)
			}
		default:
			fail("body."+name, validation.MsgUnexpectedProperty)
		}
	})
	if err == nil && !isObject {
		fail("body", validation.MsgExpectedObject)
	}
	return err
}

// apiHeartbeat takes a sign of life. It costs no database write: the
// heartbeat is buffered and written with the others within a second. Only
// a change of presence is written at once.
func (s *Server) apiHeartbeat(ctx context.Context, in *heartbeatInput) (*struct{}, error) {
	var body heartbeatInputBody // none, or null: a heartbeat and nothing more
	if in.Body != nil {
		body = *in.Body
	}
	if len(body.schemaErrors) > 0 {
		return nil, newProblem(ctx, http.StatusUnprocessableEntity, "validation failed", body.schemaErrors...)
	}
	if err := body.fields.Err(); err != nil {
		return nil, err
	}
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
	metadata, presence := body.metadata, body.presence
	if presence != "" && presence != agent.Presence {
		if _, err := s.Presence.SetPresence(ctx, presence); err != nil {
			return nil, err
		}
	}
	s.Heartbeats.Beat(agent.ID, metadata)
	return nil, nil
}
