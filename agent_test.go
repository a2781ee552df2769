package switchboard_test

import (
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
