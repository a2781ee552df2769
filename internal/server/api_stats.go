package server

import (
	"context"
	"math"
	"time"

	"github.com/switchboardhq/switchboard"
)

// StatsJSON is the dashboard as the API shows it.
type StatsJSON struct {
	At     time.Time `json:"at" doc:"When the figures were taken."`
	Today  time.Time `json:"today" doc:"The start of today, midnight UTC, for the figures named *_today."`
	Agents struct {
		Active    int `json:"active" doc:"Active agents, whatever their presence."`
		Available int `json:"available" doc:"Active agents available with room for more work."`
		Busy      int `json:"busy" doc:"Active agents available but at capacity."`
		Away      int `json:"away"`
		Offline   int `json:"offline"`
		Pending   int `json:"pending" doc:"Agents waiting for approval."`
	} `json:"agents"`
	Totals               QueueStatsJSON   `json:"totals" doc:"The queues below added up; longest_wait_seconds is the longest of them."`
	Queues               []QueueStatsJSON `json:"queues" nullable:"false"`
	AssignmentsPerMinute float64          `json:"assignments_per_minute" doc:"Assignments per minute since assignments_since."`
	AssignmentsSince     time.Time        `json:"assignments_since" doc:"The start of the five-minute interval that began 15 minutes ago (or less)."`
	AverageWaitSeconds   int              `json:"average_wait_seconds" doc:"From creation to assignment, over the tasks assigned since averages_since; a reassignment counts as an assignment but not as a wait."`
	AverageHandleSeconds int              `json:"average_handle_seconds" doc:"From assignment to completion, over the tasks completed since averages_since."`
	AveragesSince        time.Time        `json:"averages_since" doc:"24 hours ago, at the start of a five-minute interval."`
	Utilisation          struct {
		Load     int             `json:"load" doc:"Tasks offered to or assigned to the agents present."`
		Capacity int             `json:"capacity" doc:"The capacity of the agents present."`
		Average  float64         `json:"average" doc:"load / capacity, from 0 to 1."`
		Busiest  []AgentLoadJSON `json:"busiest" nullable:"false" doc:"The most loaded agents (by load / capacity), at most 10."`
	} `json:"utilisation"`
	Recent []EventJSON      `json:"recent" nullable:"false" doc:"The newest events the caller may see, newest first, at most 10; empty for one queue."`
	Series []StatsPointJSON `json:"series" nullable:"false" doc:"The last 24 hours, one point per hour, oldest first; the last is the current hour so far."`
}

// QueueStatsJSON is one queue's figures.
type QueueStatsJSON struct {
	QueueID            string `json:"queue_id,omitempty"`
	QueueName          string `json:"queue_name,omitempty"`
	SLATargetSeconds   int    `json:"sla_target_seconds"`
	Queued             int    `json:"queued"`
	Offered            int    `json:"offered"`
	Assigned           int    `json:"assigned"`
	Depth              int    `json:"depth" doc:"Tasks waiting to be taken: queued and offered."`
	LongestWaitSeconds int    `json:"longest_wait_seconds" doc:"How long the oldest task waiting has waited; 0 when none waits."`
	CreatedToday       int    `json:"created_today"`
	AssignedToday      int    `json:"assigned_today"`
	CompletedToday     int    `json:"completed_today"`
	CancelledToday     int    `json:"cancelled_today"`
	ExpiredToday       int    `json:"expired_today"`
	SLABreachesToday   int    `json:"sla_breaches_today" doc:"Tasks that waited past the queue's SLA target, counted when the breach was recorded."`
}

// AgentLoadJSON is one agent's load.
type AgentLoadJSON struct {
	AgentID  string  `json:"agent_id"`
	Name     string  `json:"name"`
	Presence string  `json:"presence"`
	Load     int     `json:"load"`
	Capacity int     `json:"capacity"`
	Ratio    float64 `json:"ratio" doc:"load / capacity."`
}

// StatsPointJSON is one hour of the series.
type StatsPointJSON struct {
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	Created       int       `json:"created"`
	Assigned      int       `json:"assigned"`
	Completed     int       `json:"completed"`
	AgentsPresent int       `json:"agents_present" doc:"The most agents present at any sample of the hour (sampled every minute)."`
}

func newQueueStatsJSON(q switchboard.QueueStats) QueueStatsJSON {
	return QueueStatsJSON{QueueID: q.QueueID, QueueName: q.QueueName, SLATargetSeconds: int(q.SLATarget.Seconds()),
		Queued: q.Queued, Offered: q.Offered, Assigned: q.Assigned, Depth: q.Depth(), LongestWaitSeconds: int(q.LongestWait.Seconds()),
		CreatedToday: q.CreatedToday, AssignedToday: q.AssignedToday, CompletedToday: q.CompletedToday,
		CancelledToday: q.CancelledToday, ExpiredToday: q.ExpiredToday, SLABreachesToday: q.SLABreachesToday}
}

// round2 keeps two decimals of a ratio or rate, which is all a person
// reads of it.
func round2(f float64) float64 { return math.Round(f*100) / 100 }

func newStatsJSON(st *switchboard.Stats) StatsJSON {
	out := StatsJSON{At: st.At.UTC(), Today: st.Today.UTC(), Totals: newQueueStatsJSON(st.Totals),
		AssignmentsPerMinute: round2(st.AssignmentsPerMinute), AssignmentsSince: st.AssignmentsSince.UTC(),
		AverageWaitSeconds: int(st.AverageWait.Seconds()), AverageHandleSeconds: int(st.AverageHandle.Seconds()),
		AveragesSince: st.AveragesSince.UTC(),
		Queues:        make([]QueueStatsJSON, len(st.Queues)), Recent: make([]EventJSON, len(st.Recent)),
		Series: make([]StatsPointJSON, len(st.Series))}
	a := st.Agents
	out.Agents.Active, out.Agents.Available, out.Agents.Busy = a.Active, a.Available, a.Busy
	out.Agents.Away, out.Agents.Offline, out.Agents.Pending = a.Away, a.Offline, a.Pending
	for i, q := range st.Queues {
		out.Queues[i] = newQueueStatsJSON(q)
	}
	u := st.Utilisation
	out.Utilisation.Load, out.Utilisation.Capacity, out.Utilisation.Average = u.Load, u.Capacity, round2(u.Average)
	out.Utilisation.Busiest = make([]AgentLoadJSON, len(u.Busiest))
	for i, l := range u.Busiest {
		out.Utilisation.Busiest[i] = AgentLoadJSON{AgentID: l.AgentID, Name: l.Name, Presence: string(l.Presence),
			Load: l.Load, Capacity: l.Capacity, Ratio: round2(l.Ratio())}
	}
	for i, e := range st.Recent {
		out.Recent[i] = newEventJSON(e)
	}
	for i, p := range st.Series {
		out.Series[i] = StatsPointJSON{Start: p.Start.UTC(), End: p.End.UTC(), Created: p.Created, Assigned: p.Assigned,
			Completed: p.Completed, AgentsPresent: p.AgentsPresent}
	}
	return out
}

type statsOutput struct {
	Body StatsJSON
}

func (s *Server) apiStats(ctx context.Context, _ *struct{}) (*statsOutput, error) {
	st, err := s.Stats.Stats(ctx, switchboard.StatsFilter{})
	if err != nil {
		return nil, err
	}
	return &statsOutput{Body: newStatsJSON(st)}, nil
}

func (s *Server) apiQueueStats(ctx context.Context, in *queueIDInput) (*statsOutput, error) {
	st, err := s.Stats.Stats(ctx, switchboard.StatsFilter{QueueID: in.ID})
	if err != nil {
		return nil, err
	}
	return &statsOutput{Body: newStatsJSON(st)}, nil
}
