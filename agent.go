package switchboard

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AgentKind says whether an agent is a person or a program.
type AgentKind string

const (
	// HumanAgent is a person who signs in to the web UI; linked to a user.
	HumanAgent AgentKind = "human"
	// MachineAgent is a process that calls the API with an agent token.
	MachineAgent AgentKind = "machine"
)

// Valid reports whether k is a known kind.
func (k AgentKind) Valid() bool { return k == HumanAgent || k == MachineAgent }

// AgentStatus is where an agent is in its lifecycle:
// pending → active ⇄ suspended, and active or suspended → retired.
type AgentStatus string

const (
	AgentPending   AgentStatus = "pending"   // invited or enrolled, awaiting approval
	AgentActive    AgentStatus = "active"    // receives work
	AgentSuspended AgentStatus = "suspended" // temporarily out of service
	AgentRetired   AgentStatus = "retired"   // gone for good; kept for history
)

// AgentStatuses lists every status in lifecycle order.
var AgentStatuses = []AgentStatus{AgentPending, AgentActive, AgentSuspended, AgentRetired}

// Valid reports whether s is a known status.
func (s AgentStatus) Valid() bool {
	switch s {
	case AgentPending, AgentActive, AgentSuspended, AgentRetired:
		return true
	}
	return false
}

// agentTransitions is the agent lifecycle: for each status, the statuses it
// may move to. It is the only description of the lifecycle; the store's
// checks, the API's lifecycle routes and their documentation, and the web
// page's buttons all derive from it.
var agentTransitions = map[AgentStatus][]AgentStatus{
	AgentPending:   {AgentActive},
	AgentActive:    {AgentSuspended, AgentRetired},
	AgentSuspended: {AgentActive, AgentRetired},
	AgentRetired:   nil,
}

// CanTransition reports whether an agent may move from s to next.
func (s AgentStatus) CanTransition(next AgentStatus) bool {
	return slices.Contains(agentTransitions[s], next)
}

// Transitions returns the statuses s may move to.
func (s AgentStatus) Transitions() []AgentStatus { return agentTransitions[s] }

// AgentAction is a lifecycle action: the verb, as users and clients say it,
// that moves an agent to a status.
type AgentAction struct {
	Name string // "activate", "suspend", "retire"
	To   AgentStatus
}

// AgentActions names the lifecycle's moves: one action for each status an
// agent can move to. Which of them apply to an agent is its status's
// Actions.
var AgentActions = []AgentAction{
	{Name: "activate", To: AgentActive},
	{Name: "suspend", To: AgentSuspended},
	{Name: "retire", To: AgentRetired},
}

// Actions returns the lifecycle actions that apply to an agent in status s,
// in the order of Transitions.
func (s AgentStatus) Actions() []AgentAction {
	var actions []AgentAction
	for _, to := range s.Transitions() {
		for _, a := range AgentActions {
			if a.To == to {
				actions = append(actions, a)
			}
		}
	}
	return actions
}

// From returns the statuses the action applies to, in lifecycle order.
func (a AgentAction) From() []AgentStatus {
	var from []AgentStatus
	for _, s := range AgentStatuses {
		if s.CanTransition(a.To) {
			from = append(from, s)
		}
	}
	return from
}

// Presence says whether an agent can take work right now.
type Presence string

const (
	PresenceOffline   Presence = "offline"
	PresenceAvailable Presence = "available"
	PresenceAway      Presence = "away"
	PresenceBusy      Presence = "busy"
)

// Presences lists every presence.
var Presences = []Presence{PresenceAvailable, PresenceBusy, PresenceAway, PresenceOffline}

// Valid reports whether p is a known presence.
func (p Presence) Valid() bool {
	switch p {
	case PresenceOffline, PresenceAvailable, PresenceAway, PresenceBusy:
		return true
	}
	return false
}

// Channel is a way to reach someone.
type Channel string

const (
	ChannelEmail Channel = "email"
	ChannelSMS   Channel = "sms"
	ChannelInApp Channel = "inapp"
)

// AgentChannels are the channels an agent can opt into.
var AgentChannels = []Channel{ChannelEmail, ChannelSMS, ChannelInApp}

// TeamRef names a team an agent belongs to.
type TeamRef struct {
	ID   string
	Name string
}

// Agent is a worker that receives tasks: a person or a program. Both kinds
// share one model; a human agent is linked to the user they sign in as.
type Agent struct {
	ID         string
	Name       string
	Kind       AgentKind
	Email      string // required for humans, optional for machines
	Phone      string // E.164, optional
	Skills     map[string]int
	Capacity   int
	Teams      []TeamRef // sorted by name
	Attributes map[string]any
	// Notify lists the channels the agent wants notifications on.
	Notify     []Channel
	Status     AgentStatus
	Presence   Presence
	UserID     string         // the linked user of a human agent
	LastSeenAt *time.Time     // last heartbeat or activity
	Metadata   map[string]any // reported by the agent: version, hostname...
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Version    int
}

// TeamIDs returns the IDs of the agent's teams.
func (a *Agent) TeamIDs() []string {
	ids := make([]string, len(a.Teams))
	for i, t := range a.Teams {
		ids[i] = t.ID
	}
	return ids
}

// SortedSkills returns skill names in order, for stable display.
func SortedSkills(skills map[string]int) []string { return sortedKeys(skills) }

// Limits on agent input.
const (
	MaxSkills          = 100
	MaxSkillNameLength = 64
	MinSkillLevel      = 1
	MaxSkillLevel      = 10
	MaxCapacity        = 1000
	MaxTeamsPerAgent   = 50
	MaxAttributesBytes = 16 << 10
	MaxMetadataBytes   = 4 << 10
)

// NewAgent is the input for creating an agent. An empty Status means active,
// except for a human agent whose user is invited: pending until they accept.
type NewAgent struct {
	Name       string
	Kind       AgentKind
	Email      string
	Phone      string
	Skills     map[string]int
	Capacity   int // 0 = 1
	TeamIDs    []string
	Attributes map[string]any
	Notify     []Channel
	Status     AgentStatus // "" = active

	dupSkills []string // found by Normalize, reported by Validate
}

// Normalize trims and canonicalises the input.
func (a *NewAgent) Normalize() {
	a.Name = strings.TrimSpace(a.Name)
	a.Kind = AgentKind(strings.ToLower(strings.TrimSpace(string(a.Kind))))
	a.Email = NormalizeEmail(a.Email)
	a.Phone = NormalizePhone(a.Phone)
	a.dupSkills = append(a.dupSkills, DuplicateSkills(a.Skills)...)
	a.Skills = NormalizeSkills(a.Skills)
	if a.Capacity == 0 {
		a.Capacity = 1
	}
	a.Status = AgentStatus(strings.ToLower(strings.TrimSpace(string(a.Status))))
	a.TeamIDs = dedupe(a.TeamIDs)
	if a.Notify == nil {
		a.Notify = []Channel{ChannelInApp}
	}
}

// Validate checks every field and reports all problems at once.
func (a *NewAgent) Validate() error {
	var v Validation
	a.validate(&v)
	return v.Err()
}

func (a *NewAgent) validate(v *Validation) {
	ValidateName(v, "name", a.Name)
	if !a.Kind.Valid() {
		v.Add("kind", "Kind must be human or machine.")
	}
	switch {
	case a.Email != "":
		ValidateEmail(v, "email", a.Email)
	case a.Kind == HumanAgent:
		v.Add("email", "A human agent needs an e-mail address: it is how they sign in.")
	}
	ValidatePhone(v, "phone", a.Phone)
	ValidateSkills(v, "skills", a.Skills)
	for _, name := range a.dupSkills {
		v.Add("skills."+name, "Skill %q is given more than once, in different cases.", name)
	}
	ValidateCapacity(v, "capacity", a.Capacity)
	if len(a.TeamIDs) > MaxTeamsPerAgent {
		v.Add("teams", "An agent can be in at most %d teams.", MaxTeamsPerAgent)
	}
	ValidateIDs(v, "teams", a.TeamIDs)
	ValidateJSONObject(v, "attributes", a.Attributes, MaxAttributesBytes)
	ValidateChannels(v, "notify", a.Notify)
	if a.Status != "" && a.Status != AgentActive && a.Status != AgentPending {
		v.Add("status", "A new agent is active or pending.")
	}
}

// AgentUpdate changes some fields of an agent; nil fields stay as they are.
// Status is changed through SetAgentStatus, not here.
type AgentUpdate struct {
	Name       *string
	Email      *string
	Phone      *string
	Skills     *map[string]int
	Capacity   *int
	TeamIDs    *[]string
	Attributes *map[string]any
	Notify     *[]Channel
	IfVersion  int
}

// Validate normalizes and checks the fields that are set.
func (u *AgentUpdate) Validate(kind AgentKind) error {
	var v Validation
	if u.Name != nil {
		*u.Name = strings.TrimSpace(*u.Name)
		ValidateName(&v, "name", *u.Name)
	}
	if u.Email != nil {
		*u.Email = NormalizeEmail(*u.Email)
		switch {
		case *u.Email != "":
			ValidateEmail(&v, "email", *u.Email)
		case kind == HumanAgent:
			v.Add("email", "A human agent needs an e-mail address: it is how they sign in.")
		}
	}
	if u.Phone != nil {
		*u.Phone = NormalizePhone(*u.Phone)
		ValidatePhone(&v, "phone", *u.Phone)
	}
	if u.Skills != nil {
		reportDuplicateSkills(&v, "skills", *u.Skills)
		*u.Skills = NormalizeSkills(*u.Skills)
		ValidateSkills(&v, "skills", *u.Skills)
	}
	if u.Capacity != nil {
		ValidateCapacity(&v, "capacity", *u.Capacity)
	}
	if u.TeamIDs != nil {
		*u.TeamIDs = dedupe(*u.TeamIDs)
		if len(*u.TeamIDs) > MaxTeamsPerAgent {
			v.Add("teams", "An agent can be in at most %d teams.", MaxTeamsPerAgent)
		}
		ValidateIDs(&v, "teams", *u.TeamIDs)
	}
	if u.Attributes != nil {
		ValidateJSONObject(&v, "attributes", *u.Attributes, MaxAttributesBytes)
	}
	if u.Notify != nil {
		ValidateChannels(&v, "notify", *u.Notify)
	}
	return v.Err()
}

// AgentCounts are the numbers of agents by status, and of active agents by
// presence.
type AgentCounts struct {
	Total      int
	ByStatus   map[AgentStatus]int
	ByPresence map[Presence]int
}

// AgentFilter selects and orders agents for a list.
type AgentFilter struct {
	Query    string // substring of name or e-mail
	Status   AgentStatus
	Presence Presence
	Kind     AgentKind
	TeamID   string
	Skill    string // has this skill...
	MinLevel int    // ...at this level or above (0 = any level)
	Sort     string // one of AgentSorts; "" = "name"
	// HideRetired leaves retired agents out unless Status asks for them.
	HideRetired bool
	Limit       int
	Cursor      string
}

// AgentSorts are the orders an agent list can be sorted in.
// "skill_level" needs a Skill to filter on.
var AgentSorts = []string{"name", "-name", "status", "-status", "presence", "-presence", "created_at", "-created_at", "skill_level", "-skill_level"}

// MaxQueryLength bounds the text a list is searched for.
const MaxQueryLength = 200

// ParseAgentFilter reads a filter from the query parameters of a list's
// address (q, status, presence, kind, team, skill, min_level, sort, limit,
// cursor), as the web pages link to it, and validates it.
func ParseAgentFilter(q url.Values) (AgentFilter, error) {
	var v Validation
	number := func(name string) int {
		s := strings.TrimSpace(q.Get(name))
		if s == "" {
			return 0
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			v.Add(name, "Must be a whole number.")
		}
		return n
	}
	f := AgentFilter{
		Query: q.Get("q"), Status: AgentStatus(q.Get("status")), Presence: Presence(q.Get("presence")),
		Kind: AgentKind(q.Get("kind")), TeamID: q.Get("team"), Skill: q.Get("skill"), MinLevel: number("min_level"),
		Sort: q.Get("sort"), Limit: number("limit"), Cursor: q.Get("cursor"),
	}
	if v.Len() > 0 {
		return f, v.Err()
	}
	return f, f.Validate()
}

// Validate fills in the default order and page size, and checks the rest:
// only values every engine can compare reach a query (a team ID shaped as an
// ID, a skill name as skill names are written, text without NUL).
func (f *AgentFilter) Validate() error {
	var v Validation
	f.Limit = PageLimit(&v, f.Limit)
	if f.Sort == "" {
		f.Sort = "name"
	}
	ValidSort(&v, f.Sort, AgentSorts)
	if strings.TrimPrefix(f.Sort, "-") == "skill_level" && f.Skill == "" {
		v.Add("sort", "Sorting by skill level needs a skill to filter on.")
	}
	if f.Status != "" && !f.Status.Valid() {
		v.Add("status", "Status must be pending, active, suspended or retired.")
	}
	if f.Presence != "" && !f.Presence.Valid() {
		v.Add("presence", "Presence must be available, busy, away or offline.")
	}
	if f.Kind != "" && !f.Kind.Valid() {
		v.Add("kind", "Kind must be human or machine.")
	}
	switch {
	case !ValidText(f.Query):
		v.Add("q", "Must be text without NUL characters.")
	case utf8.RuneCountInString(f.Query) > MaxQueryLength:
		v.Add("q", "Search for at most %d characters.", MaxQueryLength)
	}
	ValidateID(&v, "team", f.TeamID)
	if f.Skill != "" && !validSkillName(NormalizeSkill(f.Skill)) {
		v.Add("skill", "Skill names use lower-case letters, digits, '.', '_' and '-', at most %d characters.", MaxSkillNameLength)
	}
	if f.MinLevel < 0 || f.MinLevel > MaxSkillLevel {
		v.Add("min_level", "Minimum level goes from 1 to %d.", MaxSkillLevel)
	}
	if f.MinLevel > 0 && f.Skill == "" {
		v.Add("min_level", "A minimum level needs a skill to apply to.")
	}
	return v.Err()
}

// AgentService manages agents: who they are, what they can do, and where
// they are in their lifecycle. Admins manage every agent; supervisors only
// the agents of the teams they supervise, for whom the others do not exist
// (ENOTFOUND). Agent-role users see only their own agent.
type AgentService interface {
	// FindAgentByID returns one agent. ENOTFOUND.
	FindAgentByID(ctx context.Context, id string) (*Agent, error)

	// FindAgentByUserID returns the agent linked to a user. ENOTFOUND.
	FindAgentByUserID(ctx context.Context, userID string) (*Agent, error)

	// FindAgentsByUserIDs returns the agents, among those the actor may
	// see, linked to any of the users: one look-up for a page of users.
	FindAgentsByUserIDs(ctx context.Context, userIDs []string) ([]*Agent, error)

	// CountAgents counts the agents in the actor's scope by status and, for
	// active agents, by presence. EFORBIDDEN.
	CountAgents(ctx context.Context) (*AgentCounts, error)

	// FindAgents returns one page of agents. EINVALID, EFORBIDDEN.
	FindAgents(ctx context.Context, filter AgentFilter) (*Page[*Agent], error)

	// CountMatchingAgents counts the agents in the actor's scope that a
	// filter matches (its order, limit and cursor aside). EINVALID,
	// EFORBIDDEN.
	CountMatchingAgents(ctx context.Context, filter AgentFilter) (int, error)

	// BulkAgents applies one action to many agents in one transaction: to
	// all of them, recorded agent by agent as the single action is, or to
	// none. Agents the action cannot apply to (already retired, not in the
	// actor's teams...) are ECONFLICT with one field error each; a filter
	// matching more than MaxBulkAgents is EINVALID. Supervisors act on the
	// agents of their teams, and add to or remove from those teams only.
	// EINVALID, EFORBIDDEN.
	BulkAgents(ctx context.Context, b AgentBulk) (*BulkResult, error)

	// CreateAgent creates an agent. A human agent is linked to the user with
	// its e-mail address; when there is none, a user in role agent is
	// created and invited, and the invitation is returned with its secret.
	// Supervisors must put the agent in at least one of their teams.
	// EINVALID, ECONFLICT (the user already has an agent), EFORBIDDEN.
	CreateAgent(ctx context.Context, a NewAgent) (*Agent, *Invitation, error)

	// UpdateAgent changes an agent. EINVALID, ENOTFOUND, EFORBIDDEN,
	// ECONFLICT (retired agents are read-only), EPRECONDITION.
	UpdateAgent(ctx context.Context, id string, upd AgentUpdate) (*Agent, error)

	// SetAgentStatus moves an agent through its lifecycle. An invalid
	// transition is ECONFLICT with the current and requested status.
	// ENOTFOUND, EFORBIDDEN, EPRECONDITION.
	SetAgentStatus(ctx context.Context, id string, status AgentStatus, ifVersion int) (*Agent, error)

	// DeleteAgent removes a pending agent (an enrollment or invitation that
	// was never approved). Agents that have been active are retired
	// instead, to keep their history. ECONFLICT, ENOTFOUND, EFORBIDDEN.
	DeleteAgent(ctx context.Context, id string) error

	// ImportAgents creates every agent of an import, or none: all rows are
	// checked first, and every problem is reported with its line.
	// Admins only. EINVALID (Fields carry the lines), EFORBIDDEN.
	ImportAgents(ctx context.Context, rows []ImportRow) (*ImportResult, error)

	// CreateAgentToken issues a token for a machine agent; admins only.
	// The secret is returned once. EINVALID, ENOTFOUND, ECONFLICT
	// (human or retired agent), EFORBIDDEN.
	CreateAgentToken(ctx context.Context, agentID string, t NewToken) (*APIToken, string, error)

	// FindAgentTokens lists an agent's tokens, newest first; admins only.
	FindAgentTokens(ctx context.Context, agentID string, filter TokenFilter) (*Page[*APIToken], error)

	// RevokeAgentToken revokes one of an agent's tokens; admins only.
	// ENOTFOUND.
	RevokeAgentToken(ctx context.Context, agentID, tokenID string) error
}
