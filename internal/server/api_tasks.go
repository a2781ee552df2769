package server

import (
	"context"
	"net/http"
	"time"

	"github.com/switchboardhq/switchboard"
)

// TaskJSON is a task as the API shows it.
type TaskJSON struct {
	ID             string            `json:"id"`
	Queue          RefJSON           `json:"queue"`
	Title          string            `json:"title"`
	Priority       int               `json:"priority"`
	RequiredSkills map[string]int    `json:"required_skills" nullable:"false"`
	Attributes     map[string]any    `json:"attributes" nullable:"false"`
	ExternalRef    string            `json:"external_ref,omitempty"`
	Status         string            `json:"status" enum:"queued,offered,assigned,completed,cancelled,expired"`
	Agent          *RefJSON          `json:"agent,omitempty" doc:"The agent the task is offered or assigned to."`
	Outcome        string            `json:"outcome,omitempty"`
	Offers         int               `json:"offers" doc:"How many agents the task has been offered to."`
	CreatedAt      time.Time         `json:"created_at"`
	OfferedAt      *time.Time        `json:"offered_at,omitempty"`
	AssignedAt     *time.Time        `json:"assigned_at,omitempty"`
	CompletedAt    *time.Time        `json:"completed_at,omitempty"`
	ExpiresAt      *time.Time        `json:"expires_at,omitempty"`
	UpdatedAt      time.Time         `json:"updated_at"`
	Offer          *TaskOfferJSON    `json:"offer,omitempty" doc:"The pending offer of an offered task: its agent accepts or rejects it by this ID."`
	History        []TaskHistoryJSON `json:"history,omitempty" doc:"Every transition, oldest first; only in a task's detail (GET /api/v1/tasks/{id}), not in the answers to changes."`
}

// TaskOfferJSON is the pending offer of a task.
type TaskOfferJSON struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RefJSON names a queue or an agent.
type RefJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// TaskHistoryJSON is one transition of a task.
type TaskHistoryJSON struct {
	At      time.Time      `json:"at"`
	Actor   EventPartyJSON `json:"actor"`
	From    string         `json:"from,omitempty" doc:"Empty for the task's creation."`
	To      string         `json:"to"`
	AgentID string         `json:"agent_id,omitempty"`
	Reason  string         `json:"reason,omitempty"`
}

func newTaskJSON(t *switchboard.Task) TaskJSON {
	j := TaskJSON{
		ID: t.ID, Queue: RefJSON{ID: t.QueueID, Name: t.QueueName}, Title: t.Title, Priority: t.Priority,
		RequiredSkills: t.RequiredSkills, Attributes: t.Attributes, ExternalRef: t.ExternalRef, Status: string(t.Status),
		Outcome: t.Outcome, Offers: t.Offers, CreatedAt: t.CreatedAt.UTC(), OfferedAt: apiTime(t.OfferedAt),
		AssignedAt: apiTime(t.AssignedAt), CompletedAt: apiTime(t.CompletedAt), ExpiresAt: apiTime(t.ExpiresAt), UpdatedAt: t.UpdatedAt.UTC(),
	}
	if t.AgentID != "" {
		j.Agent = &RefJSON{ID: t.AgentID, Name: t.AgentName}
	}
	if t.Offer != nil {
		j.Offer = &TaskOfferJSON{ID: t.Offer.ID, ExpiresAt: t.Offer.ExpiresAt.UTC()}
	}
	for _, h := range t.History {
		j.History = append(j.History, TaskHistoryJSON{At: h.At.UTC(), Actor: EventPartyJSON{Type: h.Actor.Type, ID: h.Actor.ID, Name: h.Actor.Name},
			From: string(h.From), To: string(h.To), AgentID: h.AgentID, Reason: h.Reason})
	}
	return j
}

type createTaskInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"200" doc:"Retrying with the same key and body returns the first task (200) instead of making another; the same key with another body is 409."`
	Body           struct {
		Queue          string         `json:"queue" minLength:"1" maxLength:"64" doc:"The queue's ID."`
		Title          string         `json:"title" minLength:"1" maxLength:"200" example:"Call back about invoice 1042"`
		Priority       int            `json:"priority,omitempty" minimum:"0" maximum:"100" doc:"Higher first; tasks of one priority are served oldest first."`
		RequiredSkills map[string]int `json:"required_skills,omitempty" doc:"Skills the agent needs for this task, on top of the queue's."`
		Attributes     map[string]any `json:"attributes,omitempty"`
		ExternalRef    string         `json:"external_ref,omitempty" maxLength:"200" doc:"Your reference; unique within the queue."`
		ExpiresAt      *time.Time     `json:"expires_at,omitempty" doc:"A task still queued then expires."`
	}
}

type createdTaskOutput struct {
	Status   int
	Location string `header:"Location"`
	Body     TaskJSON
}

func (s *Server) apiCreateTask(ctx context.Context, in *createTaskInput) (*createdTaskOutput, error) {
	b := in.Body
	t, created, err := s.Tasks.CreateTask(ctx, switchboard.NewTask{QueueID: b.Queue, Title: b.Title, Priority: b.Priority,
		RequiredSkills: b.RequiredSkills, Attributes: b.Attributes, ExternalRef: b.ExternalRef, ExpiresAt: b.ExpiresAt,
		IdempotencyKey: in.IdempotencyKey})
	if err != nil {
		return nil, err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	return &createdTaskOutput{Status: status, Location: "/api/v1/tasks/" + t.ID, Body: newTaskJSON(t)}, nil
}

type listTasksInput struct {
	ListQuery
	Queue         string    `query:"queue" maxLength:"64" doc:"A queue's ID."`
	Status        string    `query:"status" enum:"queued,offered,assigned,completed,cancelled,expired"`
	Agent         string    `query:"agent" maxLength:"64" doc:"An agent's ID."`
	MinPriority   int       `query:"min_priority" minimum:"0" maximum:"100" default:"0"`
	MaxPriority   int       `query:"max_priority" minimum:"0" maximum:"100" default:"100"`
	CreatedAfter  time.Time `query:"created_after" doc:"Tasks created at or after this time."`
	CreatedBefore time.Time `query:"created_before" doc:"Tasks created before this time."`
}

type listTasksOutput struct {
	Body ListBody[TaskJSON]
}

func (s *Server) apiListTasks(ctx context.Context, in *listTasksInput) (*listTasksOutput, error) {
	f := switchboard.TaskFilter{QueueID: in.Queue, Status: switchboard.TaskStatus(in.Status), AgentID: in.Agent,
		MinPriority: &in.MinPriority, MaxPriority: &in.MaxPriority, Limit: in.Limit, Cursor: in.Cursor}
	if !in.CreatedAfter.IsZero() {
		f.CreatedAfter = &in.CreatedAfter
	}
	if !in.CreatedBefore.IsZero() {
		f.CreatedBefore = &in.CreatedBefore
	}
	p, err := s.Tasks.FindTasks(ctx, f)
	if err != nil {
		return nil, err
	}
	return &listTasksOutput{Body: listBody(p, newTaskJSON)}, nil
}

type taskIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

type taskOutput struct {
	Body TaskJSON
}

func (s *Server) apiGetTask(ctx context.Context, in *taskIDInput) (*taskOutput, error) {
	t, err := s.Tasks.FindTaskByID(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &taskOutput{Body: newTaskJSON(t)}, nil
}

type setPresenceInput struct {
	Body struct {
		Presence string `json:"presence" enum:"available,away,offline" doc:"busy is derived from the agent's load."`
	}
}

type presenceOutput struct {
	Body struct {
		Presence string `json:"presence" enum:"available,busy,away,offline"`
	}
}

func (s *Server) apiSetPresence(ctx context.Context, in *setPresenceInput) (*presenceOutput, error) {
	a, err := s.Presence.SetPresence(ctx, switchboard.Presence(in.Body.Presence))
	if err != nil {
		return nil, err
	}
	out := &presenceOutput{}
	out.Body.Presence = string(a.Presence)
	return out, nil
}

// OfferJSON is a task offered to the calling agent.
type OfferJSON struct {
	ID        string    `json:"id"`
	Task      RefJSON   `json:"task"`
	Queue     RefJSON   `json:"queue"`
	Priority  int       `json:"priority"`
	Status    string    `json:"status" enum:"pending,accepted,rejected,timed_out,revoked"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at" doc:"Accept before this; afterwards the offer times out and goes to the next agent."`
}

type listOffersOutput struct {
	Body struct {
		Items []OfferJSON `json:"items" nullable:"false"`
	}
}

func (s *Server) apiListMyOffers(ctx context.Context, _ *struct{}) (*listOffersOutput, error) {
	offers, err := s.Offers.FindMyOffers(ctx)
	if err != nil {
		return nil, err
	}
	out := &listOffersOutput{}
	out.Body.Items = make([]OfferJSON, len(offers))
	for i, o := range offers {
		out.Body.Items[i] = OfferJSON{ID: o.ID, Task: RefJSON{ID: o.TaskID, Name: o.TaskTitle}, Queue: RefJSON{ID: o.QueueID, Name: o.QueueName},
			Priority: o.Priority, Status: string(o.Status), CreatedAt: o.CreatedAt.UTC(), ExpiresAt: o.ExpiresAt.UTC()}
	}
	return out, nil
}

type offerIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (s *Server) apiAcceptOffer(ctx context.Context, in *offerIDInput) (*taskOutput, error) {
	t, err := s.Offers.AcceptOffer(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &taskOutput{Body: newTaskJSON(t)}, nil
}

func (s *Server) apiRejectOffer(ctx context.Context, in *offerIDInput) (*taskOutput, error) {
	t, err := s.Offers.RejectOffer(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &taskOutput{Body: newTaskJSON(t)}, nil
}

type completeTaskInput struct {
	ID string `path:"id" maxLength:"64"`
	// Optional: a task can be completed without saying how.
	Body *struct {
		Outcome string `json:"outcome,omitempty" maxLength:"1000" doc:"What came of the task, in a few words."`
	}
}

func (s *Server) apiCompleteTask(ctx context.Context, in *completeTaskInput) (*taskOutput, error) {
	var outcome string
	if in.Body != nil {
		outcome = in.Body.Outcome
	}
	t, err := s.Completer.CompleteTask(ctx, in.ID, outcome)
	if err != nil {
		return nil, err
	}
	return &taskOutput{Body: newTaskJSON(t)}, nil
}

type assignTaskInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Agent string `json:"agent" minLength:"1" maxLength:"64" doc:"The agent's ID."`
		Force bool   `json:"force,omitempty" doc:"Admins only: assign even an agent routing would not choose."`
	}
}

func (s *Server) apiAssignTask(ctx context.Context, in *assignTaskInput) (*taskOutput, error) {
	t, err := s.Control.AssignTask(ctx, in.ID, in.Body.Agent, in.Body.Force)
	if err != nil {
		return nil, err
	}
	return &taskOutput{Body: newTaskJSON(t)}, nil
}

type taskReasonInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body *struct {
		Reason string `json:"reason,omitempty" maxLength:"500" doc:"Why, for the task's history."`
	}
}

func (in *taskReasonInput) reason() string {
	if in.Body == nil {
		return ""
	}
	return in.Body.Reason
}

func (s *Server) apiCancelTask(ctx context.Context, in *taskReasonInput) (*taskOutput, error) {
	t, err := s.Control.CancelTask(ctx, in.ID, in.reason())
	if err != nil {
		return nil, err
	}
	return &taskOutput{Body: newTaskJSON(t)}, nil
}

func (s *Server) apiRequeueTask(ctx context.Context, in *taskReasonInput) (*taskOutput, error) {
	t, err := s.Control.RequeueTask(ctx, in.ID, in.reason())
	if err != nil {
		return nil, err
	}
	return &taskOutput{Body: newTaskJSON(t)}, nil
}

// RoutingJSON explains how a task is routed.
type RoutingJSON struct {
	Task           RefJSON         `json:"task"`
	Strategy       string          `json:"strategy"`
	RequiredSkills map[string]int  `json:"required_skills" nullable:"false" doc:"The queue's and the task's together."`
	Candidates     []CandidateJSON `json:"candidates" nullable:"false" doc:"The eligible first, in the order the strategy offers them work; then the others."`
	Truncated      bool            `json:"truncated,omitempty" doc:"The queue reaches more agents than were judged."`
	Hidden         int             `json:"hidden,omitempty" doc:"Agents judged but not listed because the caller may not see them: a supervisor sees only the agents of their teams. Ranks count them."`
}

// CandidateJSON is routing's verdict on one agent.
type CandidateJSON struct {
	Agent    RefJSON      `json:"agent"`
	Eligible bool         `json:"eligible"`
	Chosen   bool         `json:"chosen" doc:"The agent routing gives the task to now."`
	Rank     int          `json:"rank,omitempty" doc:"Place among the eligible, from 1."`
	Value    string       `json:"value,omitempty" doc:"What the strategy ranked the agent by."`
	Status   string       `json:"status"`
	Presence string       `json:"presence"`
	Load     int          `json:"load"`
	Capacity int          `json:"capacity"`
	Reasons  []ReasonJSON `json:"reasons" nullable:"false"`
}

// ReasonJSON is one reason of a verdict.
type ReasonJSON struct {
	Code    string `json:"code" enum:"chosen,not_active,not_available,at_capacity,missing_skill,not_in_queue_teams,declined_before,ranked_lower,manual_queue"`
	Message string `json:"message"`
}

type routingOutput struct {
	Body RoutingJSON
}

func (s *Server) apiExplainRouting(ctx context.Context, in *taskIDInput) (*routingOutput, error) {
	ex, err := s.Control.ExplainRouting(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	out := &routingOutput{Body: RoutingJSON{Task: RefJSON{ID: ex.Task.ID, Name: ex.Task.Title}, Strategy: string(ex.Strategy),
		RequiredSkills: ex.RequiredSkills, Truncated: ex.Truncated, Hidden: ex.Hidden, Candidates: make([]CandidateJSON, len(ex.Verdicts))}}
	for i, v := range ex.Verdicts {
		c := v.Candidate
		j := CandidateJSON{Agent: RefJSON{ID: c.AgentID, Name: c.Name}, Eligible: v.Eligible, Chosen: v.Chosen, Rank: v.Rank,
			Value: v.Value, Status: string(c.Status), Presence: string(c.Presence), Load: c.Load, Capacity: c.Capacity,
			Reasons: make([]ReasonJSON, len(v.Reasons))}
		for k, r := range v.Reasons {
			j.Reasons[k] = ReasonJSON{Code: r.Code, Message: r.Message}
		}
		out.Body.Candidates[i] = j
	}
	return out, nil
}

// maxTaskWait is the longest an agent's request for work may wait:
// under the minute after which proxies commonly drop a silent request.
const maxTaskWait = 55 * time.Second

type myTasksInput struct {
	Wait string `query:"wait" maxLength:"10" doc:"How long to wait for work when there is none yet, like 30s (at most 55s): the answer comes as soon as a task is offered or assigned, or empty at the deadline." example:"30s"`
}

type myTasksOutput struct {
	Body struct {
		Items []TaskJSON `json:"items" nullable:"false" doc:"Tasks offered or assigned to the agent, the most urgent first."`
	}
}

func (s *Server) apiMyTasks(ctx context.Context, in *myTasksInput) (*myTasksOutput, error) {
	var wait time.Duration
	if in.Wait != "" {
		d, err := time.ParseDuration(in.Wait)
		if err != nil || d < 0 || d > maxTaskWait {
			return nil, &switchboard.Error{Code: switchboard.EINVALID, Message: "wait is a duration from 0s to 55s, like 30s.",
				Fields: []switchboard.FieldError{{Field: "wait", Message: "A duration from 0s to 55s, like 30s."}}}
		}
		wait = d
	}
	agentID, tasks, err := s.Tasks.FindMyTasks(ctx)
	if err != nil {
		return nil, err
	}
	if len(tasks) == 0 && wait > 0 && s.Broker != nil {
		tasks, err = s.waitForWork(ctx, agentID, wait)
		if err != nil {
			return nil, err
		}
	}
	out := &myTasksOutput{}
	out.Body.Items = make([]TaskJSON, len(tasks))
	for i, t := range tasks {
		out.Body.Items[i] = newTaskJSON(t)
	}
	return out, nil
}

// waitForWork waits until a task is offered or assigned to the agent, or
// the wait is over. It is woken by the event stream, which every instance
// receives, so work routed anywhere ends the wait at once; it subscribes
// before looking again, so that nothing routed in between is missed.
func (s *Server) waitForWork(ctx context.Context, agentID string, wait time.Duration) ([]*switchboard.Task, error) {
	sub := s.Broker.Subscribe()
	defer sub.Close()
	if _, tasks, err := s.Tasks.FindMyTasks(ctx); err != nil || len(tasks) > 0 {
		return tasks, err
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, nil
		case <-timer.C:
			return nil, nil
		case batch, ok := <-sub.C():
			if !ok {
				// Fell behind or the server stops: look once more.
				_, tasks, err := s.Tasks.FindMyTasks(ctx)
				return tasks, err
			}
			for _, e := range batch {
				if e.AgentID == agentID && (e.Type == switchboard.AuditTaskOffered || e.Type == switchboard.AuditTaskAssigned) {
					_, tasks, err := s.Tasks.FindMyTasks(ctx)
					if err != nil || len(tasks) > 0 {
						return tasks, err
					}
				}
			}
		}
	}
}
