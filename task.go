package switchboard

import (
	"context"
	"slices"
	"strings"
	"time"
)

// TaskStatus is where a task is in its life (DESIGN §2).
type TaskStatus string

const (
	TaskQueued    TaskStatus = "queued"
	TaskOffered   TaskStatus = "offered"
	TaskAssigned  TaskStatus = "assigned"
	TaskCompleted TaskStatus = "completed"
	TaskCancelled TaskStatus = "cancelled"
	TaskExpired   TaskStatus = "expired"
)

// TaskStatuses lists every status, in the order of a task's life.
var TaskStatuses = []TaskStatus{TaskQueued, TaskOffered, TaskAssigned, TaskCompleted, TaskCancelled, TaskExpired}

// taskTransitions is the one description of the task status machine: for
// each status, the statuses it may move to. An offer that is rejected or
// times out, and a requeue, send a task back to queued; reassigning moves
// an assigned task to another agent.
var taskTransitions = map[TaskStatus][]TaskStatus{
	TaskQueued:   {TaskOffered, TaskAssigned, TaskCancelled, TaskExpired},
	TaskOffered:  {TaskAssigned, TaskQueued, TaskCancelled},
	TaskAssigned: {TaskCompleted, TaskQueued, TaskAssigned, TaskCancelled},
}

// Valid reports whether s is a known status.
func (s TaskStatus) Valid() bool { return slices.Contains(TaskStatuses, s) }

// CanTransition reports whether a task may move from s to next.
func (s TaskStatus) CanTransition(next TaskStatus) bool {
	return slices.Contains(taskTransitions[s], next)
}

// Transitions returns the statuses s may move to.
func (s TaskStatus) Transitions() []TaskStatus { return taskTransitions[s] }

// Terminal reports whether a task in status s is finished for good.
func (s TaskStatus) Terminal() bool { return len(taskTransitions[s]) == 0 }

// Task is a piece of work routed to one agent at a time.
type Task struct {
	ID             string
	QueueID        string
	QueueName      string
	Title          string
	Priority       int // 0..100, higher first
	RequiredSkills map[string]int
	Attributes     map[string]any
	ExternalRef    string
	Status         TaskStatus
	AgentID        string // the agent offered or assigned the task
	AgentName      string
	Outcome        string
	// Offers counts the agents the task has been offered to.
	Offers      int
	CreatedAt   time.Time
	OfferedAt   *time.Time
	AssignedAt  *time.Time
	CompletedAt *time.Time
	ExpiresAt   *time.Time
	UpdatedAt   time.Time
	Version     int
	// Offer is the pending offer of an offered task, which its agent
	// accepts or rejects.
	Offer *TaskOffer
	// History is every transition, oldest first; only in a task's detail.
	History []TaskTransition
}

// TaskOffer is the pending offer of a task.
type TaskOffer struct {
	ID        string
	ExpiresAt time.Time
}

// TaskTransition is one step of a task's history: who moved it, when, from
// which status to which, and why.
type TaskTransition struct {
	At      time.Time
	Actor   EventActor
	From    TaskStatus // "" for creation
	To      TaskStatus
	AgentID string
	Reason  string
}

// Limits on task input.
const (
	MaxTaskTitleLength   = 200
	MaxExternalRefLength = 200
	MaxTaskPriority      = 100
	MaxOutcomeLength     = 1000
	MaxIdempotencyKey    = 200
	MaxReasonLength      = 500 // of a requeue or a cancellation
)

// NewTask is the input to CreateTask.
type NewTask struct {
	QueueID        string
	Title          string
	Priority       int
	RequiredSkills map[string]int
	Attributes     map[string]any
	ExternalRef    string
	ExpiresAt      *time.Time
	// IdempotencyKey makes a retried creation return the first task
	// instead of making a second one.
	IdempotencyKey string

	dupSkills []string
}

// Normalize trims and canonicalises the input.
func (t *NewTask) Normalize() {
	t.QueueID = strings.TrimSpace(t.QueueID)
	t.Title = strings.TrimSpace(t.Title)
	t.ExternalRef = strings.TrimSpace(t.ExternalRef)
	t.dupSkills = append(t.dupSkills, DuplicateSkills(t.RequiredSkills)...)
	t.RequiredSkills = NormalizeSkills(t.RequiredSkills)
	if t.ExpiresAt != nil {
		e := t.ExpiresAt.UTC().Truncate(time.Microsecond)
		t.ExpiresAt = &e
	}
}

// Validate checks every field at once against the time now. EINVALID.
func (t *NewTask) Validate(now time.Time) error {
	var v Validation
	if t.QueueID == "" {
		v.Add("queue", "Say which queue the task goes to.")
	}
	ValidateID(&v, "queue", t.QueueID)
	switch {
	case t.Title == "":
		v.Add("title", "Give the task a title.")
	case len([]rune(t.Title)) > MaxTaskTitleLength:
		v.Add("title", "A title has at most %d characters.", MaxTaskTitleLength)
	case strings.ContainsFunc(t.Title, isControl) || !ValidText(t.Title):
		v.Add("title", "A title cannot hold control characters.")
	}
	if t.Priority < 0 || t.Priority > MaxTaskPriority {
		v.Add("priority", "Priority goes from 0 to %d.", MaxTaskPriority)
	}
	if len(t.RequiredSkills) > MaxRequiredSkills {
		v.Add("required_skills", "A task requires at most %d skills.", MaxRequiredSkills)
	}
	ValidateSkills(&v, "required_skills", t.RequiredSkills)
	for _, name := range t.dupSkills {
		v.Add("required_skills."+name, "Skill %q is given more than once, in different cases.", name)
	}
	ValidateJSONObject(&v, "attributes", t.Attributes, MaxAttributesBytes)
	if len([]rune(t.ExternalRef)) > MaxExternalRefLength || strings.ContainsFunc(t.ExternalRef, isControl) || !ValidText(t.ExternalRef) {
		v.Add("external_ref", "An external reference has at most %d characters and no control characters.", MaxExternalRefLength)
	}
	if t.ExpiresAt != nil && !t.ExpiresAt.After(now) {
		v.Add("expires_at", "The expiry must be in the future.")
	} else if t.ExpiresAt != nil && t.ExpiresAt.After(MaxTime) {
		v.Add("expires_at", "The expiry must be before the year 10000.")
	}
	if len(t.IdempotencyKey) > MaxIdempotencyKey || strings.ContainsFunc(t.IdempotencyKey, isControl) {
		v.Add("Idempotency-Key", "An idempotency key has at most %d characters and no control characters.", MaxIdempotencyKey)
	}
	return v.Err()
}

// TaskControl is a supervisor's hand on routing (DESIGN §1: admins, and
// supervisors on their teams' queues).
type TaskControl interface {
	// AssignTask gives a task to a chosen agent, taking back an offer or
	// assignment it had. An agent routing would not choose is refused
	// with the reasons, unless an admin forces it. ENOTFOUND, EFORBIDDEN,
	// ECONFLICT (task finished, agent not eligible).
	AssignTask(ctx context.Context, id, agentID string, force bool) (*Task, error)
	// RequeueTask takes a task back from its agent and routes it again.
	// ENOTFOUND, EFORBIDDEN, ECONFLICT.
	RequeueTask(ctx context.Context, id, reason string) (*Task, error)
	// CancelTask ends an unfinished task for good. ENOTFOUND, EFORBIDDEN,
	// ECONFLICT.
	CancelTask(ctx context.Context, id, reason string) (*Task, error)
	// ExplainRouting judges the candidate agents of a task as routing
	// does, and says why each was or was not chosen. ENOTFOUND,
	// EFORBIDDEN.
	ExplainRouting(ctx context.Context, id string) (*RoutingExplanation, error)
	// ExpireTasks ends queued tasks past their expiry and records SLA
	// breaches of tasks waiting past their queue's target, at most limit
	// of each; it returns how many it changed. Each is done once whatever
	// the number of instances.
	ExpireTasks(ctx context.Context, limit int) (int, error)
}

// RoutingExplanation is routing's judgement of a task's candidates.
type RoutingExplanation struct {
	Task     *Task
	Strategy RoutingStrategy
	// RequiredSkills are the queue's and the task's together.
	RequiredSkills map[string]int
	Verdicts       []Verdict
	// Truncated is set when the queue reaches more agents than were judged.
	Truncated bool
	// Hidden counts the agents judged but left out because the actor may
	// not see them: a supervisor sees only the agents of their teams.
	Hidden int
}

// TaskFilter selects tasks, newest first unless sorted otherwise.
type TaskFilter struct {
	QueueID       string
	Status        TaskStatus
	AgentID       string
	MinPriority   *int
	MaxPriority   *int
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
	Limit         int
	Cursor        string
}

// Validate checks a filter's fields. EINVALID.
func (f TaskFilter) Validate() error {
	var v Validation
	ValidateID(&v, "queue", f.QueueID)
	ValidateID(&v, "agent", f.AgentID)
	for _, t := range []struct {
		field string
		at    *time.Time
	}{{"created_after", f.CreatedAfter}, {"created_before", f.CreatedBefore}} {
		if t.at != nil && (t.at.Before(MinTime) || t.at.After(MaxTime)) {
			v.Add(t.field, "Give a time between the years 1000 and 9999.")
		}
	}
	return v.Err()
}

// TaskService creates and moves tasks. Admins reach every task,
// supervisors those of their teams' queues, agents the tasks offered or
// assigned to them (DESIGN §1).
type TaskService interface {
	// CreateTask creates a task and routes it. With an idempotency key
	// already used by the same actor for the same input, it returns the
	// first task and false; for other input, ECONFLICT. EINVALID,
	// ENOTFOUND (queue), EFORBIDDEN, ECONFLICT (external reference taken).
	CreateTask(ctx context.Context, nt NewTask) (task *Task, created bool, err error)
	// FindTaskByID returns a task with its history. ENOTFOUND.
	FindTaskByID(ctx context.Context, id string) (*Task, error)
	// FindTasks returns one page of tasks. EINVALID, EFORBIDDEN.
	FindTasks(ctx context.Context, f TaskFilter) (*Page[*Task], error)
	// FindMyTasks returns the calling agent's current work: the tasks
	// offered or assigned to it, the most urgent first, and the agent's ID.
	// EFORBIDDEN (not an agent).
	FindMyTasks(ctx context.Context) (agentID string, tasks []*Task, err error)
}
