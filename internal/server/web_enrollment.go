package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

// enrollmentKeysPage is how many keys the enrollment page lists at once.
const enrollmentKeysPage = 50

type enrollmentData struct {
	Keys   *switchboard.Page[*switchboard.EnrollmentKey]
	Cursor string
	Now    time.Time
	Form   *form
	// Teams are the choices of the team select; supervisors must pick one
	// of theirs, admins may leave it empty.
	Teams        []option
	TeamRequired bool
	enrollmentReveal
}

// enrollmentReveal is set right after a key is created: the only time its
// secret is ever shown, after the redirect (see stashReveal).
type enrollmentReveal struct {
	NewKey    *switchboard.EnrollmentKey `json:"new_key"`
	NewSecret string                     `json:"new_secret"`
	Example   string                     `json:"example"`
}

func (s *Server) webEnrollment(w http.ResponseWriter, r *http.Request) {
	d := &enrollmentData{}
	s.takeReveal(r, &d.enrollmentReveal)
	s.renderEnrollment(w, r, http.StatusOK, d)
}

func (s *Server) renderEnrollment(w http.ResponseWriter, r *http.Request, status int, d *enrollmentData) {
	ctx := r.Context()
	d.Now = s.Now()
	d.Cursor = r.URL.Query().Get("cursor")
	if d.Form == nil {
		d.Form = newForm(nil)
		d.Form.Values.Set("lifetime", "30")
	}
	d.TeamRequired = !switchboard.ActorFromContext(ctx).IsAdmin()
	teams, err := s.Teams.FindTeams(ctx, switchboard.TeamFilter{Limit: switchboard.MaxPageLimit})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if d.TeamRequired {
		d.Teams = []option{{Value: "", Label: "Choose a team"}}
	} else {
		d.Teams = []option{{Value: "", Label: "No team"}}
	}
	for _, t := range teams.Items {
		d.Teams = append(d.Teams, option{Value: t.ID, Label: t.Name})
	}
	keys, cursor, err := findFromCursor(d.Cursor, func(cursor string) (*switchboard.Page[*switchboard.EnrollmentKey], error) {
		return s.Enrollment.FindEnrollmentKeys(ctx, switchboard.EnrollmentKeyFilter{Limit: enrollmentKeysPage, Cursor: cursor})
	})
	d.Cursor = cursor
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d.Keys = keys
	s.render(w, r, status, "enrollment", page{Title: "Enrollment keys", Section: "enrollment", Data: d})
}

func (s *Server) webCreateEnrollmentKey(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	nk := switchboard.NewEnrollmentKey{Name: f.Get("name"), TeamID: f.Get("team_id"), AutoApprove: f.Get("auto_approve") != ""}
	// Problems only the form can have, in the order of its fields.
	var problems [][2]string
	if strings.TrimSpace(nk.TeamID) == "" && !switchboard.ActorFromContext(ctx).IsAdmin() {
		// The service says so too, but only once the rest is right.
		problems = append(problems, [2]string{"team_id", "Choose one of your teams: agents that enroll join it."})
	}
	if v := strings.TrimSpace(f.Get("max_uses")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > switchboard.MaxEnrollmentKeyUses {
			problems = append(problems, [2]string{"max_uses", fmt.Sprintf("Enter a whole number from 1 to %d, or leave it empty for no limit.", switchboard.MaxEnrollmentKeyUses)})
		} else {
			nk.MaxUses = n
		}
	}
	days, err := strconv.Atoi(f.Get("lifetime"))
	if err != nil || days < 0 || days > 3650 {
		problems = append(problems, [2]string{"lifetime", "Choose how long the key should work."})
	} else if days > 0 {
		exp := s.Now().Add(time.Duration(days) * 24 * time.Hour)
		nk.ExpiresAt = &exp
	}
	if len(problems) > 0 {
		// Report the service's own checks too, so that one round trip
		// shows every mistake.
		status := http.StatusUnprocessableEntity
		if err := nk.Validate(s.Now()); err != nil {
			status = s.fail(r, f, err)
		}
		for _, p := range problems {
			f.Add(p[0], p[1])
		}
		s.renderEnrollment(w, r, status, &enrollmentData{Form: f})
		return
	}
	k, secret, err := s.Enrollment.CreateEnrollmentKey(ctx, nk)
	if err != nil {
		// A team that is not theirs is reported on "teams", as for agents.
		s.renderEnrollment(w, r, s.fail(r, f, renameField(err, "teams", "team_id")), &enrollmentData{Form: f})
		return
	}
	body, _ := json.Marshal(map[string]string{"key": secret, "name": "my-host"})
	example := "curl -X POST " + s.absoluteURL(ctx, "/api/v1/enroll") +
		" -H 'Content-Type: application/json' -d '" + string(body) + "'"
	// Redirect, so that reloading the page makes no second key; the
	// secret is shown once there.
	target, err := s.stashReveal(r, "/enrollment", "", &enrollmentReveal{NewKey: k, NewSecret: secret, Example: example})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	seeOther(w, r, target)
}

func (s *Server) webRevokeEnrollmentKey(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	if !s.confirmed(w, r, f, confirmation{Title: "Revoke this enrollment key?", Question: "Revoke this enrollment key? No new " +
		"agent can enroll with it; agents that already did keep their tokens. This cannot be undone.", Button: "Revoke the key",
		Danger: true, Cancel: "/enrollment", Section: "enrollment"}) {
		return
	}
	if err := s.Enrollment.RevokeEnrollmentKey(r.Context(), chi.URLParam(r, "id")); err != nil {
		switch switchboard.ErrorCode(err) {
		case switchboard.ENOTFOUND:
			s.notFound(w, r)
		case switchboard.EFORBIDDEN:
			s.renderError(w, r, http.StatusForbidden, switchboard.ErrorMessage(err))
		default:
			s.internalError(w, r, err)
		}
		return
	}
	s.setFlash(r, "success", "The enrollment key has been revoked: no new agent can enroll with it. Agents that already did keep their tokens.")
	seeOther(w, r, "/enrollment")
}

// renameField returns err with its errors on field from moved to field to,
// for a form whose field has another name than the service knows it by.
func renameField(err error, from, to string) error {
	var e *switchboard.Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Fields = slices.Clone(e.Fields)
	for i := range c.Fields {
		if c.Fields[i].Field == from {
			c.Fields[i].Field = to
		}
	}
	return &c
}
