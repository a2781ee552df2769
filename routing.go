package switchboard

import "time"

// RoutingStrategy is how a queue chooses among the agents eligible for a
// task (DESIGN §3).
type RoutingStrategy string

const (
	// LongestIdle offers work to the agent idle the longest: the one whose
	// last assignment is oldest, or who never had one.
	LongestIdle RoutingStrategy = "longest_idle"
	// LeastLoaded offers work to the agent with the lowest share of their
	// capacity in use, then the longest idle.
	LeastLoaded RoutingStrategy = "least_loaded"
	// RoundRobin takes eligible agents in turn, after the queue's last.
	RoundRobin RoutingStrategy = "round_robin"
	// MostSkilled offers work to the agent with the highest total level on
	// the required skills, then the longest idle.
	MostSkilled RoutingStrategy = "most_skilled"
	// Manual never routes by itself: a supervisor assigns each task.
	Manual RoutingStrategy = "manual"
)

// RoutingStrategies lists every strategy, the default first.
var RoutingStrategies = []RoutingStrategy{LongestIdle, LeastLoaded, RoundRobin, MostSkilled, Manual}

// Valid reports whether s is a known strategy.
func (s RoutingStrategy) Valid() bool {
	for _, known := range RoutingStrategies {
		if s == known {
			return true
		}
	}
	return false
}

// CanTakeWork reports whether an agent in this presence may be given work,
// load allowing: available agents, and busy ones (busy only says that some
// capacity is in use).
func (p Presence) CanTakeWork() bool { return p == PresenceAvailable || p == PresenceBusy }

// Candidate is an agent as routing sees it.
type Candidate struct {
	AgentID  string
	Name     string
	Status   AgentStatus
	Presence Presence
	Load     int // tasks assigned or offered now
	Capacity int
	Skills   map[string]int
	TeamIDs  []string
	// LastAssignedAt is when the agent was last given work; zero if never.
	// The longest idle agent is the one whose last assignment is oldest.
	LastAssignedAt time.Time
	// Declined is set when the agent rejected this task, or let an offer of
	// it time out: it is not offered the same task again.
	Declined bool
}

// RoutingRequest is what routing needs to know of a task and its queue.
type RoutingRequest struct {
	Strategy RoutingStrategy
	// RequiredSkills are the queue's and the task's together, each at the
	// higher of the two levels.
	RequiredSkills map[string]int
	// TeamIDs are the queue's teams; empty means every team, and no team.
	TeamIDs []string
	// LastAgentID is the agent the queue gave work to last, where round
	// robin resumes.
	LastAgentID string
}

// Reason codes say why an agent was or was not chosen.
const (
	ReasonChosen       = "chosen"
	ReasonNotActive    = "not_active"
	ReasonNotAvailable = "not_available"
	ReasonAtCapacity   = "at_capacity"
	ReasonMissingSkill = "missing_skill"
	ReasonNotInTeams   = "not_in_queue_teams"
	ReasonDeclined     = "declined_before"
	ReasonRankedLower  = "ranked_lower"
	ReasonManualQueue  = "manual_queue"
)

// RoutingReason is one thing said of a candidate, with a code for programs and a
// sentence for people.
type RoutingReason struct {
	Code    string
	Message string
}

// Verdict is routing's answer about one candidate.
type Verdict struct {
	Candidate *Candidate
	Eligible  bool
	Chosen    bool
	// Rank is the candidate's place among the eligible, from 1; 0 when not
	// eligible.
	Rank int
	// Value is what the strategy ranked the candidate by, in words.
	Value   string
	Reasons []RoutingReason
}

// Selector chooses the agent for a task among candidates, and explains the
// choice. The store asks it; internal/routing implements it.
type Selector interface {
	// Select returns the candidate the strategy gives the task to, nil
	// when none is eligible or the queue is routed by hand.
	Select(req RoutingRequest, candidates []*Candidate) *Candidate
	// Rank judges every candidate, the eligible first in the order the
	// strategy offers them work.
	Rank(req RoutingRequest, candidates []*Candidate) []Verdict
}

// MergeSkills merges a queue's and a task's required skills, keeping the
// higher level of a skill both name.
func MergeSkills(queue, task map[string]int) map[string]int {
	out := make(map[string]int, len(queue)+len(task))
	for _, m := range []map[string]int{queue, task} {
		for skill, level := range m {
			out[skill] = max(out[skill], level)
		}
	}
	return out
}
