package server

import (
	"context"

	"github.com/switchboardhq/switchboard"
)

// AgentFilterJSON selects agents as the agent list's query parameters do.
type AgentFilterJSON struct {
	Q        string `json:"q,omitempty" maxLength:"200" doc:"Part of the name or e-mail address, in any case."`
	Status   string `json:"status,omitempty" enum:"pending,active,suspended,retired"`
	Presence string `json:"presence,omitempty" enum:"offline,available,away,busy"`
	Kind     string `json:"kind,omitempty" enum:"human,machine"`
	Team     string `json:"team,omitempty" maxLength:"64" doc:"A team ID: only its members."`
	Skill    string `json:"skill,omitempty" maxLength:"64" doc:"Only agents with this skill..."`
	MinLevel int    `json:"min_level,omitempty" minimum:"0" maximum:"10" doc:"...at this level or above."`
}

type bulkAgentsInput struct {
	Body struct {
		Action string           `json:"action" enum:"activate,suspend,retire,add_to_team,remove_from_team" doc:"activate also approves pending agents."`
		IDs    []string         `json:"ids,omitempty" maxItems:"1000" doc:"The agents to act on; or else filter."`
		Filter *AgentFilterJSON `json:"filter,omitempty" doc:"Every agent the list with these query parameters shows (at most 1000); or else ids."`
		TeamID string           `json:"team_id,omitempty" maxLength:"64" doc:"The team of add_to_team and remove_from_team."`
	}
}

type bulkAgentsOutput struct {
	Body struct {
		Action    string        `json:"action"`
		Changed   int           `json:"changed" doc:"How many agents the action changed."`
		Unchanged int           `json:"unchanged" doc:"Agents already as the action would leave them: already in, or not in, the team."`
		Agents    []TeamRefJSON `json:"agents" nullable:"false" doc:"The agents changed, by name."`
	}
}

func (s *Server) apiBulkAgents(ctx context.Context, in *bulkAgentsInput) (*bulkAgentsOutput, error) {
	b := in.Body
	bulk := switchboard.AgentBulk{Action: b.Action, IDs: b.IDs, TeamID: b.TeamID}
	if f := b.Filter; f != nil {
		bulk.Filter = &switchboard.AgentFilter{Query: f.Q, Status: switchboard.AgentStatus(f.Status), Presence: switchboard.Presence(f.Presence),
			Kind: switchboard.AgentKind(f.Kind), TeamID: f.Team, Skill: f.Skill, MinLevel: f.MinLevel}
	}
	res, err := s.Agents.BulkAgents(ctx, bulk)
	if err != nil {
		return nil, err
	}
	out := &bulkAgentsOutput{}
	out.Body.Action, out.Body.Changed, out.Body.Unchanged = res.Action, len(res.Changed), res.Unchanged
	out.Body.Agents = make([]TeamRefJSON, len(res.Changed))
	for i, a := range res.Changed {
		out.Body.Agents[i] = TeamRefJSON{ID: a.ID, Name: a.Name}
	}
	return out, nil
}
