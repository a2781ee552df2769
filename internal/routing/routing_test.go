package routing_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/routing"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// agent returns an active, available candidate with room for one task.
func agent(id string, opts ...func(*switchboard.Candidate)) *switchboard.Candidate {
	c := &switchboard.Candidate{AgentID: id, Name: "Agent " + id, Status: switchboard.AgentActive,
		Presence: switchboard.PresenceAvailable, Capacity: 1, Skills: map[string]int{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

func load(n, capacity int) func(*switchboard.Candidate) {
	return func(c *switchboard.Candidate) { c.Load, c.Capacity = n, capacity }
}
func skill(name string, level int) func(*switchboard.Candidate) {
	return func(c *switchboard.Candidate) { c.Skills[name] = level }
}
func assigned(ago time.Duration) func(*switchboard.Candidate) {
	return func(c *switchboard.Candidate) { c.LastAssignedAt = t0.Add(-ago) }
}
func teams(ids ...string) func(*switchboard.Candidate) {
	return func(c *switchboard.Candidate) { c.TeamIDs = ids }
}
func status(s switchboard.AgentStatus) func(*switchboard.Candidate) {
	return func(c *switchboard.Candidate) { c.Status = s }
}
func presence(p switchboard.Presence) func(*switchboard.Candidate) {
	return func(c *switchboard.Candidate) { c.Presence = p }
}
func declined(c *switchboard.Candidate) { c.Declined = true }

func TestSelect(t *testing.T) {
	tests := []struct {
		name       string
		task       switchboard.RoutingRequest
		candidates []*switchboard.Candidate
		want       string // "" for nobody
	}{
		{"LongestIdle_OldestAssignmentFirst", switchboard.RoutingRequest{Strategy: switchboard.LongestIdle},
			[]*switchboard.Candidate{agent("a", assigned(time.Minute)), agent("b", assigned(time.Hour)), agent("c", assigned(time.Second))}, "b"},
		{"LongestIdle_NeverAssignedBeatsAnyone", switchboard.RoutingRequest{Strategy: switchboard.LongestIdle},
			[]*switchboard.Candidate{agent("a", assigned(24*time.Hour)), agent("b")}, "b"},
		{"LongestIdle_TieOnID", switchboard.RoutingRequest{Strategy: switchboard.LongestIdle},
			[]*switchboard.Candidate{agent("c", assigned(time.Hour)), agent("a", assigned(time.Hour)), agent("b", assigned(time.Hour))}, "a"},
		{"LeastLoaded_LowestShare", switchboard.RoutingRequest{Strategy: switchboard.LeastLoaded},
			[]*switchboard.Candidate{agent("a", load(1, 2)), agent("b", load(1, 4)), agent("c", load(2, 3))}, "b"},
		{"LeastLoaded_EqualShareThenIdle", switchboard.RoutingRequest{Strategy: switchboard.LeastLoaded},
			[]*switchboard.Candidate{agent("a", load(1, 2), assigned(time.Minute)), agent("b", load(2, 4), assigned(time.Hour))}, "b"},
		{"LeastLoaded_EmptyBeatsPartlyLoaded", switchboard.RoutingRequest{Strategy: switchboard.LeastLoaded},
			[]*switchboard.Candidate{agent("a", load(1, 10)), agent("b", load(0, 1))}, "b"},
		{"MostSkilled_HighestTotal", switchboard.RoutingRequest{Strategy: switchboard.MostSkilled, RequiredSkills: map[string]int{"billing": 3, "spanish": 2}},
			[]*switchboard.Candidate{agent("a", skill("billing", 9), skill("spanish", 2)), agent("b", skill("billing", 5), skill("spanish", 7)), agent("c", skill("billing", 10), skill("spanish", 1))}, "b"},
		{"MostSkilled_OtherSkillsDoNotCount", switchboard.RoutingRequest{Strategy: switchboard.MostSkilled, RequiredSkills: map[string]int{"billing": 1}},
			[]*switchboard.Candidate{agent("a", skill("billing", 5), skill("french", 10)), agent("b", skill("billing", 6))}, "b"},
		{"MostSkilled_TieThenIdle", switchboard.RoutingRequest{Strategy: switchboard.MostSkilled, RequiredSkills: map[string]int{"billing": 1}},
			[]*switchboard.Candidate{agent("a", skill("billing", 5), assigned(time.Minute)), agent("b", skill("billing", 5), assigned(time.Hour))}, "b"},
		{"RoundRobin_NextAfterLast", switchboard.RoutingRequest{Strategy: switchboard.RoundRobin, LastAgentID: "b"},
			[]*switchboard.Candidate{agent("a"), agent("b"), agent("c"), agent("d")}, "c"},
		{"RoundRobin_WrapsAround", switchboard.RoutingRequest{Strategy: switchboard.RoundRobin, LastAgentID: "d"},
			[]*switchboard.Candidate{agent("c"), agent("b"), agent("d")}, "b"},
		{"RoundRobin_SkipsIneligibleTurn", switchboard.RoutingRequest{Strategy: switchboard.RoundRobin, LastAgentID: "a"},
			[]*switchboard.Candidate{agent("a"), agent("b", load(1, 1)), agent("c")}, "c"},
		{"RoundRobin_FirstTurn", switchboard.RoutingRequest{Strategy: switchboard.RoundRobin},
			[]*switchboard.Candidate{agent("b"), agent("a")}, "a"},
		{"Manual_NeverChooses", switchboard.RoutingRequest{Strategy: switchboard.Manual},
			[]*switchboard.Candidate{agent("a")}, ""},
		{"Capacity_Full", switchboard.RoutingRequest{Strategy: switchboard.LongestIdle},
			[]*switchboard.Candidate{agent("a", load(2, 2))}, ""},
		{"Capacity_OneLeft", switchboard.RoutingRequest{Strategy: switchboard.LongestIdle},
			[]*switchboard.Candidate{agent("a", load(2, 3))}, "a"},
		{"Capacity_OverFull", switchboard.RoutingRequest{Strategy: switchboard.LeastLoaded},
			[]*switchboard.Candidate{agent("a", load(3, 2)), agent("b", load(4, 5))}, "b"},
		{"Busy_WithRoomTakesWork", switchboard.RoutingRequest{Strategy: switchboard.LongestIdle},
			[]*switchboard.Candidate{agent("a", presence(switchboard.PresenceBusy), load(1, 2))}, "a"},
		{"Away_DoesNot", switchboard.RoutingRequest{Strategy: switchboard.LongestIdle},
			[]*switchboard.Candidate{agent("a", presence(switchboard.PresenceAway)), agent("b", presence(switchboard.PresenceOffline))}, ""},
		{"Suspended_DoesNot", switchboard.RoutingRequest{Strategy: switchboard.LongestIdle},
			[]*switchboard.Candidate{agent("a", status(switchboard.AgentSuspended)), agent("b", status(switchboard.AgentPending))}, ""},
		{"Skills_AtLevelIsEnough", switchboard.RoutingRequest{Strategy: switchboard.LongestIdle, RequiredSkills: map[string]int{"billing": 3}},
			[]*switchboard.Candidate{agent("a", skill("billing", 2)), agent("b", skill("billing", 3))}, "b"},
		{"Teams_OnlyTheQueues", switchboard.RoutingRequest{Strategy: switchboard.LongestIdle, TeamIDs: []string{"t2"}},
			[]*switchboard.Candidate{agent("a", teams("t1")), agent("b", teams("t1", "t2")), agent("c")}, "b"},
		{"Teams_EmptyMeansAll", switchboard.RoutingRequest{Strategy: switchboard.LongestIdle},
			[]*switchboard.Candidate{agent("a", teams("t1"), assigned(time.Minute)), agent("b", assigned(time.Hour))}, "b"},
		{"Declined_Skipped", switchboard.RoutingRequest{Strategy: switchboard.LongestIdle},
			[]*switchboard.Candidate{agent("a", declined), agent("b", assigned(time.Second))}, "b"},
		{"NoCandidates", switchboard.RoutingRequest{Strategy: switchboard.LongestIdle}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := routing.Select(tt.task, tt.candidates)
			gotID := ""
			if got != nil {
				gotID = got.AgentID
			}
			if gotID != tt.want {
				t.Errorf("Select = %q, want %q", gotID, tt.want)
			}
			// Rank must agree with Select.
			verdicts := routing.Rank(tt.task, tt.candidates)
			chosen := ""
			for _, v := range verdicts {
				if v.Chosen {
					chosen = v.Candidate.AgentID
				}
			}
			if chosen != tt.want {
				t.Errorf("Rank chose %q, want %q", chosen, tt.want)
			}
		})
	}
}

// TestRank_Explains: every candidate gets a reason, every reason it is
// ineligible, and the eligible their rank and ranking value.
func TestRank_Explains(t *testing.T) {
	task := switchboard.RoutingRequest{Strategy: switchboard.LongestIdle, RequiredSkills: map[string]int{"billing": 3, "spanish": 2}, TeamIDs: []string{"t1"}}
	full := func(c *switchboard.Candidate) {
		c.Skills["billing"], c.Skills["spanish"], c.TeamIDs = 5, 5, []string{"t1"}
	}
	verdicts := routing.Rank(task, []*switchboard.Candidate{
		agent("suspended", full, status(switchboard.AgentSuspended), presence(switchboard.PresenceAway)),
		agent("second", full, assigned(time.Minute)),
		agent("weak", teams("t1"), skill("billing", 2)),
		agent("outsider", full, teams("t9")),
		agent("full", full, load(1, 1)),
		agent("first", full, assigned(time.Hour)),
		agent("declined", full, declined),
	})
	got := map[string]string{}
	var order []string
	for _, v := range verdicts {
		var codes []string
		for _, r := range v.Reasons {
			codes = append(codes, r.Code+": "+r.Message)
		}
		got[v.Candidate.AgentID] = strings.Join(codes, " | ")
		order = append(order, v.Candidate.AgentID)
	}
	want := map[string]string{
		"first":     "chosen: Ranked first under longest_idle (last assigned 2026-03-01T08:00:00Z).",
		"second":    "ranked_lower: Ranked 2 under longest_idle (last assigned 2026-03-01T08:59:00Z).",
		"suspended": "not_active: Not active (suspended). | not_available: Not available (away).",
		"weak":      "missing_skill: Missing skill billing at level 3 (has 2). | missing_skill: Missing skill spanish at level 2.",
		"outsider":  "not_in_queue_teams: Not in any of the queue's teams.",
		"full":      "at_capacity: At capacity (1 of 1).",
		"declined":  "declined_before: Rejected this task before, or let its offer time out.",
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %q\nwant %q", id, got[id], w)
		}
	}
	if !slices.Equal(order[:2], []string{"first", "second"}) {
		t.Errorf("order %v: want the eligible first, in rank order", order)
	}
	if verdicts[0].Rank != 1 || verdicts[1].Rank != 2 || verdicts[2].Rank != 0 {
		t.Errorf("ranks %d %d %d, want 1 2 0", verdicts[0].Rank, verdicts[1].Rank, verdicts[2].Rank)
	}
}

func TestRank_ManualQueue(t *testing.T) {
	verdicts := routing.Rank(switchboard.RoutingRequest{Strategy: switchboard.Manual}, []*switchboard.Candidate{agent("a")})
	if len(verdicts) != 1 || verdicts[0].Chosen || !verdicts[0].Eligible || verdicts[0].Reasons[0].Code != switchboard.ReasonManualQueue {
		t.Errorf("manual queue verdict = %+v", verdicts[0])
	}
}

func TestMergeSkills_HigherLevelWins(t *testing.T) {
	got := switchboard.MergeSkills(map[string]int{"billing": 3, "spanish": 2}, map[string]int{"billing": 5, "french": 1})
	want := map[string]int{"billing": 5, "spanish": 2, "french": 1}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
}

// FuzzRank: whatever the candidates, Rank and Select agree, and no
// ineligible candidate is ever chosen.
func FuzzRank(f *testing.F) {
	f.Add(uint8(0), []byte{1, 2, 3, 4, 5, 6})
	f.Add(uint8(2), []byte{9, 0, 1, 7, 7, 7, 3, 3})
	f.Fuzz(func(t *testing.T, strategy uint8, data []byte) {
		task := switchboard.RoutingRequest{Strategy: switchboard.RoutingStrategies[int(strategy)%len(switchboard.RoutingStrategies)],
			RequiredSkills: map[string]int{"s": 3}, LastAgentID: "c"}
		var cands []*switchboard.Candidate
		for i := 0; i+2 < len(data) && len(cands) < 20; i += 3 {
			c := agent(string(rune('a' + len(cands))))
			c.Capacity = int(data[i]%4) + 1
			c.Load = int(data[i+1] % 5)
			c.Skills["s"] = int(data[i+2] % 6)
			c.LastAssignedAt = t0.Add(-time.Duration(data[i]) * time.Minute)
			cands = append(cands, c)
		}
		sel := routing.Select(task, cands)
		var chosen *switchboard.Candidate
		for _, v := range routing.Rank(task, cands) {
			if v.Chosen {
				if !v.Eligible || chosen != nil {
					t.Fatalf("chose %s: eligible %v, second choice %v", v.Candidate.AgentID, v.Eligible, chosen != nil)
				}
				chosen = v.Candidate
			}
		}
		if sel != chosen {
			t.Fatalf("Select %v, Rank chose %v", sel, chosen)
		}
		if sel != nil && (sel.Load >= sel.Capacity || sel.Skills["s"] < 3) {
			t.Fatalf("chose an ineligible agent %+v", sel)
		}
	})
}
