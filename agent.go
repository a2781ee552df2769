package switchboard

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
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

// agentTransitions lists, for each status, the statuses it may move to.
var agentTransitions = map[AgentStatus][]AgentStatus{
	AgentPending:   {AgentActive},
	AgentActive:    {AgentSuspended, AgentRetired},
	AgentSuspended: {AgentActive, AgentRetired},
	AgentRetired:   nil,
}

// CanTransition reports whether an agent may move from s to next.
func (s AgentStatus) CanTransition(next AgentStatus) bool {
	for _, t := range agentTransitions[s] {
		if t == next {
			return true
		}
	}
	return false
}

// Transitions returns the statuses s may move to, for showing only the
// lifecycle actions that apply.
func (s AgentStatus) Transitions() []AgentStatus { return agentTransitions[s] }

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

var (
	skillNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	e164RE      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// NormalizeSkill lower-cases and trims a skill name: "Billing " and
// "billing" are one skill.
func NormalizeSkill(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// ValidateSkills checks names and levels, reporting each bad one under
// field (like "skills.billing").
func ValidateSkills(v *Validation, field string, skills map[string]int) {
	if len(skills) > MaxSkills {
		v.Add(field, "An agent can have at most %d skills.", MaxSkills)
		return
	}
	for _, name := range sortedKeys(skills) {
		level := skills[name]
		switch {
		case len(name) > MaxSkillNameLength || !skillNameRE.MatchString(name):
			v.Add(field+"."+name, "Skill names use lower-case letters, digits, '.', '_' and '-', at most %d characters.", MaxSkillNameLength)
		case level < MinSkillLevel || level > MaxSkillLevel:
			v.Add(field+"."+name, "Skill %q has level %d; levels go from %d to %d.", name, level, MinSkillLevel, MaxSkillLevel)
		}
	}
}

// NormalizeSkills returns skills with normalized names. Names that become
// one ("Billing" and "billing") keep the highest level, and are reported by
// DuplicateSkills.
func NormalizeSkills(skills map[string]int) map[string]int {
	out := make(map[string]int, len(skills))
	for name, level := range skills {
		n := NormalizeSkill(name)
		if prev, ok := out[n]; !ok || level > prev {
			out[n] = level
		}
	}
	return out
}

// DuplicateSkills returns the normalized names that several of skills share.
func DuplicateSkills(skills map[string]int) []string {
	seen := map[string]int{}
	for name := range skills {
		seen[NormalizeSkill(name)]++
	}
	var dups []string
	for name, n := range seen {
		if n > 1 {
			dups = append(dups, name)
		}
	}
	sort.Strings(dups)
	return dups
}

func reportDuplicateSkills(v *Validation, field string, skills map[string]int) {
	for _, name := range DuplicateSkills(skills) {
		v.Add(field+"."+name, "Skill %q is given more than once, in different cases.", name)
	}
}

// NormalizePhone removes the spaces, dashes, dots and brackets people write
// in phone numbers, keeping a leading +.
func NormalizePhone(phone string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')', '\u00a0':
			return -1
		}
		return r
	}, strings.TrimSpace(phone))
}

// ValidatePhone checks an E.164 number (after NormalizePhone).
func ValidatePhone(v *Validation, field, phone string) {
	if phone != "" && !e164RE.MatchString(phone) {
		v.Add(field, "Phone must be in international E.164 form: + and country code, then the number, like +14155550123.")
	}
}

// ValidateJSONObject checks that a free-form object encodes to at most max
// bytes of JSON.
func ValidateJSONObject(v *Validation, field string, obj map[string]any, max int) {
	if obj == nil {
		return
	}
	b, err := json.Marshal(obj)
	switch {
	case err != nil:
		v.Add(field, "Must be a JSON object.")
	case len(b) > max:
		v.Add(field, "Must be at most %d bytes of JSON; this is %d.", max, len(b))
	}
	for k := range obj {
		if strings.TrimSpace(k) == "" {
			v.Add(field, "Keys must not be empty.")
			break
		}
	}
}

// ValidateChannels checks notification channels.
func ValidateChannels(v *Validation, field string, channels []Channel) {
	seen := map[Channel]bool{}
	for _, c := range channels {
		if c != ChannelEmail && c != ChannelSMS && c != ChannelInApp {
			v.Add(field, "Channels are email, sms and inapp; %q is not one.", c)
			return
		}
		if seen[c] {
			v.Add(field, "Channel %q is listed twice.", c)
			return
		}
		seen[c] = true
	}
}

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
	ValidateJSONObject(v, "attributes", a.Attributes, MaxAttributesBytes)
	ValidateChannels(v, "notify", a.Notify)
	if a.Status != "" && a.Status != AgentActive && a.Status != AgentPending {
		v.Add("status", "A new agent is active or pending.")
	}
}

// ValidateCapacity checks an agent's capacity.
func ValidateCapacity(v *Validation, field string, capacity int) {
	if capacity < 1 || capacity > MaxCapacity {
		v.Add(field, "Capacity is the number of tasks the agent handles at once: 1 to %d.", MaxCapacity)
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
	Limit    int
	Cursor   string
}

// AgentSorts are the orders an agent list can be sorted in.
var AgentSorts = []string{"name", "-name", "created_at", "-created_at"}

// AgentService manages agents: who they are, what they can do, and where
// they are in their lifecycle. Admins manage every agent; supervisors only
// the agents of the teams they supervise, for whom the others do not exist
// (ENOTFOUND). Agent-role users see only their own agent.
type AgentService interface {
	// FindAgentByID returns one agent. ENOTFOUND.
	FindAgentByID(ctx context.Context, id string) (*Agent, error)

	// FindAgentByUserID returns the agent linked to a user. ENOTFOUND.
	FindAgentByUserID(ctx context.Context, userID string) (*Agent, error)

	// CountAgents counts the agents in the actor's scope by status and, for
	// active agents, by presence. EFORBIDDEN.
	CountAgents(ctx context.Context) (*AgentCounts, error)

	// FindAgents returns one page of agents. EINVALID, EFORBIDDEN.
	FindAgents(ctx context.Context, filter AgentFilter) (*Page[*Agent], error)

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

// StateConflict details an ECONFLICT about a lifecycle transition.
type StateConflict struct {
	Current   string
	Requested string
}

// ErrTransition is the error for a lifecycle transition that is not allowed.
func ErrTransition(what string, from, to string, allowed []string) *Error {
	msg := fmt.Sprintf("The %s is %s and cannot become %s", what, from, to)
	if len(allowed) > 0 {
		msg += fmt.Sprintf("; from %s it can become %s.", from, strings.Join(allowed, " or "))
	} else {
		msg += fmt.Sprintf("; %s is final.", from)
	}
	return &Error{Code: ECONFLICT, Message: msg, State: &StateConflict{Current: from, Requested: to}}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SortedSkills returns skill names in order, for stable display.
func SortedSkills(skills map[string]int) []string { return sortedKeys(skills) }

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
