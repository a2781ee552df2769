package server

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

type tasksData struct {
	Filter url.Values
	Page   *switchboard.Page[*switchboard.Task]
	Cursor string
	Queues []*switchboard.Queue
	// Agents are the choices of the agent filter; when the actor sees more
	// agents than a list can hold, AgentsByID asks for the agent's ID.
	Agents     []option
	AgentsByID bool
	Statuses   []switchboard.TaskStatus
}

func (s *Server) webTasks(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	f := newForm(url.Values{})
	d := &tasksData{Filter: url.Values{}, Statuses: switchboard.TaskStatuses}
	for _, k := range []string{"queue", "status", "agent", "min_priority", "max_priority", "created_after", "created_before"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			f.Values.Set(k, v)
			d.Filter.Set(k, v)
		}
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit > 0 {
		d.Filter.Set("limit", strconv.Itoa(limit))
	}
	filter := switchboard.TaskFilter{QueueID: f.Get("queue"), Status: switchboard.TaskStatus(f.Get("status")),
		AgentID: f.Get("agent"), Limit: limit, Cursor: q.Get("cursor")}
	filter.MinPriority = formPriority(f, "min_priority")
	filter.MaxPriority = formPriority(f, "max_priority")
	filter.CreatedAfter = parseDate(f, "created_after")
	if t := parseDate(f, "created_before"); t != nil {
		end := t.Add(24 * time.Hour) // the whole day is included
		filter.CreatedBefore = &end
	}
	status := http.StatusOK
	if !f.HasErrors() {
		p, err := s.Tasks.FindTasks(ctx, filter)
		if hasFieldError(err, "cursor") {
			// A stale cursor in a bookmarked link: show the first page.
			filter.Cursor = ""
			p, err = s.Tasks.FindTasks(ctx, filter)
		}
		if err != nil {
			if switchboard.ErrorCode(err) != switchboard.EINVALID {
				s.internalError(w, r, err)
				return
			}
			s.fail(r, f, err)
		}
		d.Page, d.Cursor = p, filter.Cursor
	}
	if f.HasErrors() {
		status = http.StatusBadRequest
	}
	var err error
	if d.Queues, err = s.visibleQueues(r); err != nil {
		s.internalError(w, r, err)
		return
	}
	if d.Agents, d.AgentsByID, err = s.agentChoices(r, f.Get("agent")); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, status, "tasks", page{Title: "Tasks", Section: "tasks", Form: f, Data: d})
}

// formPriority reads a priority bound of the task filter.
func formPriority(f *form, field string) *int {
	v := f.Get(field)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > switchboard.MaxTaskPriority {
		f.Add(field, "Priority goes from 0 to 100.")
		return nil
	}
	return &n
}

// visibleQueues returns the queues the actor may see, by name, for filters
// and form choices.
func (s *Server) visibleQueues(r *http.Request) ([]*switchboard.Queue, error) {
	var queues []*switchboard.Queue
	cursor := ""
	for {
		p, err := s.Queues.FindQueues(r.Context(), switchboard.QueueFilter{Limit: switchboard.MaxPageLimit, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		queues = append(queues, p.Items...)
		if cursor = p.NextCursor; cursor == "" || len(queues) >= 1000 {
			return queues, nil
		}
	}
}

// agentChoices lists the agents the actor may see, by name, for the agent
// filter. When there are more than one page holds, it returns byID: the
// filter then takes an agent's ID, as the agents' pages link to it.
func (s *Server) agentChoices(r *http.Request, current string) (opts []option, byID bool, err error) {
	p, err := s.Agents.FindAgents(r.Context(), switchboard.AgentFilter{Limit: switchboard.MaxPageLimit})
	if err != nil {
		return nil, false, err
	}
	if p.NextCursor != "" {
		return nil, true, nil
	}
	for _, a := range p.Items {
		opts = append(opts, option{Value: a.ID, Label: a.Name})
	}
	if current != "" && !containsOption(opts, current) {
		// An agent out of sight (or a mistyped ID): keep it selectable, so
		// that the filter in use shows.
		opts = append(opts, option{Value: current, Label: "Agent " + current})
	}
	return opts, false, nil
}

func containsOption(opts []option, value string) bool {
	for _, o := range opts {
		if o.Value == value {
			return true
		}
	}
	return false
}

// taskStep is one row of a task's history as its page shows it.
type taskStep struct {
	switchboard.TaskTransition
	ActorLink string
	AgentName string
	AgentLink string
	Why       string
}

type taskData struct {
	Task       *switchboard.Task
	Steps      []taskStep
	Manage     bool // an admin or supervisor, who reaches queues and agents
	Attributes string
	Now        time.Time
}

// maxHistoryAgents bounds the agents whose names a task page looks up.
const maxHistoryAgents = 20

func (s *Server) webTask(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, err := s.Tasks.FindTaskByID(ctx, chi.URLParam(r, "id"))
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	actor := switchboard.ActorFromContext(ctx)
	d := &taskData{Task: t, Now: s.Now(), Attributes: compactJSON(t.Attributes),
		Manage: actor.IsAdmin() || actor.Role() == switchboard.RoleSupervisor}
	names := map[string]string{}
	if t.AgentID != "" {
		names[t.AgentID] = t.AgentName
	}
	for _, h := range t.History {
		if _, ok := names[h.AgentID]; h.AgentID == "" || ok || len(names) >= maxHistoryAgents {
			continue
		}
		names[h.AgentID] = ""
		if a, err := s.Agents.FindAgentByID(ctx, h.AgentID); err == nil {
			names[h.AgentID] = a.Name
		} else if switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
			s.internalError(w, r, err)
			return
		}
	}
	for _, h := range t.History {
		step := taskStep{TaskTransition: h, AgentName: names[h.AgentID], Why: h.Reason}
		if step.AgentName == "" && h.AgentID != "" {
			step.AgentName = "another agent"
		}
		if d.Manage && h.AgentID != "" {
			step.AgentLink = "/agents/" + h.AgentID
		}
		switch {
		case h.Actor.Type == "user" && actor.IsAdmin():
			step.ActorLink = objectLink("user", h.Actor.ID)
		case h.Actor.Type == "agent" && d.Manage:
			step.ActorLink = objectLink("agent", h.Actor.ID)
		}
		if step.Why == "" {
			switch {
			case h.From == "":
				step.Why = "created"
			case h.To == switchboard.TaskCompleted:
				step.Why = "completed"
			}
		}
		d.Steps = append(d.Steps, step)
	}
	section := "tasks"
	if !d.Manage {
		section = "work"
	}
	s.render(w, r, http.StatusOK, "task", page{Title: t.Title, Section: section, Data: d})
}

type taskNewData struct {
	Queues []option
}

func (s *Server) webNewTask(w http.ResponseWriter, r *http.Request) {
	f := newForm(url.Values{"priority": {"0"}, "idempotency_key": {newFormKey()}})
	if queue := r.URL.Query().Get("queue"); queue != "" {
		f.Values.Set("queue", queue)
	}
	s.renderNewTask(w, r, http.StatusOK, f)
}

// newFormKey makes the idempotency key of a task form: sending the form
// twice (a double click, a reload) makes one task.
func newFormKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "form-" + hex.EncodeToString(b)
}

func (s *Server) renderNewTask(w http.ResponseWriter, r *http.Request, status int, f *form) {
	queues, err := s.visibleQueues(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d := &taskNewData{}
	for _, q := range queues {
		d.Queues = append(d.Queues, option{Value: q.ID, Label: q.Name})
	}
	s.render(w, r, status, "task_new", page{Title: "New task", Section: "tasks", Form: f, Data: d})
}

// expiryLayouts are what a datetime-local field sends, with and without
// seconds.
var expiryLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"}

func (s *Server) webCreateTask(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	nt := switchboard.NewTask{QueueID: f.Get("queue"), Title: f.Get("title"), ExternalRef: f.Get("external_ref"),
		IdempotencyKey: f.Get("idempotency_key")}
	nt.Priority = formInt(f, "priority", "Priority is a whole number from 0 to 100.")
	skills, err := switchboard.ParseSkills("required_skills", f.Get("required_skills"))
	if err != nil {
		f.Add("required_skills", switchboard.ErrorFields(err)[0].Message)
	}
	nt.RequiredSkills = skills
	if v := strings.TrimSpace(f.Get("expires_at")); v != "" {
		for _, layout := range expiryLayouts {
			if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
				nt.ExpiresAt = &t
				break
			}
		}
		if nt.ExpiresAt == nil {
			f.Add("expires_at", "Enter a date and time like 2026-01-31 17:30.")
		}
	}
	if f.HasErrors() {
		// Report the rest of the form too, not only what failed to parse.
		nt.Normalize()
		if err := nt.Validate(s.Now()); err != nil {
			s.fail(r, f, err)
		}
		f.sortErrors("queue", "title", "priority", "required_skills", "external_ref", "expires_at")
		s.renderNewTask(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	t, created, err := s.Tasks.CreateTask(r.Context(), nt)
	if err != nil {
		status := s.fail(r, f, err)
		if f.Error("Idempotency-Key") != "" {
			// The form was sent before, with other values, and made a task
			// (or its key was tampered with). A fresh key makes the next
			// submission a new task, which the user now knows.
			f = newForm(f.Values)
			f.Summary = "This form already created a task, with other values. Check the tasks list; sending the form again now creates another task."
			f.Values.Set("idempotency_key", newFormKey())
		}
		s.renderNewTask(w, r, status, f)
		return
	}
	switch {
	case !created:
		s.setFlash(r, "success", "This task had been created already, by the same form; here it is.")
	case t.Status == switchboard.TaskAssigned:
		s.setFlash(r, "success", "The task has been created and assigned to "+t.AgentName+".")
	case t.Status == switchboard.TaskOffered:
		s.setFlash(r, "success", "The task has been created and offered to "+t.AgentName+".")
	default:
		s.setFlash(r, "success", "The task has been created. It waits in "+t.QueueName+" until an agent can take it.")
	}
	seeOther(w, r, "/tasks/"+t.ID)
}
