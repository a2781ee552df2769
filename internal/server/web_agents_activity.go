package server

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard"
)

// agentActivity is what the agent page shows of an agent's work and
// presence: how it has been present, what it holds and has finished, and
// what it reports about itself.
type agentActivity struct {
	Timeline    *timelineView
	Current     []*switchboard.Task // offered or assigned now
	Recent      []*switchboard.Task // completed or cancelled, newest first
	HandleTime  string              // average, assigned to completed, over Handled tasks
	Handled     int
	Metadata    []metadataItem
	LastSeenAgo string
}

// timelineView is a presence timeline drawn as one bar: each period a
// segment, placed in a viewBox 1000 units wide.
type timelineView struct {
	From, To time.Time
	Segments []timelineSegment
	Ticks    []string // the times under the bar, left to right
	Summary  string   // the time spent in each presence, for screen readers
}

type timelineSegment struct {
	switchboard.PresencePeriod
	X, Width string
	Duration string
}

// metadataItem is one key of what an agent reports about itself.
type metadataItem struct{ Key, Value string }

// timelineWidth is the width of the timeline's viewBox.
const timelineWidth = 1000.0

// recentTasks is how many finished tasks the agent page lists.
const recentTasks = 10

// loadAgentActivity reads what the agent page shows beyond the agent.
func (s *Server) loadAgentActivity(ctx context.Context, a *switchboard.Agent, now time.Time) (*agentActivity, error) {
	act := &agentActivity{Metadata: metadataItems(a.Metadata)}
	if a.LastSeenAt != nil {
		act.LastSeenAgo = seenAgo(*a.LastSeenAt, now)
	}
	periods, err := s.Presence.PresenceTimeline(ctx, a.ID, time.Time{})
	if err != nil {
		return nil, err
	}
	act.Timeline = newTimelineView(periods)
	for _, st := range []switchboard.TaskStatus{switchboard.TaskOffered, switchboard.TaskAssigned, switchboard.TaskCompleted, switchboard.TaskCancelled} {
		p, err := s.Tasks.FindTasks(ctx, switchboard.TaskFilter{AgentID: a.ID, Status: st, Limit: recentTasks})
		if err != nil {
			return nil, err
		}
		if st.Terminal() {
			act.Recent = append(act.Recent, p.Items...)
		} else {
			act.Current = append(act.Current, p.Items...)
		}
	}
	slices.SortFunc(act.Recent, func(x, y *switchboard.Task) int { return finishedAt(y).Compare(finishedAt(x)) })
	act.Recent = act.Recent[:min(len(act.Recent), recentTasks)]
	var total time.Duration
	for _, t := range act.Recent {
		if t.Status == switchboard.TaskCompleted && t.AssignedAt != nil && t.CompletedAt != nil {
			total += t.CompletedAt.Sub(*t.AssignedAt)
			act.Handled++
		}
	}
	if act.Handled > 0 {
		act.HandleTime = humanDuration(total / time.Duration(act.Handled))
	}
	return act, nil
}

func finishedAt(t *switchboard.Task) time.Time {
	if t.CompletedAt != nil {
		return *t.CompletedAt
	}
	return t.UpdatedAt
}

// newTimelineView places periods on the bar, and sums them up in words.
func newTimelineView(periods []switchboard.PresencePeriod) *timelineView {
	if len(periods) == 0 {
		return nil
	}
	v := &timelineView{From: periods[0].From, To: periods[len(periods)-1].To}
	span := v.To.Sub(v.From)
	if span <= 0 {
		return nil
	}
	spent := map[switchboard.Presence]time.Duration{}
	for _, p := range periods {
		d := p.To.Sub(p.From)
		spent[p.Presence] += d
		x := timelineWidth * float64(p.From.Sub(v.From)) / float64(span)
		// A change of a few seconds still shows, as a sliver.
		w := max(timelineWidth*float64(d)/float64(span), 1)
		v.Segments = append(v.Segments, timelineSegment{PresencePeriod: p, X: fmt.Sprintf("%.2f", x), Width: fmt.Sprintf("%.2f", w),
			Duration: humanDuration(d)})
	}
	const ticks = 4
	for i := range ticks + 1 {
		v.Ticks = append(v.Ticks, v.From.Add(span*time.Duration(i)/ticks).UTC().Format("15:04"))
	}
	var parts []string
	for _, p := range []switchboard.Presence{switchboard.PresenceAvailable, switchboard.PresenceBusy, switchboard.PresenceAway, switchboard.PresenceOffline} {
		if spent[p] > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", p, humanDuration(spent[p])))
		}
	}
	v.Summary = strings.Join(parts, ", ") + "; now " + string(periods[len(periods)-1].Presence) + "."
	return v
}

// maxMetadataItems and maxMetadataValue bound what the page shows of an
// agent's own report: it is the agent's to fill.
const (
	maxMetadataItems = 50
	maxMetadataValue = 300
)

// metadataItems lists an agent's metadata by key: text as it is, anything
// else as compact JSON.
func metadataItems(m map[string]any) []metadataItem {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var items []metadataItem
	for _, k := range keys[:min(len(keys), maxMetadataItems)] {
		value, ok := m[k].(string)
		if !ok {
			b, _ := json.Marshal(m[k])
			value = string(b)
		}
		if r := []rune(value); len(r) > maxMetadataValue {
			value = string(r[:maxMetadataValue]) + "…"
		}
		items = append(items, metadataItem{Key: k, Value: value})
	}
	return items
}

// seenAgo says how long ago an agent was last seen, to the second while
// it is recent: a heartbeat comes every few seconds.
func seenAgo(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	}
	return relativeTime(&t, now)
}
