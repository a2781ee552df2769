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

// Ineligibility returns every reason the candidate may not take the task,
// none when it may.
func Ineligibility(t switchboard.RoutingRequest, c *switchboard.Candidate) []switchboard.RoutingReason {
	var reasons []switchboard.RoutingReason
	if c.Status != switchboard.AgentActive {
		reasons = append(reasons, reason(switchboard.ReasonNotActive, "Not active (%s).", c.Status))
	}
	if !c.Presence.CanTakeWork() {
		reasons = append(reasons, reason(switchboard.ReasonNotAvailable, "Not available (%s).", c.Presence))
	}
	if c.Load >= c.Capacity {
		reasons = append(reasons, reason(switchboard.ReasonAtCapacity, "At capacity (%d of %d).", c.Load, c.Capacity))
	}
	for _, skill := range switchboard.SortedSkills(t.RequiredSkills) {
		want, has := t.RequiredSkills[skill], c.Skills[skill]
		switch {
		case has == 0:
			reasons = append(reasons, reason(switchboard.ReasonMissingSkill, "Missing skill %s at level %d.", skill, want))
		case has < want:
			reasons = append(reasons, reason(switchboard.ReasonMissingSkill, "Missing skill %s at level %d (has %d).", skill, want, has))
		}
	}
	if len(t.TeamIDs) > 0 && !slices.ContainsFunc(c.TeamIDs, func(id string) bool { return slices.Contains(t.TeamIDs, id) }) {
		reasons = append(reasons, reason(switchboard.ReasonNotInTeams, "Not in any of the queue's teams."))
	}
	if c.Declined {
		reasons = append(reasons, reason(switchboard.ReasonDeclined, "Rejected this task before, or let its offer time out."))
	}
	return reasons
}

// Rank judges every candidate: the eligible first, in the order the
// strategy offers them work, then the others. A manual queue chooses
// nobody. Candidates are not changed.
func Rank(t switchboard.RoutingRequest, candidates []*switchboard.Candidate) []switchboard.Verdict {
	verdicts := make([]switchboard.Verdict, len(candidates))
	var eligible []*switchboard.Verdict
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
	slices.SortStableFunc(eligible, func(a, b *switchboard.Verdict) int { return compare(t, a.Candidate, b.Candidate) })
	for i, v := range eligible {
		v.Rank = i + 1
		switch {
		case t.Strategy == switchboard.Manual:
			v.Reasons = []switchboard.RoutingReason{reason(switchboard.ReasonManualQueue, "The queue is routed by hand.")}
		case i == 0:
			v.Chosen = true
			v.Reasons = []switchboard.RoutingReason{reason(switchboard.ReasonChosen, "Ranked first under %s (%s).", t.Strategy, v.Value)}
		default:
			v.Reasons = []switchboard.RoutingReason{reason(switchboard.ReasonRankedLower, "Ranked %d under %s (%s).", i+1, t.Strategy, v.Value)}
		}
	}
	// Eligible first, in rank order; the rest after, as given.
	slices.SortStableFunc(verdicts, func(a, b switchboard.Verdict) int {
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
func Select(t switchboard.RoutingRequest, candidates []*switchboard.Candidate) *switchboard.Candidate {
	if t.Strategy == switchboard.Manual {
		return nil
	}
	var best *switchboard.Candidate
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
func compare(t switchboard.RoutingRequest, a, b *switchboard.Candidate) int {
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
func skillTotal(t switchboard.RoutingRequest, c *switchboard.Candidate) int {
	total := 0
	for skill := range t.RequiredSkills {
		total += c.Skills[skill]
	}
	return total
}

// rankValue says in words what the strategy ranks the candidate by.
func rankValue(t switchboard.RoutingRequest, c *switchboard.Candidate) string {
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

// Engine is the routing engine as the store reaches it.
type Engine struct{}

var _ switchboard.Selector = Engine{}

// Select is the package's Select.
func (Engine) Select(req switchboard.RoutingRequest, candidates []*switchboard.Candidate) *switchboard.Candidate {
	return Select(req, candidates)
}

// Rank is the package's Rank.
func (Engine) Rank(req switchboard.RoutingRequest, candidates []*switchboard.Candidate) []switchboard.Verdict {
	return Rank(req, candidates)
}

func reason(code, format string, args ...any) switchboard.RoutingReason {
	return switchboard.RoutingReason{Code: code, Message: fmt.Sprintf(format, args...)}
}
