package server

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	filter.CreatedBefore = parseDayEnd(f, "created_before")
	status := http.StatusOK
	if !f.HasErrors() {
		p, _, err := findFromCursor(filter.Cursor, func(cursor string) (*switchboard.Page[*switchboard.Task], error) {
			filter.Cursor = cursor
			return s.Tasks.FindTasks(ctx, filter)
		})
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
	Control    taskControls
	// Routing explains how the task is routed, for those who steer it and
	// while it is unfinished.
	Routing *routingView
}

// taskControls are the actions the task page offers, each only to those
// the service lets take it and while the task's status allows it: admins
// and the supervisors of the queue's teams steer a task (the only ones
// besides its agent who see it); its agent may complete it.
type taskControls struct {
	Assign, Requeue, Cancel, Complete bool
	// Reassign says that assigning takes the task back from its agent.
	Reassign bool
	// Force lets an admin assign an agent routing would not choose.
	Force bool
	// Eligible and Others are the assign form's choices: the agents that
	// routing judged, those it could give the task to first, in its order.
	Eligible, Others []option
	// ByID says that the queue reaches more agents than the choices hold:
	// the form then takes an agent's ID too.
	ByID bool
}

// Any reports whether the page offers any action.
func (c taskControls) Any() bool { return c.Assign || c.Requeue || c.Cancel || c.Complete }

// routingView is routing's explanation as the task page shows it.
type routingView struct {
	Strategy, StrategyDoc string
	Manual                bool
	RequiredSkills        map[string]int
	Rows                  []routingRow
	Judged, Eligible      int
	// Chosen is the agent routing gives the task to now, if any.
	Chosen string
	// Hidden counts the agents judged but not listed; Truncated says that
	// the queue reaches more agents than routing judged.
	Hidden    int
	Truncated bool
	// Unseen counts the agents of teams the actor does not supervise,
	// judged and left out.
	Unseen int
}

// routingRow is routing's verdict on one agent.
type routingRow struct {
	switchboard.Verdict
	// Link is the agent's page, when the actor may open it.
	Link string
	// Holds says that the agent is offered or assigned the task now.
	Holds bool
}

// maxHistoryAgents bounds the agents whose names a task page looks up.
const maxHistoryAgents = 20

// maxRoutingRows bounds the agents the routing panel lists and the assign
// form offers; routing judges up to 200, the available first.
const maxRoutingRows = 50

func (s *Server) webTask(w http.ResponseWriter, r *http.Request) {
	s.renderTask(w, r, http.StatusOK, chi.URLParam(r, "id"), newForm(nil))
}

// renderTask shows a task as it is now, with f: the values and problems of
// an action that failed.
func (s *Server) renderTask(w http.ResponseWriter, r *http.Request, status int, id string, f *form) {
	ctx := r.Context()
	t, err := s.Tasks.FindTaskByID(ctx, id)
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	actor := switchboard.ActorFromContext(ctx)
	d := &taskData{Task: t, Now: s.Now(), Attributes: compactJSON(t.Attributes),
		Manage: actor.IsAdmin() || actor.Role() == switchboard.RoleSupervisor}
	if err := s.taskHistory(r, d); err != nil {
		s.internalError(w, r, err)
		return
	}
	// Whoever sees an assigned task may complete it: its agent, or those
	// who steer its queue.
	c := &d.Control
	c.Complete = t.Status.CanTransition(switchboard.TaskCompleted)
	if d.Manage && !t.Status.Terminal() {
		c.Assign = t.Status.CanTransition(switchboard.TaskAssigned)
		c.Reassign = t.Status == switchboard.TaskOffered || t.Status == switchboard.TaskAssigned
		c.Requeue = t.Status.CanTransition(switchboard.TaskQueued)
		c.Cancel = t.Status.CanTransition(switchboard.TaskCancelled)
		c.Force = actor.IsAdmin()
		if err := s.taskRouting(r, d); err != nil {
			s.loadFailed(w, r, err)
			return
		}
	}
	section := "tasks"
	if !d.Manage {
		section = "work"
	}
	s.render(w, r, status, "task", page{Title: t.Title, Section: section, Form: f, Data: d})
}

// taskHistory names the agents and actors of a task's history.
func (s *Server) taskHistory(r *http.Request, d *taskData) error {
	ctx, t := r.Context(), d.Task
	actor := switchboard.ActorFromContext(ctx)
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
			return err
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
	return nil
}

// taskRouting explains how an unfinished task is routed, and makes the
// agents routing judged the assign form's choices.
func (s *Server) taskRouting(r *http.Request, d *taskData) error {
	ctx, t := r.Context(), d.Task
	ex, err := s.Control.ExplainRouting(ctx, t.ID)
	if err != nil {
		return err
	}
	actor := switchboard.ActorFromContext(ctx)
	// A supervisor reaches the agents of their own teams only: a queue may
	// route to other teams too, whose agents they can neither open nor
	// assign.
	reach := func(*switchboard.Candidate) bool { return true }
	if !actor.IsAdmin() {
		teams, err := s.visibleTeams(r)
		if err != nil {
			return err
		}
		own := make(map[string]bool, len(teams))
		for _, tm := range teams {
			own[tm.ID] = true
		}
		reach = func(c *switchboard.Candidate) bool {
			return slices.ContainsFunc(c.TeamIDs, func(id string) bool { return own[id] })
		}
	}
	label := strategyLabels[ex.Strategy]
	v := &routingView{Strategy: label[0], StrategyDoc: label[1], Manual: ex.Strategy == switchboard.Manual,
		RequiredSkills: ex.RequiredSkills, Judged: len(ex.Verdicts) + ex.Hidden, Truncated: ex.Truncated, Unseen: ex.Hidden}
	c := &d.Control
	for _, vd := range ex.Verdicts {
		cand := vd.Candidate
		if vd.Eligible {
			v.Eligible++
		}
		if vd.Chosen {
			v.Chosen = cand.Name
		}
		if len(v.Rows) == maxRoutingRows {
			v.Hidden++
			continue
		}
		row := routingRow{Verdict: vd, Holds: cand.AgentID == t.AgentID}
		if !reach(cand) {
			v.Rows = append(v.Rows, row)
			continue
		}
		row.Link = "/agents/" + cand.AgentID
		v.Rows = append(v.Rows, row)
		// Assigning the agent who has the task already changes nothing.
		if row.Holds && t.Status == switchboard.TaskAssigned {
			continue
		}
		o := option{Value: cand.AgentID, Label: cand.Name + " — " + choiceNote(vd)}
		if row.Holds {
			o.Label += " (has the offer now)"
		}
		if vd.Eligible {
			c.Eligible = append(c.Eligible, o)
		} else {
			c.Others = append(c.Others, o)
		}
	}
	c.ByID = v.Hidden > 0 || ex.Truncated
	d.Routing = v
	return nil
}

// choiceNote says in a few words what routing thinks of an agent, for the
// assign form's choices.
func choiceNote(v switchboard.Verdict) string {
	switch {
	case v.Chosen:
		return "routing's choice"
	case v.Eligible && v.Rank > 0:
		return "eligible, ranked " + strconv.Itoa(v.Rank)
	case v.Eligible:
		return "eligible"
	}
	why := make([]string, len(v.Reasons))
	for i, r := range v.Reasons {
		why[i] = r.Message
	}
	return strings.Join(why, " ")
}

// taskActionFailed answers an action of the task page that the service
// refused: beside the form's fields, or at the top of the page, shown
// with the task as it now is. rename moves a service field's error to the
// form field that carried it.
func (s *Server) taskActionFailed(w http.ResponseWriter, r *http.Request, id string, f *form, err error, rename map[string]string) {
	switch switchboard.ErrorCode(err) {
	case switchboard.ENOTFOUND:
		s.notFound(w, r)
		return
	case switchboard.EINVALID, switchboard.ECONFLICT, switchboard.EFORBIDDEN:
	default:
		s.internalError(w, r, err)
		return
	}
	fields := switchboard.ErrorFields(err)
	if len(fields) == 0 {
		f.Summary = switchboard.ErrorMessage(err)
	}
	for _, fe := range fields {
		field := fe.Field
		if to, ok := rename[field]; ok {
			field = to
		}
		f.Add(field, fe.Message)
	}
	s.renderTask(w, r, httpStatus[switchboard.ErrorCode(err)], id, f)
}

// taskReason reads the reason of a requeue or a cancellation, which its
// history keeps.
func taskReason(f *form, field string) string {
	reason := strings.TrimSpace(f.Get(field))
	if utf8.RuneCountInString(reason) > switchboard.MaxReasonLength {
		f.Add(field, "A reason has at most "+strconv.Itoa(switchboard.MaxReasonLength)+" characters.")
	}
	return reason
}

func (s *Server) webAssignTask(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx, id := r.Context(), chi.URLParam(r, "id")
	// A typed ID, where the form takes one, goes before the choice.
	field, agentID := "agent_id", strings.TrimSpace(f.Get("agent_id"))
	if agentID == "" {
		field, agentID = "agent", f.Get("agent")
	}
	if agentID == "" {
		f.Add("agent", "Choose the agent to give the task to.")
		s.renderTask(w, r, http.StatusUnprocessableEntity, id, f)
		return
	}
	t, err := s.Control.AssignTask(ctx, id, agentID, f.Get("force") != "")
	if err != nil {
		if why := fieldMessage(err, "agent"); why != "" && switchboard.ErrorCode(err) == switchboard.ECONFLICT {
			// Routing would not choose this agent: say who and why.
			f.Add(field, s.assignRefusal(r, agentID, why))
			s.renderTask(w, r, http.StatusConflict, id, f)
			return
		}
		s.taskActionFailed(w, r, id, f, err, map[string]string{"agent": field})
		return
	}
	s.setFlashAt(r, "success", "actions", "The task is assigned to "+t.AgentName+".")
	seeOther(w, r, "/tasks/"+t.ID+"#actions")
}

// assignRefusal says why an agent may not take a task, and, to an admin,
// how to assign them all the same: by force, which makes an active agent
// take it whatever routing thinks.
func (s *Server) assignRefusal(r *http.Request, agentID, why string) string {
	a, err := s.Agents.FindAgentByID(r.Context(), agentID)
	if err != nil {
		return "This agent may not take the task: " + why
	}
	msg := a.Name + " may not take the task: " + why
	if switchboard.ActorFromContext(r.Context()).IsAdmin() && a.Status == switchboard.AgentActive {
		msg += " Tick “Force the assignment” to assign them all the same."
	}
	return msg
}

// fieldMessage returns the message of a field's error, if any.
func fieldMessage(err error, field string) string {
	for _, fe := range switchboard.ErrorFields(err) {
		if fe.Field == field {
			return fe.Message
		}
	}
	return ""
}

func (s *Server) webRequeueTask(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	reason := taskReason(f, "requeue_reason")
	if f.HasErrors() {
		s.renderTask(w, r, http.StatusUnprocessableEntity, id, f)
		return
	}
	t, err := s.Control.RequeueTask(r.Context(), id, reason)
	if err != nil {
		s.taskActionFailed(w, r, id, f, err, nil)
		return
	}
	switch t.Status {
	case switchboard.TaskAssigned:
		s.setFlashAt(r, "success", "actions", "The task went back to its queue, and routing assigned it to "+t.AgentName+".")
	case switchboard.TaskOffered:
		s.setFlashAt(r, "success", "actions", "The task went back to its queue, and routing offered it to "+t.AgentName+".")
	default:
		s.setFlashAt(r, "success", "actions", "The task is back in "+t.QueueName+". It waits until an agent can take it.")
	}
	seeOther(w, r, "/tasks/"+t.ID+"#actions")
}

func (s *Server) webCancelTask(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	reason := taskReason(f, "cancel_reason")
	if f.HasErrors() {
		s.renderTask(w, r, http.StatusUnprocessableEntity, id, f)
		return
	}
	current, err := s.Tasks.FindTaskByID(r.Context(), id)
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	if !s.confirmed(w, r, f, confirmation{Title: "Cancel “" + current.Title + "”?", Question: "Cancel “" + current.Title +
		"” for good? It ends, and whoever holds it or was offered it no longer does; its history is kept. This cannot be undone.",
		Button: "Cancel the task", Danger: true, Cancel: "/tasks/" + id + "#cancel", Section: "tasks"}) {
		return
	}
	t, err := s.Control.CancelTask(r.Context(), id, reason)
	if err != nil {
		s.taskActionFailed(w, r, id, f, err, nil)
		return
	}
	s.setFlash(r, "success", "The task is cancelled.")
	seeOther(w, r, "/tasks/"+t.ID)
}

// webCompleteTask completes a task from its page: its agent, or an admin
// or supervisor who steers its queue.
func (s *Server) webCompleteTask(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	t, err := s.Completer.CompleteTask(r.Context(), id, f.Get("outcome"))
	if err != nil {
		s.taskActionFailed(w, r, id, f, err, nil)
		return
	}
	s.setFlash(r, "success", "The task is complete.")
	seeOther(w, r, "/tasks/"+t.ID)
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
		if f.Error("queue") == "" {
			if _, err := s.Queues.FindQueueByID(r.Context(), nt.QueueID); switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
				f.Add("queue", "No such queue.")
			}
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
