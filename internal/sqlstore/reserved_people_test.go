package sqlstore

import (
	"maps"
	"slices"
	"testing"

	"github.com/switchboardhq/switchboard"
)

// The people read as agents were taken stand for the batch only while no
// change of it may have changed one of them.
func TestReservedPeople(t *testing.T) {
	ann, bob := "a1", "a2"
	taking := func(types ...string) *Tx {
		tx := &Tx{}
		for _, typ := range types {
			tx.events = append(tx.events, &switchboard.Event{Type: typ})
		}
		return tx
	}
	routed := taking(switchboard.AuditTaskCreated, switchboard.AuditTaskOffered)
	routed.knowPerson(&person{Via: "agent", AgentID: &ann})
	assigned := taking(switchboard.AuditTaskCreated, switchboard.AuditTaskAssigned)
	assigned.knowPerson(&person{Via: "agent", AgentID: &bob})
	for _, tc := range []struct {
		name    string
		changes []*Tx
		want    []string
	}{
		{"routing alone", []*Tx{routed}, []string{ann}},
		{"with completions and rejections", []*Tx{taking(switchboard.AuditTaskCompleted), routed,
			taking(switchboard.AuditOfferRejected, switchboard.AuditTaskOffered), assigned}, []string{ann, bob}},
		{"with an agent's update", []*Tx{routed, taking(switchboard.AuditAgentUpdated)}, nil},
		{"with a user's update first", []*Tx{taking(switchboard.AuditUserUpdated), routed}, nil},
		{"with a change that recorded nothing", []*Tx{routed, {}}, nil},
		{"nobody taken", []*Tx{taking(switchboard.AuditTaskCompleted)}, nil},
	} {
		got := slices.Sorted(maps.Keys(reservedPeople(tc.changes)))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: people of %q, want %q", tc.name, got, tc.want)
		}
	}
}
