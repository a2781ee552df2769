package server

import (
	"context"
	"time"

	"github.com/switchboardhq/switchboard"
)

// QueueJSON is a queue as the API shows it.
type QueueJSON struct {
	ID                  string         `json:"id"`
	Name                string         `json:"name" example:"Billing"`
	TeamIDs             []string       `json:"team_ids" nullable:"false" doc:"The teams whose agents take the queue's tasks; empty means every agent."`
	Teams               []TeamRefJSON  `json:"teams" nullable:"false"`
	RequiredSkills      map[string]int `json:"required_skills" nullable:"false" example:"{\"billing\": 3}"`
	Strategy            string         `json:"strategy" enum:"longest_idle,least_loaded,round_robin,most_skilled,manual"`
	OfferTimeoutSeconds int            `json:"offer_timeout_seconds" doc:"How long an agent has to accept an offer; 0 assigns directly."`
	MaxOffers           int            `json:"max_offers" doc:"Agents offered a task before it is escalated."`
	SLATargetSeconds    int            `json:"sla_target_seconds" doc:"Longest wait before a task breaches the SLA; 0 for none."`
	RequeueOnOffline    bool           `json:"requeue_on_offline" doc:"Put an agent's assigned tasks back in the queue when the agent goes offline."`
	CreatedAt           time.Time      `json:"created_at"`
	UpdatedAt           time.Time      `json:"updated_at"`
}

func newQueueJSON(q *switchboard.Queue) QueueJSON {
	teams := make([]TeamRefJSON, len(q.Teams))
	for i, t := range q.Teams {
		teams[i] = TeamRefJSON{ID: t.ID, Name: t.Name}
	}
	return QueueJSON{
		ID: q.ID, Name: q.Name, TeamIDs: q.TeamIDs, Teams: teams, RequiredSkills: q.RequiredSkills,
		Strategy: string(q.Strategy), OfferTimeoutSeconds: int(q.OfferTimeout.Seconds()), MaxOffers: q.MaxOffers,
		SLATargetSeconds: int(q.SLATarget.Seconds()), RequeueOnOffline: q.RequeueOnOffline,
		CreatedAt: q.CreatedAt.UTC(), UpdatedAt: q.UpdatedAt.UTC(),
	}
}

type listQueuesInput struct {
	ListQuery
	Q    string `query:"q" maxLength:"100" doc:"Part of the name, any case."`
	Team string `query:"team" maxLength:"64" doc:"Only queues that route to this team."`
}

type listQueuesOutput struct {
	Body ListBody[QueueJSON]
}

func (s *Server) apiListQueues(ctx context.Context, in *listQueuesInput) (*listQueuesOutput, error) {
	p, err := s.Queues.FindQueues(ctx, switchboard.QueueFilter{Query: in.Q, TeamID: in.Team, Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, err
	}
	return &listQueuesOutput{Body: listBody(p, newQueueJSON)}, nil
}

type createQueueInput struct {
	Body struct {
		Name                string         `json:"name" minLength:"1" maxLength:"100" example:"Billing"`
		TeamIDs             []string       `json:"team_ids,omitempty" maxItems:"100" doc:"Team IDs; none means every agent (admins only)."`
		RequiredSkills      map[string]int `json:"required_skills,omitempty" doc:"Skills every agent needs, at least at these levels."`
		Strategy            string         `json:"strategy,omitempty" enum:"longest_idle,least_loaded,round_robin,most_skilled,manual" doc:"Default longest_idle."`
		OfferTimeoutSeconds int            `json:"offer_timeout_seconds,omitempty" minimum:"0" maximum:"86400" doc:"0 (the default) assigns directly."`
		MaxOffers           int            `json:"max_offers,omitempty" minimum:"0" maximum:"100" doc:"Default 3."`
		SLATargetSeconds    int            `json:"sla_target_seconds,omitempty" minimum:"0" maximum:"2592000"`
		RequeueOnOffline    bool           `json:"requeue_on_offline,omitempty"`
	}
}

type queueOutput struct {
	ETag string `header:"ETag"`
	Body QueueJSON
}

type createdQueueOutput struct {
	Location string `header:"Location"`
	ETag     string `header:"ETag"`
	Body     QueueJSON
}

func (s *Server) apiCreateQueue(ctx context.Context, in *createQueueInput) (*createdQueueOutput, error) {
	b := in.Body
	q, err := s.Queues.CreateQueue(ctx, switchboard.NewQueue{
		Name: b.Name, TeamIDs: b.TeamIDs, RequiredSkills: b.RequiredSkills, Strategy: switchboard.RoutingStrategy(b.Strategy),
		OfferTimeout: seconds(b.OfferTimeoutSeconds), MaxOffers: b.MaxOffers, SLATarget: seconds(b.SLATargetSeconds),
		RequeueOnOffline: b.RequeueOnOffline,
	})
	if err != nil {
		return nil, err
	}
	return &createdQueueOutput{Location: "/api/v1/queues/" + q.ID, ETag: etag(q.Version), Body: newQueueJSON(q)}, nil
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

type queueIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (s *Server) apiGetQueue(ctx context.Context, in *queueIDInput) (*queueOutput, error) {
	q, err := s.Queues.FindQueueByID(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &queueOutput{ETag: etag(q.Version), Body: newQueueJSON(q)}, nil
}

type updateQueueInput struct {
	ID      string `path:"id" maxLength:"64"`
	IfMatch string `header:"If-Match" doc:"The ETag from a previous read; 412 if the queue changed since."`
	Body    struct {
		Name                *string         `json:"name,omitempty" minLength:"1" maxLength:"100"`
		TeamIDs             *[]string       `json:"team_ids,omitempty" maxItems:"100" doc:"Replaces the teams."`
		RequiredSkills      *map[string]int `json:"required_skills,omitempty" doc:"Replaces the required skills."`
		Strategy            *string         `json:"strategy,omitempty" enum:"longest_idle,least_loaded,round_robin,most_skilled,manual"`
		OfferTimeoutSeconds *int            `json:"offer_timeout_seconds,omitempty" minimum:"0" maximum:"86400"`
		MaxOffers           *int            `json:"max_offers,omitempty" minimum:"1" maximum:"100"`
		SLATargetSeconds    *int            `json:"sla_target_seconds,omitempty" minimum:"0" maximum:"2592000"`
		RequeueOnOffline    *bool           `json:"requeue_on_offline,omitempty"`
	}
}

func (s *Server) apiUpdateQueue(ctx context.Context, in *updateQueueInput) (*queueOutput, error) {
	b := in.Body
	upd := switchboard.QueueUpdate{Name: b.Name, TeamIDs: b.TeamIDs, RequiredSkills: b.RequiredSkills,
		MaxOffers: b.MaxOffers, RequeueOnOffline: b.RequeueOnOffline, IfVersion: ifMatchVersion(in.IfMatch)}
	if b.Strategy != nil {
		st := switchboard.RoutingStrategy(*b.Strategy)
		upd.Strategy = &st
	}
	if b.OfferTimeoutSeconds != nil {
		d := seconds(*b.OfferTimeoutSeconds)
		upd.OfferTimeout = &d
	}
	if b.SLATargetSeconds != nil {
		d := seconds(*b.SLATargetSeconds)
		upd.SLATarget = &d
	}
	q, err := s.Queues.UpdateQueue(ctx, in.ID, upd)
	if err != nil {
		return nil, err
	}
	return &queueOutput{ETag: etag(q.Version), Body: newQueueJSON(q)}, nil
}

func (s *Server) apiDeleteQueue(ctx context.Context, in *queueIDInput) (*struct{}, error) {
	return &struct{}{}, s.Queues.DeleteQueue(ctx, in.ID)
}
