package switchboard

import (
	"context"
	"time"
)

// The dashboard's figures (DESIGN §4). Live figures (agents by presence,
// tasks waiting or in hand) are read as they are; figures over time
// (today, the last 24 hours) add up what happened in fixed intervals of
// StatsInterval, kept by a background pass, and what happened since that
// pass last ran. "Today" starts at midnight UTC.

// StatsInterval is the granularity of figures over time: counts are kept
// per interval of this length, aligned on the hour.
const StatsInterval = 5 * time.Minute

// StatsRateWindow is how far back assignments per minute look, at least:
// the window starts at the beginning of the interval this long ago.
const StatsRateWindow = 15 * time.Minute

// StatsAverageWindow is how far back average wait and handle times look.
const StatsAverageWindow = 24 * time.Hour

// StatsSeriesLength is how many hours the charts cover, one point per hour.
const StatsSeriesLength = 24

// StatsBusiest is how many agents the utilisation list shows, busiest
// first.
const StatsBusiest = 10

// StatsRecent is how many recent events the dashboard shows.
const StatsRecent = 10

// StatsFilter narrows the figures to one queue.
type StatsFilter struct {
	QueueID string
}

// Stats is the dashboard: what the actor may see, at one moment.
type Stats struct {
	At time.Time
	// Today is when today began (midnight UTC), for the figures "today".
	Today  time.Time
	Agents AgentStats
	// Totals adds up the queues below.
	Totals QueueStats
	Queues []QueueStats
	// AssignmentsPerMinute is the rate of assignments since
	// AssignmentsSince.
	AssignmentsPerMinute float64
	AssignmentsSince     time.Time
	// AverageWait (created to assigned) and AverageHandle (assigned to
	// completed) are over tasks assigned, respectively completed, since
	// AveragesSince; zero when there were none.
	AverageWait   time.Duration
	AverageHandle time.Duration
	AveragesSince time.Time
	Utilisation   Utilisation
	// Recent are the newest events the actor may see, newest first.
	Recent []*Event
	// Series is the last StatsSeriesLength hours, oldest first; the last
	// hour is the current one, so far.
	Series []StatsPoint
}

// AgentStats counts the active agents by presence, busy being derived:
// available or busy agents whose load has reached their capacity.
type AgentStats struct {
	Active    int
	Available int
	Busy      int
	Away      int
	Offline   int
	// Pending are the agents waiting for approval.
	Pending int
}

// Present counts the agents who take work or are at capacity.
func (a AgentStats) Present() int { return a.Available + a.Busy }

// QueueStats are one queue's figures, or the totals of several (then
// QueueID is empty).
type QueueStats struct {
	QueueID   string
	QueueName string
	SLATarget time.Duration
	// Tasks now.
	Queued   int
	Offered  int
	Assigned int
	// LongestWait is how long the oldest task not yet assigned has
	// waited; zero when none waits.
	LongestWait time.Duration
	// Today, since midnight UTC.
	CreatedToday     int
	AssignedToday    int
	CompletedToday   int
	CancelledToday   int
	ExpiredToday     int
	SLABreachesToday int
}

// Depth is how many tasks wait for an agent to take them.
func (q QueueStats) Depth() int { return q.Queued + q.Offered }

// Utilisation is how loaded the agents are: the busiest few, and the
// average over the agents present.
type Utilisation struct {
	// Load and Capacity are over the present agents: Average is their
	// ratio, 0..1.
	Load     int
	Capacity int
	Average  float64
	Busiest  []AgentLoad
}

// AgentLoad is one agent's tasks in hand against its capacity.
type AgentLoad struct {
	AgentID  string
	Name     string
	Presence Presence
	Load     int
	Capacity int
}

// Ratio is the agent's load over its capacity, 0..1 or more.
func (a AgentLoad) Ratio() float64 {
	if a.Capacity <= 0 {
		return 0
	}
	return float64(a.Load) / float64(a.Capacity)
}

// StatsPoint is one interval of the charts.
type StatsPoint struct {
	Start     time.Time
	End       time.Time
	Created   int
	Assigned  int
	Completed int
	// AgentsPresent is the most agents present at any sample in the
	// interval: agents are counted every few minutes, not at every change.
	AgentsPresent int
}

// StatsService computes the dashboard. Admins see every queue and agent;
// supervisors the queues that route to their teams and the agents of
// their teams; agents have no dashboard (DESIGN §1).
type StatsService interface {
	// Stats returns the figures of the queues and agents the actor may
	// see, or of one queue. EUNAUTHORIZED, EFORBIDDEN, ENOTFOUND (queue,
	// also one outside the actor's scope), EINVALID.
	Stats(ctx context.Context, f StatsFilter) (*Stats, error)
	// RollUpStats adds what happened since its last run to the kept
	// figures, and samples the agents present. Several instances may run
	// it; each event is counted once. It returns how many events it
	// counted.
	RollUpStats(ctx context.Context) (int, error)
}
