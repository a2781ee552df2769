package switchboard

import (
	"context"
	"strings"
	"time"
)

// Queue is where tasks wait for an agent, with the settings that decide who
// gets them (DESIGN §2, §3).
type Queue struct {
	ID   string
	Name string
	// TeamIDs are the teams whose agents may take the queue's tasks; empty
	// means every agent.
	TeamIDs        []string
	Teams          []TeamRef
	RequiredSkills map[string]int
	Strategy       RoutingStrategy
	// OfferTimeout is how long an agent has to accept an offer; 0 assigns
	// directly, without an offer.
	OfferTimeout time.Duration
	// MaxOffers is how many agents are offered a task before it is left
	// queued and escalated to the queue's supervisors.
	MaxOffers int
	// SLATarget is how long a task may wait before the wait counts as a
	// breach; 0 sets no target.
	SLATarget time.Duration
	// RequeueOnOffline puts an agent's assigned tasks back in the queue
	// when the agent goes offline.
	RequeueOnOffline bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
	Version          int
}

// Limits on queue settings.
const (
	MaxQueueNameLength = 100
	MaxOfferTimeout    = 24 * time.Hour
	MaxSLATarget       = 30 * 24 * time.Hour
	MaxOffersLimit     = 100
	DefaultMaxOffers   = 3
	MaxQueueTeams      = 100
	MaxRequiredSkills  = 20
)

// NewQueue is the input to CreateQueue.
type NewQueue struct {
	Name             string
	TeamIDs          []string
	RequiredSkills   map[string]int
	Strategy         RoutingStrategy // "" = longest_idle
	OfferTimeout     time.Duration
	MaxOffers        int // 0 = DefaultMaxOffers
	SLATarget        time.Duration
	RequeueOnOffline bool

	dupSkills []string
}

// Normalize trims and canonicalises the input and applies defaults.
func (q *NewQueue) Normalize() {
	q.Name = strings.TrimSpace(q.Name)
	q.TeamIDs = dedupe(q.TeamIDs)
	q.dupSkills = append(q.dupSkills, DuplicateSkills(q.RequiredSkills)...)
	q.RequiredSkills = NormalizeSkills(q.RequiredSkills)
	q.Strategy = RoutingStrategy(strings.ToLower(strings.TrimSpace(string(q.Strategy))))
	if q.Strategy == "" {
		q.Strategy = LongestIdle
	}
	if q.MaxOffers == 0 {
		q.MaxOffers = DefaultMaxOffers
	}
}

// Validate checks every field at once. EINVALID.
func (q *NewQueue) Validate() error {
	var v Validation
	validateQueueName(&v, q.Name)
	validateQueueSettings(&v, q.TeamIDs, q.RequiredSkills, q.Strategy, q.OfferTimeout, q.MaxOffers, q.SLATarget)
	for _, name := range q.dupSkills {
		v.Add("required_skills."+name, "Skill %q is given more than once, in different cases.", name)
	}
	return v.Err()
}

func validateQueueName(v *Validation, name string) {
	switch {
	case name == "":
		v.Add("name", "Give the queue a name.")
	case len([]rune(name)) > MaxQueueNameLength:
		v.Add("name", "A queue name has at most %d characters.", MaxQueueNameLength)
	case strings.ContainsFunc(name, isControl) || !ValidText(name):
		v.Add("name", "A queue name cannot hold control characters.")
	}
}

func validateQueueSettings(v *Validation, teamIDs []string, skills map[string]int, strategy RoutingStrategy,
	offerTimeout time.Duration, maxOffers int, slaTarget time.Duration) {
	if len(teamIDs) > MaxQueueTeams {
		v.Add("team_ids", "A queue names at most %d teams.", MaxQueueTeams)
	}
	ValidateIDs(v, "team_ids", teamIDs)
	if len(skills) > MaxRequiredSkills {
		v.Add("required_skills", "A queue requires at most %d skills.", MaxRequiredSkills)
	}
	ValidateSkills(v, "required_skills", skills)
	if !strategy.Valid() {
		v.Add("strategy", "Strategy must be longest_idle, least_loaded, round_robin, most_skilled or manual.")
	}
	if offerTimeout < 0 || offerTimeout > MaxOfferTimeout {
		v.Add("offer_timeout_seconds", "The offer timeout goes from 0 (assign directly) to %d seconds.", int(MaxOfferTimeout.Seconds()))
	} else if offerTimeout%time.Second != 0 {
		v.Add("offer_timeout_seconds", "The offer timeout is a whole number of seconds.")
	}
	if maxOffers < 1 || maxOffers > MaxOffersLimit {
		v.Add("max_offers", "Max offers goes from 1 to %d.", MaxOffersLimit)
	}
	if slaTarget < 0 || slaTarget > MaxSLATarget {
		v.Add("sla_target_seconds", "The SLA target goes from 0 (none) to %d seconds.", int(MaxSLATarget.Seconds()))
	} else if slaTarget%time.Second != 0 {
		v.Add("sla_target_seconds", "The SLA target is a whole number of seconds.")
	}
}

// QueueUpdate changes a queue; nil fields stay as they are.
type QueueUpdate struct {
	Name             *string
	TeamIDs          *[]string
	RequiredSkills   *map[string]int
	Strategy         *RoutingStrategy
	OfferTimeout     *time.Duration
	MaxOffers        *int
	SLATarget        *time.Duration
	RequeueOnOffline *bool
	IfVersion        int // 0: any version
}

// Apply returns q with the update applied, normalised and validated.
// EINVALID.
func (u QueueUpdate) Apply(q Queue) (Queue, error) {
	var dup []string
	if u.Name != nil {
		q.Name = strings.TrimSpace(*u.Name)
	}
	if u.TeamIDs != nil {
		q.TeamIDs = dedupe(*u.TeamIDs)
	}
	if u.RequiredSkills != nil {
		dup = DuplicateSkills(*u.RequiredSkills)
		q.RequiredSkills = NormalizeSkills(*u.RequiredSkills)
	}
	if u.Strategy != nil {
		q.Strategy = RoutingStrategy(strings.ToLower(strings.TrimSpace(string(*u.Strategy))))
	}
	if u.OfferTimeout != nil {
		q.OfferTimeout = *u.OfferTimeout
	}
	if u.MaxOffers != nil {
		q.MaxOffers = *u.MaxOffers
	}
	if u.SLATarget != nil {
		q.SLATarget = *u.SLATarget
	}
	if u.RequeueOnOffline != nil {
		q.RequeueOnOffline = *u.RequeueOnOffline
	}
	var v Validation
	validateQueueName(&v, q.Name)
	validateQueueSettings(&v, q.TeamIDs, q.RequiredSkills, q.Strategy, q.OfferTimeout, q.MaxOffers, q.SLATarget)
	for _, name := range dup {
		v.Add("required_skills."+name, "Skill %q is given more than once, in different cases.", name)
	}
	return q, v.Err()
}

// QueueFilter selects queues, by name.
type QueueFilter struct {
	Query  string
	TeamID string
	Limit  int
	Cursor string
}

// Validate checks a filter's fields. EINVALID.
func (f QueueFilter) Validate() error {
	var v Validation
	ValidateText(&v, "q", f.Query)
	ValidateID(&v, "team", f.TeamID)
	return v.Err()
}

// QueueService manages queues. Admins manage every queue; supervisors the
// queues whose teams are all teams they supervise, and they may not delete
// them (DESIGN §1).
type QueueService interface {
	// CreateQueue creates a queue. EINVALID, EFORBIDDEN, ECONFLICT (name
	// taken).
	CreateQueue(ctx context.Context, nq NewQueue) (*Queue, error)
	// FindQueueByID returns a queue the actor may see. ENOTFOUND.
	FindQueueByID(ctx context.Context, id string) (*Queue, error)
	// FindQueues returns one page of the queues the actor may see, by
	// name. EINVALID, EFORBIDDEN.
	FindQueues(ctx context.Context, f QueueFilter) (*Page[*Queue], error)
	// UpdateQueue changes a queue. EINVALID, ENOTFOUND, EFORBIDDEN,
	// ECONFLICT, EPRECONDITION.
	UpdateQueue(ctx context.Context, id string, upd QueueUpdate) (*Queue, error)
	// DeleteQueue deletes a queue whose tasks are all finished, with them;
	// admins only. ENOTFOUND, EFORBIDDEN, ECONFLICT (unfinished tasks).
	DeleteQueue(ctx context.Context, id string) error
}
