package server

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

// strategyLabels name the routing strategies for people, with what each
// does.
var strategyLabels = map[switchboard.RoutingStrategy][2]string{
	switchboard.LongestIdle: {"Longest idle", "the agent whose last task is oldest"},
	switchboard.LeastLoaded: {"Least loaded", "the agent with the smallest share of their capacity in use"},
	switchboard.RoundRobin:  {"Round robin", "eligible agents in turn"},
	switchboard.MostSkilled: {"Most skilled", "the agent with the highest levels in the required skills"},
	switchboard.Manual:      {"Manual", "nobody: a supervisor assigns each task"},
}

func strategyLabel(st switchboard.RoutingStrategy) string {
	if l, ok := strategyLabels[st]; ok {
		return l[0]
	}
	return string(st)
}

// strategyOptions are the choices of the strategy field, default first.
func strategyOptions() []option {
	opts := make([]option, len(switchboard.RoutingStrategies))
	for i, st := range switchboard.RoutingStrategies {
		l := strategyLabels[st]
		opts[i] = option{Value: string(st), Label: l[0] + " — " + l[1]}
	}
	return opts
}

type queuesData struct {
	Filter url.Values
	Page   *switchboard.Page[*switchboard.Queue]
	Cursor string
	Teams  []*switchboard.Team
}

func (s *Server) webQueues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	filter := switchboard.QueueFilter{Query: strings.TrimSpace(q.Get("q")), TeamID: q.Get("team"), Limit: limit, Cursor: q.Get("cursor")}
	p, _, err := findFromCursor(filter.Cursor, func(cursor string) (*switchboard.Page[*switchboard.Queue], error) {
		filter.Cursor = cursor
		return s.Queues.FindQueues(r.Context(), filter)
	})
	if err != nil {
		if switchboard.ErrorCode(err) == switchboard.EINVALID {
			s.renderError(w, r, http.StatusBadRequest, switchboard.ErrorMessage(err))
			return
		}
		s.internalError(w, r, err)
		return
	}
	teams, err := s.visibleTeams(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "queues", page{Title: "Queues", Section: "queues", Data: &queuesData{
		Filter: keep(q, "q", "team", "limit"), Page: p, Cursor: filter.Cursor, Teams: teams,
	}})
}

// queueFormData feeds the queue form, for creating and editing.
type queueFormData struct {
	Queue      *switchboard.Queue // nil when creating
	Teams      []option
	Strategies []option
	Admin      bool
	// Manage says that the actor may change the queue; a supervisor may
	// not change one that also routes to teams they do not supervise.
	Manage bool
	// HasTasks says that the queue holds tasks, which keep it from being
	// deleted.
	HasTasks bool
}

func (s *Server) queueFormData(r *http.Request, q *switchboard.Queue) (*queueFormData, error) {
	teams, err := s.visibleTeams(r)
	if err != nil {
		return nil, err
	}
	actor := switchboard.ActorFromContext(r.Context())
	d := &queueFormData{Queue: q, Strategies: strategyOptions(), Admin: actor.IsAdmin(), Manage: true}
	own := make(map[string]bool, len(teams))
	for _, t := range teams {
		d.Teams = append(d.Teams, option{Value: t.ID, Label: t.Name})
		own[t.ID] = true
	}
	if q != nil && !d.Admin {
		d.Manage = len(q.TeamIDs) > 0 && !slices.ContainsFunc(q.TeamIDs, func(id string) bool { return !own[id] })
	}
	if q != nil && d.Admin {
		p, err := s.Tasks.FindTasks(r.Context(), switchboard.TaskFilter{QueueID: q.ID, Limit: 1})
		if err != nil {
			return nil, err
		}
		d.HasTasks = len(p.Items) > 0
	}
	return d, nil
}

func (s *Server) renderQueueForm(w http.ResponseWriter, r *http.Request, status int, f *form, q *switchboard.Queue) {
	d, err := s.queueFormData(r, q)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	title, name := "New queue", "queue_new"
	if q != nil {
		title, name = q.Name, "queue"
	}
	s.render(w, r, status, name, page{Title: title, Section: "queues", Form: f, Data: d})
}

func (s *Server) webNewQueue(w http.ResponseWriter, r *http.Request) {
	f := newForm(url.Values{
		"strategy": {string(switchboard.LongestIdle)}, "offer_timeout_seconds": {"0"},
		"max_offers": {strconv.Itoa(switchboard.DefaultMaxOffers)}, "sla_target_seconds": {"0"},
	})
	if team := r.URL.Query().Get("team"); team != "" {
		f.Values.Set("team_ids", team)
	}
	s.renderQueueForm(w, r, http.StatusOK, f, nil)
}

// queueFields are the queue form's fields, in the page's order.
var queueFields = []string{"name", "team_ids", "required_skills", "strategy", "offer_timeout_seconds", "max_offers",
	"sla_target_seconds", "requeue_on_offline"}

// queueFormFields reads the queue form. Problems of form (a number or a
// skill list that does not parse) go on f.
func queueFormFields(f *form) switchboard.NewQueue {
	nq := switchboard.NewQueue{
		Name: f.Get("name"), TeamIDs: append([]string{}, f.Values["team_ids"]...),
		Strategy: switchboard.RoutingStrategy(f.Get("strategy")), RequeueOnOffline: f.Get("requeue_on_offline") != "",
	}
	skills, err := switchboard.ParseSkills("required_skills", f.Get("required_skills"))
	if err != nil {
		f.Add("required_skills", switchboard.ErrorFields(err)[0].Message)
	}
	nq.RequiredSkills = skills
	nq.OfferTimeout = time.Duration(formInt(f, "offer_timeout_seconds", "Enter the offer timeout in whole seconds, like 30, or 0 to assign directly.")) * time.Second
	nq.MaxOffers = formInt(f, "max_offers", "Enter how many agents are offered a task, like 3.")
	if nq.MaxOffers == 0 && strings.TrimSpace(f.Get("max_offers")) != "" {
		nq.MaxOffers = -1 // 0 typed is out of range, not "the default"
	}
	nq.SLATarget = time.Duration(formInt(f, "sla_target_seconds", "Enter the SLA target in whole seconds, like 300, or 0 for none.")) * time.Second
	return nq
}

// moreQueueFormProblems adds to a form with fields that did not parse the
// rest of its problems, which the service would find only once those are
// corrected: the fields' own, and a name another queue (not exceptID) has.
func (s *Server) moreQueueFormProblems(r *http.Request, f *form, nq switchboard.NewQueue, exceptID string) {
	nq.Normalize()
	if err := nq.Validate(); err != nil {
		s.fail(r, f, err)
	}
	if f.Error("name") == "" {
		p, err := s.Queues.FindQueues(r.Context(), switchboard.QueueFilter{Query: nq.Name, Limit: switchboard.MaxPageLimit})
		if err == nil {
			for _, q := range p.Items {
				if q.ID != exceptID && strings.EqualFold(q.Name, nq.Name) {
					f.Add("name", "A queue with this name already exists.")
					break
				}
			}
		}
	}
	f.sortErrors(queueFields...)
}

// formInt reads a whole number; an empty field is 0. A malformed one is
// recorded on the form with message.
func formInt(f *form, field, message string) int {
	v := strings.TrimSpace(f.Get(field))
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		f.Add(field, message)
	}
	return n
}

func (s *Server) webCreateQueue(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	nq := queueFormFields(f)
	if f.HasErrors() {
		s.moreQueueFormProblems(r, f, nq, "")
		s.renderQueueForm(w, r, http.StatusUnprocessableEntity, f, nil)
		return
	}
	q, err := s.Queues.CreateQueue(r.Context(), nq)
	if err != nil {
		s.renderQueueForm(w, r, s.fail(r, f, err), f, nil)
		return
	}
	s.setFlash(r, "success", "Queue "+q.Name+" has been created.")
	seeOther(w, r, "/queues/"+q.ID)
}

// queueToForm is the edit form filled in with the queue as it is.
func queueToForm(q *switchboard.Queue) *form {
	v := url.Values{
		"name": {q.Name}, "team_ids": q.TeamIDs, "required_skills": {switchboard.FormatSkills(q.RequiredSkills)},
		"strategy": {string(q.Strategy)}, "offer_timeout_seconds": {strconv.Itoa(int(q.OfferTimeout / time.Second))},
		"max_offers": {strconv.Itoa(q.MaxOffers)}, "sla_target_seconds": {strconv.Itoa(int(q.SLATarget / time.Second))},
		"version": {strconv.Itoa(q.Version)},
	}
	if q.RequeueOnOffline {
		v.Set("requeue_on_offline", "on")
	}
	return newForm(v)
}

func (s *Server) webQueue(w http.ResponseWriter, r *http.Request) {
	q, err := s.Queues.FindQueueByID(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	s.renderQueueForm(w, r, http.StatusOK, queueToForm(q), q)
}

func (s *Server) webUpdateQueue(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	current, err := s.Queues.FindQueueByID(ctx, chi.URLParam(r, "id"))
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	nq := queueFormFields(f)
	if f.HasErrors() {
		s.moreQueueFormProblems(r, f, nq, current.ID)
		s.renderQueueForm(w, r, http.StatusUnprocessableEntity, f, current)
		return
	}
	maxOffers := nq.MaxOffers
	if strings.TrimSpace(f.Get("max_offers")) == "" {
		maxOffers = -1 // empty is not "leave as it is": say what it should be
	}
	q, err := s.Queues.UpdateQueue(ctx, current.ID, switchboard.QueueUpdate{
		Name: &nq.Name, TeamIDs: &nq.TeamIDs, RequiredSkills: &nq.RequiredSkills, Strategy: &nq.Strategy,
		OfferTimeout: &nq.OfferTimeout, MaxOffers: &maxOffers, SLATarget: &nq.SLATarget,
		RequeueOnOffline: &nq.RequeueOnOffline, IfVersion: f.Version(),
	})
	if err != nil {
		status := s.fail(r, f, err)
		if switchboard.ErrorCode(err) == switchboard.EPRECONDITION {
			f = queueToForm(current)
			f.Summary = "Someone else changed this queue while you were editing. The form now shows their version; make your change again."
		}
		s.renderQueueForm(w, r, status, f, current)
		return
	}
	s.setFlash(r, "success", "Changes to "+q.Name+" have been saved.")
	seeOther(w, r, "/queues/"+q.ID)
}

func (s *Server) webDeleteQueue(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	q, err := s.Queues.FindQueueByID(r.Context(), id)
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	if !s.confirmed(w, r, f, confirmation{Title: "Delete the queue " + q.Name + "?", Question: "Delete the queue " + q.Name +
		"? This cannot be undone.", Button: "Delete " + q.Name, Danger: true, Cancel: "/queues/" + id, Section: "queues"}) {
		return
	}
	err = s.Queues.DeleteQueue(r.Context(), id)
	switch switchboard.ErrorCode(err) {
	case "":
		s.setFlash(r, "success", "The queue has been deleted.")
		seeOther(w, r, "/queues")
	case switchboard.ECONFLICT:
		// Its tasks refer to it, and keep their history.
		s.setFlash(r, "error", "This queue still has tasks, so it cannot be deleted: tasks keep their queue for their history.")
		seeOther(w, r, "/queues/"+id)
	case switchboard.EFORBIDDEN:
		s.renderError(w, r, http.StatusForbidden, switchboard.ErrorMessage(err))
	default:
		s.loadFailed(w, r, err)
	}
}
