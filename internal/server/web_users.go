package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

type usersData struct {
	Filter url.Values // the list's query, for links that keep it
	Page   *switchboard.Page[*switchboard.User]
	Rows   []userRow
	Cursor string
	Roles  []switchboard.Role
}

// userRow is a user as the list shows them: with the teams they supervise
// and the agent they work as.
type userRow struct {
	*switchboard.User
	Supervises []*switchboard.Team
	Agent      *switchboard.Agent
}

// usersTeamsMax bounds the teams read to say who supervises which: more
// pages than any real organisation has.
const usersTeamsMax = 20 * switchboard.MaxPageLimit

// userRows adds to each user of a page the teams they supervise and their
// agent.
func (s *Server) userRows(ctx context.Context, users []*switchboard.User) ([]userRow, error) {
	supervises := map[string][]*switchboard.Team{}
	filter := switchboard.TeamFilter{Limit: switchboard.MaxPageLimit}
	for read := 0; read < usersTeamsMax; read += filter.Limit {
		teams, err := s.Teams.FindTeams(ctx, filter)
		if err != nil {
			return nil, err
		}
		for _, t := range teams.Items {
			for _, sup := range t.Supervisors {
				supervises[sup.ID] = append(supervises[sup.ID], t)
			}
		}
		if teams.NextCursor == "" {
			break
		}
		filter.Cursor = teams.NextCursor
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	agents, err := s.Agents.FindAgentsByUserIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	agentOf := make(map[string]*switchboard.Agent, len(agents))
	for _, a := range agents {
		agentOf[a.UserID] = a
	}
	rows := make([]userRow, len(users))
	for i, u := range users {
		rows[i] = userRow{User: u, Supervises: supervises[u.ID], Agent: agentOf[u.ID]}
	}
	return rows, nil
}

func (s *Server) webUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	filter := switchboard.UserFilter{
		Query:  q.Get("q"),
		Role:   switchboard.Role(q.Get("role")),
		Status: switchboard.UserStatus(q.Get("status")),
		Sort:   q.Get("sort"),
		Limit:  limit,
		Cursor: q.Get("cursor"),
	}
	p, err := s.Users.FindUsers(r.Context(), filter)
	if err != nil {
		if switchboard.ErrorCode(err) == switchboard.EINVALID {
			s.renderError(w, r, http.StatusBadRequest, switchboard.ErrorMessage(err))
			return
		}
		s.internalError(w, r, err)
		return
	}
	rows, err := s.userRows(r.Context(), p.Items)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	base := url.Values{}
	for _, k := range []string{"q", "role", "status", "sort", "limit"} {
		if v := q.Get(k); v != "" {
			base.Set(k, v)
		}
	}
	s.render(w, r, http.StatusOK, "users", page{Title: "Users", Section: "users", Data: &usersData{
		Filter: base, Page: p, Rows: rows, Cursor: filter.Cursor, Roles: switchboard.Roles,
	}})
}

func (s *Server) webNewUser(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil)
	f.Values.Set("role", string(switchboard.RoleAgent))
	s.render(w, r, http.StatusOK, "user_new", page{Title: "New user", Section: "users", Form: f, Data: switchboard.Roles})
}

func (s *Server) webCreateUser(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	nu := switchboard.NewUser{Email: f.Get("email"), Name: f.Get("name"), Role: switchboard.Role(f.Get("role")), Password: f.Get("password")}
	// With a mismatched confirmation the form checks the rest itself, so
	// that it is reported together with any other mistake; otherwise the
	// service checks everything, an address already in use included.
	status := http.StatusUnprocessableEntity
	if f.Get("password") != f.Get("password_confirm") {
		check := nu
		check.Normalize()
		if err := check.Validate(); err != nil {
			status = s.fail(r, f, err)
		}
		if f.Error("email") == "" {
			if _, err := s.Users.FindUserByEmail(r.Context(), check.Email); err == nil {
				f.Add("email", "A user with this e-mail address already exists.")
			}
		}
		f.Add("password_confirm", "The passwords do not match.")
	}
	var u *switchboard.User
	var err error
	if !f.HasErrors() {
		u, err = s.Users.CreateUser(r.Context(), nu)
	}
	if err != nil || f.HasErrors() {
		if err != nil {
			status = s.fail(r, f, err)
		}
		f.sortErrors("email", "name", "role", "password", "password_confirm")
		s.render(w, r, status, "user_new", page{Title: "New user", Section: "users", Form: f, Data: switchboard.Roles})
		return
	}
	s.setFlash(r, "success", "User "+u.Email+" has been created. Give them their password by a safe channel.")
	seeOther(w, r, "/users/"+u.ID)
}

type userData struct {
	User  *switchboard.User
	Roles []switchboard.Role
	Self  bool
	userLink
}

func (s *Server) webUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.Users.FindUserByID(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	var link userLink
	s.takeReveal(r, &link)
	d := &userData{userLink: link}
	s.renderUserData(w, r, http.StatusOK, u, userForm(u), d)
}

// userLink is a new invitation or password reset link, shown once, after
// the redirect that follows its making (see stashReveal).
type userLink struct {
	Link      *InvitationJSON `json:"link"`
	LinkReset bool            `json:"link_reset"`
}

// userForm is the edit form of a user, filled with what is stored.
func userForm(u *switchboard.User) *form {
	return newForm(url.Values{
		"name": {u.Name}, "role": {string(u.Role)}, "status": {string(u.Status)}, "version": {strconv.Itoa(u.Version)},
	})
}

func (s *Server) renderUser(w http.ResponseWriter, r *http.Request, status int, u *switchboard.User, f *form) {
	s.renderUserWith(w, r, status, u, f, nil)
}

func (s *Server) renderUserWith(w http.ResponseWriter, r *http.Request, status int, u *switchboard.User, f *form, link *switchboard.Invitation) {
	d := &userData{}
	if link != nil {
		d.Link, d.LinkReset = s.invitationJSON(r.Context(), link), link.IsPasswordReset()
	}
	s.renderUserData(w, r, status, u, f, d)
}

func (s *Server) renderUserData(w http.ResponseWriter, r *http.Request, status int, u *switchboard.User, f *form, d *userData) {
	d.User, d.Roles, d.Self = u, switchboard.Roles, u.ID == switchboard.ActorFromContext(r.Context()).UserID()
	s.render(w, r, status, "user", page{Title: u.Name, Section: "users", Form: f, Data: d})
}

// webReinviteUser makes a new invitation link for a user without a password
// and shows it, once.
func (s *Server) webReinviteUser(w http.ResponseWriter, r *http.Request) {
	s.issueUserLink(w, r, "Make a new invitation link", "Earlier links stop working.", s.Users.InviteUser)
}

// webResetPassword makes a password reset link and shows it, once.
func (s *Server) webResetPassword(w http.ResponseWriter, r *http.Request) {
	s.issueUserLink(w, r, "Make a password reset link", "Earlier reset links stop working; the password they have "+
		"keeps working until they choose a new one.", s.Users.IssuePasswordReset)
}

func (s *Server) issueUserLink(w http.ResponseWriter, r *http.Request, what, effect string, issue func(context.Context, string) (*switchboard.Invitation, error)) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id := chi.URLParam(r, "id")
	u, err := s.Users.FindUserByID(ctx, id)
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	if !s.confirmed(w, r, f, confirmation{Title: what + "?", Question: what + " for " + u.Name + "? " + effect,
		Button: what, Cancel: "/users/" + id, Section: "users"}) {
		return
	}
	if err := s.canMakeLinks(ctx); err != nil {
		s.setFlash(r, "error", switchboard.ErrorMessage(err))
		seeOther(w, r, "/users/"+id)
		return
	}
	link, err := issue(ctx, id)
	if switchboard.ErrorCode(err) == switchboard.ECONFLICT {
		s.setFlash(r, "error", switchboard.ErrorMessage(err))
		seeOther(w, r, "/users/"+id)
		return
	} else if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	target, err := s.stashReveal(r, "/users/"+id, "", &userLink{Link: s.invitationJSON(ctx, link), LinkReset: link.IsPasswordReset()})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	seeOther(w, r, target)
}

func (s *Server) webUpdateUser(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id := chi.URLParam(r, "id")
	name := f.Get("name")
	role := switchboard.Role(f.Get("role"))
	status := switchboard.UserStatus(f.Get("status"))
	version := f.Version()
	u, err := s.Users.UpdateUser(ctx, id, switchboard.UserUpdate{Name: &name, Role: &role, Status: &status, IfVersion: version})
	if err != nil {
		current, ferr := s.Users.FindUserByID(ctx, id)
		if ferr != nil {
			s.loadFailed(w, r, ferr)
			return
		}
		code := s.fail(r, f, err)
		if switchboard.ErrorCode(err) == switchboard.EPRECONDITION {
			f.Summary = "Someone else changed this user while you were editing. The page now shows their version; make your change again."
			f.Values.Set("version", strconv.Itoa(current.Version))
			f.Values.Set("name", current.Name)
			f.Values.Set("role", string(current.Role))
			f.Values.Set("status", string(current.Status))
		}
		s.renderUser(w, r, code, current, f)
		return
	}
	s.setFlash(r, "success", "Changes to "+u.Email+" have been saved.")
	seeOther(w, r, "/users/"+u.ID)
}
