package switchboard

import (
	"fmt"
	"strings"
)

// MaxBulkAgents bounds the agents one bulk action changes, so that one
// transaction stays short enough not to hold the agents table for long.
const MaxBulkAgents = 1000

// Bulk actions: the lifecycle actions (activate, suspend, retire) and the
// two team memberships.
const (
	BulkAddToTeam      = "add_to_team"
	BulkRemoveFromTeam = "remove_from_team"
)

// BulkActions lists every bulk action, in the order a form offers them.
var BulkActions = []string{"activate", "suspend", "retire", BulkAddToTeam, BulkRemoveFromTeam}

// AgentBulk is one action on many agents: those named by IDs, or else every
// agent in the actor's scope that Filter matches (its order, limit and
// cursor are ignored).
type AgentBulk struct {
	Action string
	IDs    []string
	Filter *AgentFilter
	TeamID string // for the team actions
}

// Status returns the status a lifecycle action moves agents to, and false
// for a team action.
func (b *AgentBulk) Status() (AgentStatus, bool) {
	for _, a := range AgentActions {
		if a.Name == b.Action {
			return a.To, true
		}
	}
	return "", false
}

// TeamAction reports whether the action changes a team's members.
func (b *AgentBulk) TeamAction() bool {
	return b.Action == BulkAddToTeam || b.Action == BulkRemoveFromTeam
}

// Validate normalizes and checks the input: a known action, either IDs or a
// filter, at most MaxBulkAgents IDs, a team for the team actions only.
func (b *AgentBulk) Validate() error {
	var v Validation
	b.Action = strings.ToLower(strings.TrimSpace(b.Action))
	b.IDs = dedupe(b.IDs)
	if _, ok := b.Status(); !ok && !b.TeamAction() {
		v.Add("action", "Choose one of %s.", strings.Join(BulkActions, ", "))
	}
	switch {
	case len(b.IDs) > 0 && b.Filter != nil:
		v.Add("ids", "Name the agents either by ID or by a filter, not both.")
	case len(b.IDs) == 0 && b.Filter == nil:
		v.Add("ids", "Choose at least one agent.")
	case len(b.IDs) > MaxBulkAgents:
		v.Add("ids", "Choose at most %d agents at once.", MaxBulkAgents)
	}
	ValidateIDs(&v, "ids", b.IDs)
	if b.Filter != nil {
		b.Filter.Sort, b.Filter.Limit, b.Filter.Cursor = "", 0, ""
		if err := b.Filter.Validate(); err != nil {
			for _, f := range ErrorFields(err) {
				v.Add("filter."+f.Field, "%s", f.Message)
			}
		}
	}
	switch {
	case b.TeamAction() && b.TeamID == "":
		v.Add("team_id", "Choose the team.")
	case !b.TeamAction() && b.TeamID != "":
		v.Add("team_id", "Only the team actions take a team.")
	}
	ValidateID(&v, "team_id", b.TeamID)
	return v.Err()
}

// BulkResult is what a bulk action did.
type BulkResult struct {
	Action  string
	Changed []TeamRef // the agents changed (ID and name), by name
	// Unchanged counts the agents already as the action would leave them:
	// already in (or not in) the team of a team action.
	Unchanged int
}

// BulkItemError is why a bulk action refuses one agent.
type BulkItemError struct {
	AgentID string
	Name    string // empty when the agent is out of sight
	Reason  string // e.g. "already retired"
}

// ErrBulkRefused is the error of a bulk action that refused some agents, and
// so changed none: one field error per agent, on the position of its ID in
// ids ("ids[3]") when the agents were named by ID, else on "filter".
func ErrBulkRefused(b *AgentBulk, items []BulkItemError) *Error {
	at := make(map[string]int, len(b.IDs))
	for i, id := range b.IDs {
		at[id] = i
	}
	e := &Error{Code: ECONFLICT, Message: fmt.Sprintf("%d of the agents cannot be changed, so none was; see the errors.", len(items))}
	if len(items) == 1 {
		e.Message = "One of the agents cannot be changed, so none was: " + items[0].String() + "."
	}
	for _, it := range items {
		field := "filter"
		if i, ok := at[it.AgentID]; ok {
			field = fmt.Sprintf("ids[%d]", i)
		}
		e.Fields = append(e.Fields, FieldError{Field: field, Message: it.String()})
	}
	return e
}

// String names the agent and the reason, like "Ada (0190…): already retired".
func (it BulkItemError) String() string {
	if it.Name == "" {
		return "agent " + it.AgentID + ": " + it.Reason
	}
	return it.Name + " (" + it.AgentID + "): " + it.Reason
}
