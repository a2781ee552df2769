package sqlstore

import (
	"slices"
	"testing"
)

// A batch makes the sets that wait for agents' rows before those that take
// agents with SKIP LOCKED, and those that end with new rows last, whatever
// the order the changes arrived in; the rest keep the order of their first
// change, each set its changes'.
func TestSetsOf_SetsThatWaitForAgentsComeFirst(t *testing.T) {
	create := func(queue string) *change {
		return &change{set: &setWork{key: "create " + queue, endsWithNewRows: true}}
	}
	complete := &setWork{key: "complete", waitsForAgents: true}
	batch := []*change{
		create("q1"),                   // 0
		{set: &setWork{key: "accept"}}, // 1
		{},                             // 2: made alone
		{set: complete},                // 3
		create("q2"),                   // 4
		create("q1"),                   // 5
		{set: complete},                // 6
		{},                             // 7
	}
	sets, alone := setsOf(batch)
	want := [][]int{{3, 6}, {1}, {0, 5}, {4}}
	if !slices.EqualFunc(sets, want, slices.Equal) {
		t.Errorf("sets %v, want %v", sets, want)
	}
	if !slices.Equal(alone, []int{2, 7}) {
		t.Errorf("alone %v, want [2 7]", alone)
	}
}
