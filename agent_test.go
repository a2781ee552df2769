package switchboard_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/switchboardhq/switchboard"
)

// TestAgentLifecycle: every move of the lifecycle has exactly one action
// named for it, and the actions that apply to a status are its moves, in
// order.
func TestAgentLifecycle(t *testing.T) {
	for _, s := range switchboard.AgentStatuses {
		var got []switchboard.AgentStatus
		for _, a := range s.Actions() {
			got = append(got, a.To)
		}
		if want := s.Transitions(); !slices.Equal(got, want) {
			t.Errorf("%s: actions lead to %v, want %v", s, got, want)
		}
	}
	for _, a := range switchboard.AgentActions {
		if len(a.From()) == 0 {
			t.Errorf("action %s leads to %s, which no status moves to", a.Name, a.To)
		}
		for _, b := range switchboard.AgentActions {
			if a != b && (a.Name == b.Name || a.To == b.To) {
				t.Errorf("actions %v and %v overlap", a, b)
			}
		}
	}
	retire := switchboard.AgentActions[slices.IndexFunc(switchboard.AgentActions, func(a switchboard.AgentAction) bool { return a.Name == "retire" })]
	if got, want := retire.From(), []switchboard.AgentStatus{switchboard.AgentActive, switchboard.AgentSuspended}; !slices.Equal(got, want) {
		t.Errorf("retire applies to %v, want %v", got, want)
	}
}

// FuzzParseAgentFilter: whatever a list's address holds, reading its filter
// does not panic; it refuses with EINVALID naming a parameter, or returns a
// filter that only holds what every engine can compare, and that validates
// again unchanged.
func FuzzParseAgentFilter(f *testing.F) {
	f.Fuzz(func(t *testing.T, rawQuery string) {
		q, _ := url.ParseQuery(rawQuery) // what parses, as net/http keeps it
		filter, err := switchboard.ParseAgentFilter(q)
		if err != nil {
			fields := switchboard.ErrorFields(err)
			if switchboard.ErrorCode(err) != switchboard.EINVALID || len(fields) == 0 {
				t.Fatalf("error %v, want EINVALID with fields", err)
			}
			for _, fe := range fields {
				if !slices.Contains([]string{"q", "status", "presence", "kind", "team", "skill", "min_level", "sort", "limit"}, fe.Field) {
					t.Fatalf("error on %q, which is not a parameter", fe.Field)
				}
			}
			return
		}
		switch {
		case filter.Limit < 1 || filter.Limit > switchboard.MaxPageLimit:
			t.Fatalf("limit %d", filter.Limit)
		case !slices.Contains(switchboard.AgentSorts, filter.Sort):
			t.Fatalf("sort %q", filter.Sort)
		case filter.TeamID != "" && !switchboard.ValidID(filter.TeamID):
			t.Fatalf("team %q", filter.TeamID)
		case !switchboard.ValidText(filter.Query) || !switchboard.ValidText(filter.Skill):
			t.Fatalf("text %q %q", filter.Query, filter.Skill)
		case !isASCII(switchboard.NormalizeSkill(filter.Skill)): // as the store queries it
			t.Fatalf("skill %q", filter.Skill)
		case filter.Status != "" && !filter.Status.Valid(), filter.Presence != "" && !filter.Presence.Valid(), filter.Kind != "" && !filter.Kind.Valid():
			t.Fatalf("filter %+v", filter)
		}
		again := filter
		if err := again.Validate(); err != nil || again != filter {
			t.Fatalf("validated again: %+v, %v; want %+v", again, err, filter)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
