package server

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

// recentWork is how many completed tasks My work recalls.
const recentWork = 5

// offerView is an offer with the time left to take it up.
type offerView struct {
	*switchboard.Offer
	Left time.Duration
	// LeftMillis is the time left as a script counts it down: relative to
	// the page, so that a wrong clock on the user's computer does not
	// matter.
	LeftMillis int64
}

type workData struct {
	Agent  *switchboard.Agent
	Offers []offerView
	Tasks  []*switchboard.Task
	Recent []*switchboard.Task
	// Presences are the presences an agent may choose; busy is derived.
	Presences []switchboard.Presence
}

// Summary says what waits, for screen readers when the page updates.
func (d *workData) Summary() string {
	plural := func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + many
	}
	return plural(len(d.Offers), "offer", "offers") + " waiting, " + plural(len(d.Tasks), "task", "tasks") + " assigned to you."
}

// loadWork gathers what My work shows of an agent.
func (s *Server) loadWork(r *http.Request, a *switchboard.Agent) (*workData, error) {
	ctx := r.Context()
	d := &workData{Agent: a, Presences: []switchboard.Presence{switchboard.PresenceAvailable, switchboard.PresenceAway, switchboard.PresenceOffline}}
	offers, err := s.Offers.FindMyOffers(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	for _, o := range offers {
		left := max(o.ExpiresAt.Sub(now), 0)
		d.Offers = append(d.Offers, offerView{Offer: o, Left: left.Round(time.Second), LeftMillis: left.Milliseconds()})
	}
	tasks, err := s.Tasks.FindTasks(ctx, switchboard.TaskFilter{AgentID: a.ID, Status: switchboard.TaskAssigned, Limit: switchboard.MaxPageLimit})
	if err != nil {
		return nil, err
	}
	d.Tasks = tasks.Items
	recent, err := s.Tasks.FindTasks(ctx, switchboard.TaskFilter{AgentID: a.ID, Status: switchboard.TaskCompleted, Limit: recentWork})
	if err != nil {
		return nil, err
	}
	d.Recent = recent.Items
	return d, nil
}

func (s *Server) webWork(w http.ResponseWriter, r *http.Request) {
	s.renderWork(w, r, http.StatusOK, nil, "")
}

// webWorkLive answers the part of My work that changes, for the page's
// script to put in place of the old one.
func (s *Server) webWorkLive(w http.ResponseWriter, r *http.Request) {
	s.renderWork(w, r, http.StatusOK, nil, "workLive")
}

// renderWork shows My work, or its changing part alone (fragment), with
// the errors of a Complete form if any.
func (s *Server) renderWork(w http.ResponseWriter, r *http.Request, status int, f *form, fragment string) {
	a := s.myAgent(r)
	if a == nil {
		s.render(w, r, http.StatusOK, "work_none", page{Title: "My work", Section: "work", agentKnown: true})
		return
	}
	d, err := s.loadWork(r, a)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if f == nil {
		f = newForm(nil)
	}
	s.render(w, r, status, "work", page{Title: "My work", Section: "work", Form: f, Data: d, MyAgent: a, agentKnown: true,
		Scripts: []string{"work.js"}, fragment: fragment})
}

func (s *Server) webSetPresence(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	a, err := s.Presence.SetPresence(r.Context(), switchboard.Presence(f.Get("presence")))
	switch switchboard.ErrorCode(err) {
	case "":
		msg := "You are " + string(a.Presence) + " now."
		switch a.Presence {
		case switchboard.PresenceAvailable, switchboard.PresenceBusy:
			msg += " New work comes to you here."
		case switchboard.PresenceAway, switchboard.PresenceOffline:
			msg += " You get no new work until you are available again."
		}
		s.setFlash(r, "success", msg)
	case switchboard.EINVALID, switchboard.ECONFLICT, switchboard.EFORBIDDEN:
		s.setFlash(r, "error", switchboard.ErrorMessage(err))
	default:
		s.internalError(w, r, err)
		return
	}
	seeOther(w, r, "/my-work")
}

// offerClosed says why an offer can no longer be answered, from the state
// the service reports.
func offerClosed(err error) string {
	var e *switchboard.Error
	if errors.As(err, &e) && e.State != nil {
		switch switchboard.OfferStatus(e.State.Current) {
		case switchboard.OfferTimedOut:
			return "This offer timed out before your answer; the task went on to another agent."
		case switchboard.OfferRevoked:
			return "This offer was withdrawn; the task is no longer yours to take."
		case switchboard.OfferAccepted, switchboard.OfferRejected:
			return "You have answered this offer already."
		}
	}
	return switchboard.ErrorMessage(err)
}

// answerOffer accepts or rejects an offer and goes back to My work.
func (s *Server) answerOffer(w http.ResponseWriter, r *http.Request, accept bool) {
	id := chi.URLParam(r, "id")
	var t *switchboard.Task
	var err error
	if accept {
		t, err = s.Offers.AcceptOffer(r.Context(), id)
	} else {
		t, err = s.Offers.RejectOffer(r.Context(), id)
	}
	switch switchboard.ErrorCode(err) {
	case "":
		if accept {
			s.setFlash(r, "success", "“"+t.Title+"” is yours now. Complete it below when it is done.")
		} else {
			s.setFlash(r, "success", "You passed on “"+t.Title+"”; it goes to another agent.")
		}
	case switchboard.ECONFLICT:
		s.setFlash(r, "error", offerClosed(err))
	case switchboard.EFORBIDDEN:
		s.renderError(w, r, http.StatusForbidden, switchboard.ErrorMessage(err))
		return
	default:
		s.loadFailed(w, r, err)
		return
	}
	seeOther(w, r, "/my-work")
}

func (s *Server) webAcceptOffer(w http.ResponseWriter, r *http.Request) { s.answerOffer(w, r, true) }

func (s *Server) webRejectOffer(w http.ResponseWriter, r *http.Request) { s.answerOffer(w, r, false) }

func (s *Server) webCompleteMyTask(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	t, err := s.Completer.CompleteTask(r.Context(), id, f.Get("outcome"))
	switch switchboard.ErrorCode(err) {
	case "":
		s.setFlash(r, "success", "“"+t.Title+"” is complete.")
	case switchboard.EINVALID:
		// Say it beside the outcome of this task, keeping what was typed.
		field := "outcome-" + id
		ef := newForm(url.Values{field: {f.Get("outcome")}})
		ef.Add(field, switchboard.ErrorMessage(err))
		s.renderWork(w, r, http.StatusUnprocessableEntity, ef, "")
		return
	case switchboard.ECONFLICT:
		s.setFlash(r, "error", switchboard.ErrorMessage(err))
	default:
		s.loadFailed(w, r, err)
		return
	}
	seeOther(w, r, "/my-work")
}
