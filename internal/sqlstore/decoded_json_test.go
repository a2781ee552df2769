package sqlstore

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
)

// roundTrip is what reading v back from its JSON gives.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	var out any
	if err := unmarshalJSON(mustJSON(v), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

type textStatus string

func (s textStatus) MarshalText() ([]byte, error) { return []byte("text:" + s), nil }

type pointerJSON struct{ n int }

func (p *pointerJSON) MarshalJSON() ([]byte, error) { return []byte(`"pointer"`), nil }

// A value decodedJSON tells is the one the round trip gives; one it cannot
// tell, it says so.
func TestDecodedJSON(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891, time.FixedZone("x", 3600))
	three := 3
	told := map[string]any{
		"string":       "héllo <b>&</b> \"quoted\"\n",
		"empty":        "",
		"bool":         true,
		"nil":          nil,
		"int":          -42,
		"int64":        int64(math.MaxInt64),
		"int8":         int8(-8),
		"uint64":       uint64(math.MaxUint64),
		"byte":         byte(7),
		"time":         at,
		"status":       switchboard.TaskAssigned,
		"strings":      []string{"a", "b"},
		"no strings":   []string(nil),
		"empty list":   []string{},
		"statuses":     []switchboard.TaskStatus{switchboard.TaskQueued},
		"any list":     []any{1, "two", nil, []int{3}},
		"map":          map[string]any{"nested": map[string]int{"n": 1}},
		"no map":       map[string]any(nil),
		"named map":    map[string]string(nil),
		"pointer":      &three,
		"nil pointer":  (*int)(nil),
		"time pointer": &at,
		"skills":       map[string]int{"billing": 3},
	}
	for name, v := range told {
		got, ok := decodedJSON(v)
		if !ok {
			t.Errorf("%s: %#v not told", name, v)
			continue
		}
		if want := roundTrip(t, v); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %#v gave %#v, the round trip %#v", name, v, got, want)
		}
	}
	if got, ok := decodedJSON(told); !ok || !reflect.DeepEqual(got, roundTrip(t, told)) {
		t.Errorf("all at once: %#v (%v)", got, ok)
	}

	itself := map[string]any{}
	itself["again"] = itself
	notTold := map[string]any{
		"itself":           itself,
		"float":            1.5,
		"number":           json.Number("12"),
		"bytes":            []byte("abc"),
		"byte array":       [2]byte{1, 2},
		"struct":           struct{ A int }{1},
		"text marshaler":   textStatus("x"),
		"pointer receiver": []pointerJSON{{1}},
		"not UTF-8":        "a\xffb",
		"key not UTF-8":    map[string]any{"a\xff": 1},
		"int keys":         map[int]string{1: "a"},
		"far time":         time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		"nested float":     map[string]any{"a": []any{1, 2.5}},
	}
	for name, v := range notTold {
		if got, ok := decodedJSON(v); ok {
			t.Errorf("%s: %#v told as %#v", name, v, got)
		}
	}
}

// The events OnEvents learns of are those a read of their rows gives.
func TestEventRowDomainReadsBackItsEvent(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	events := []*switchboard.Event{
		{Type: switchboard.AuditTaskAssigned, Subject: switchboard.EventSubject{Type: "task", ID: "t1", Name: "Call back"},
			TeamIDs: []string{"team1"}, AgentID: "a1",
			Before: map[string]any{"status": switchboard.TaskOffered},
			After:  map[string]any{"status": switchboard.TaskAssigned, "agent_id": "a1"},
			Data:   map[string]any{"reason": "accepted", "offer_id": "o1", "priority": 50}},
		{Type: switchboard.AuditTaskCreated, Subject: switchboard.EventSubject{Type: "task", ID: "t2"},
			After: map[string]any{"status": switchboard.TaskQueued, "expires_at": &at, "skills": map[string]int{"billing": 3}}},
		{Type: "team.updated", Data: map[string]any{"before": map[string]any{"name": "in data"}, "after": "not a map"}},
		{Type: "agent.updated", Before: map[string]any{"weight": 0.5}, After: map[string]any{"weight": 1.5}},
		{Type: "agent.updated", Data: map[string]any{"name": "a\xffb"}, TeamIDs: []string{"t\xff"}},
		{Type: "agent.updated", Data: map[string]any{"at": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "n": 1}},
		{Type: "agent.created"},
	}
	for i, e := range events {
		e.ID, e.Position, e.At = "e", int64(i+1), at
		row := newEventRow(e)
		got := row.domain()
		row.teams, row.data = nil, nil // as read from the table
		if want := row.domain(); !reflect.DeepEqual(got, want) {
			t.Errorf("event %d:\n got %#v\nwant %#v", i, got, want)
		}
	}
}

// BenchmarkEventRowDomain measures what OnEvents pays per event of the
// task path: the event made of the one written (as committed changes give
// it), against the same decoded from its row's JSON (as before, and as a
// read of the table still does).
//
//	go test ./internal/sqlstore -run '^$' -bench EventRowDomain -count 10
func BenchmarkEventRowDomain(b *testing.B) {
	e := &switchboard.Event{ID: "0195b1c2-7d3e-7f00-8a1b-2c3d4e5f6a7b", Position: 1, Type: switchboard.AuditTaskAssigned,
		At:      time.Now(),
		Actor:   switchboard.EventActor{Type: "agent", ID: "0195b1c2-7d3e-7f00-8a1b-2c3d4e5f6a7c", Name: "Agent 17"},
		Subject: switchboard.EventSubject{Type: "task", ID: "0195b1c2-7d3e-7f00-8a1b-2c3d4e5f6a7d", Name: "Call back"},
		TeamIDs: []string{"0195b1c2-7d3e-7f00-8a1b-2c3d4e5f6a7e"}, AgentID: "0195b1c2-7d3e-7f00-8a1b-2c3d4e5f6a7c",
		Before: map[string]any{"status": switchboard.TaskOffered},
		After:  map[string]any{"status": switchboard.TaskAssigned, "agent_id": "0195b1c2-7d3e-7f00-8a1b-2c3d4e5f6a7c"},
		Data:   map[string]any{"offer_id": "0195b1c2-7d3e-7f00-8a1b-2c3d4e5f6a7f"}}
	row := newEventRow(e)
	read := *row
	read.teams, read.data = nil, nil
	b.Run("made of the event", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			row.domain()
		}
	})
	b.Run("read from the table", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			read.domain()
		}
	})
}
