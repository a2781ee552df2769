// Package routing is the pure part of the assignment engine: which agents
// may take a task, in which order a queue's strategy ranks them, and why
// each was or was not chosen. It reads no database and keeps no state; the
// store gives it the few candidates an indexed query found, and the
// database enforces the outcome (capacity, one agent per task).
package routing

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/switchboardhq/switchboard"
)

// Candidate is an agent as routing sees it.
type Candidate struct {
	AgentID  string
	Name     string
	Status   switchboard.AgentStatus
	Presence switchboard.Presence
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

// Task is what routing needs to know of a task and its queue.
type Task struct {
	Strategy switchboard.RoutingStrategy
	// RequiredSkills are the queue's and the task's together, each at the
	// higher of the two levels.
	RequiredSkills map[string]int
	// TeamIDs are the queue's teams; empty means every team, and no team.
	TeamIDs []string
	// LastAgentID is the agent the queue gave work to last, where round
	// robin resumes.
	LastAgentID string
}

// RequiredSkills merges a queue's and a task's required skills, keeping the
// higher level of a skill both name.
func RequiredSkills(queue, task map[string]int) map[string]int {
	out := make(map[string]int, len(queue)+len(task))
	for _, m := range []map[string]int{queue, task} {
		for skill, level := range m {
			out[skill] = max(out[skill], level)
		}
	}
	return out
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

// Reason is one thing said of a candidate, with a code for programs and a
// sentence for people.
type Reason struct {
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
	Reasons []Reason
}

// Ineligibility returns every reason the candidate may not take the task,
// none when it may.
func Ineligibility(t Task, c *Candidate) []Reason {
	var reasons []Reason
	if c.Status != switchboard.AgentActive {
		reasons = append(reasons, Reason{ReasonNotActive, fmt.Sprintf("Not active (%s).", c.Status)})
	}
	if !c.Presence.CanTakeWork() {
		reasons = append(reasons, Reason{ReasonNotAvailable, fmt.Sprintf("Not available (%s).", c.Presence)})
	}
	if c.Load >= c.Capacity {
		reasons = append(reasons, Reason{ReasonAtCapacity, fmt.Sprintf("At capacity (%d of %d).", c.Load, c.Capacity)})
	}
	for _, skill := range switchboard.SortedSkills(t.RequiredSkills) {
		want, has := t.RequiredSkills[skill], c.Skills[skill]
		switch {
		case has == 0:
			reasons = append(reasons, Reason{ReasonMissingSkill, fmt.Sprintf("Missing skill %s at level %d.", skill, want)})
		case has < want:
			reasons = append(reasons, Reason{ReasonMissingSkill, fmt.Sprintf("Missing skill %s at level %d (has %d).", skill, want, has)})
		}
	}
	if len(t.TeamIDs) > 0 && !slices.ContainsFunc(c.TeamIDs, func(id string) bool { return slices.Contains(t.TeamIDs, id) }) {
		reasons = append(reasons, Reason{ReasonNotInTeams, "Not in any of the queue's teams."})
	}
	if c.Declined {
		reasons = append(reasons, Reason{ReasonDeclined, "Rejected this task before, or let its offer time out."})
	}
	return reasons
}

// Rank judges every candidate: the eligible first, in the order the
// strategy offers them work, then the others. A manual queue chooses
// nobody. Candidates are not changed.
func Rank(t Task, candidates []*Candidate) []Verdict {
	verdicts := make([]Verdict, len(candidates))
	var eligible []*Verdict
	for i, c := range candidates {
		v := &verdicts[i]
		v.Candidate = c
		v.Reasons = Ineligibility(t, c)
		v.Eligible = len(v.Reasons) == 0
		if v.Eligible {
			v.Value = rankValue(t, c)
			eligible = append(eligible, v)
		}
	}
	slices.SortStableFunc(eligible, func(a, b *Verdict) int { return compare(t, a.Candidate, b.Candidate) })
	for i, v := range eligible {
		v.Rank = i + 1
		switch {
		case t.Strategy == switchboard.Manual:
			v.Reasons = []Reason{{ReasonManualQueue, "The queue is routed by hand."}}
		case i == 0:
			v.Chosen = true
			v.Reasons = []Reason{{ReasonChosen, fmt.Sprintf("Ranked first under %s (%s).", t.Strategy, v.Value)}}
		default:
			v.Reasons = []Reason{{ReasonRankedLower, fmt.Sprintf("Ranked %d under %s (%s).", i+1, t.Strategy, v.Value)}}
		}
	}
	// Eligible first, in rank order; the rest after, as given.
	slices.SortStableFunc(verdicts, func(a, b Verdict) int {
		switch {
		case a.Eligible && b.Eligible:
			return cmp.Compare(a.Rank, b.Rank)
		case a.Eligible:
			return -1
		case b.Eligible:
			return 1
		}
		return 0
	})
	return verdicts
}

// Select returns the agent the strategy offers the task to, or nil when
// none is eligible or the queue is routed by hand.
func Select(t Task, candidates []*Candidate) *Candidate {
	if t.Strategy == switchboard.Manual {
		return nil
	}
	var best *Candidate
	for _, c := range candidates {
		if len(Ineligibility(t, c)) == 0 && (best == nil || compare(t, c, best) < 0) {
			best = c
		}
	}
	return best
}

// compare orders two eligible candidates as the strategy offers them work:
// negative when a comes first. Ties end on the agent ID, so that the order
// is total and every instance agrees on it.
func compare(t Task, a, b *Candidate) int {
	switch t.Strategy {
	case switchboard.LeastLoaded:
		// a.Load/a.Capacity against b.Load/b.Capacity, without division.
		if c := cmp.Compare(a.Load*b.Capacity, b.Load*a.Capacity); c != 0 {
			return c
		}
	case switchboard.MostSkilled:
		if c := cmp.Compare(skillTotal(t, b), skillTotal(t, a)); c != 0 {
			return c
		}
	case switchboard.RoundRobin:
		// Agents after the last one come first, in ID order, then the rest
		// from the start: a rotation over IDs.
		aAfter, bAfter := a.AgentID > t.LastAgentID, b.AgentID > t.LastAgentID
		if aAfter != bAfter {
			if aAfter {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.AgentID, b.AgentID)
	}
	if c := a.LastAssignedAt.Compare(b.LastAssignedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.AgentID, b.AgentID)
}

// skillTotal is the sum of a candidate's levels on the required skills.
func skillTotal(t Task, c *Candidate) int {
	total := 0
	for skill := range t.RequiredSkills {
		total += c.Skills[skill]
	}
	return total
}

// rankValue says in words what the strategy ranks the candidate by.
func rankValue(t Task, c *Candidate) string {
	idle := "never assigned"
	if !c.LastAssignedAt.IsZero() {
		idle = "last assigned " + c.LastAssignedAt.UTC().Format(time.RFC3339)
	}
	switch t.Strategy {
	case switchboard.LeastLoaded:
		return fmt.Sprintf("load %d of %d, %s", c.Load, c.Capacity, idle)
	case switchboard.MostSkilled:
		return fmt.Sprintf("skill total %d, %s", skillTotal(t, c), idle)
	case switchboard.RoundRobin:
		if t.LastAgentID == "" {
			return "no turn taken yet"
		}
		return "turn after the queue's last agent"
	}
	return idle
}
