package server

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

// tokenLifetimes are the expiry choices of the token form, in days; 0 is
// "never".
var tokenLifetimes = []struct {
	Days  int
	Label string
}{{7, "7 days"}, {30, "30 days"}, {90, "90 days"}, {365, "1 year"}, {0, "Never"}}

type accountData struct {
	User         *switchboard.User
	Tokens       *switchboard.Page[*switchboard.APIToken]
	Cursor       string
	Now          time.Time
	PasswordForm *form
	TokenForm    *form
	Lifetimes    any
	// NewToken and NewSecret are set right after a token is created: the
	// only time its secret is ever shown.
	NewToken  *switchboard.APIToken `json:"new_token"`
	NewSecret string                `json:"new_secret"`
}

func (s *Server) webAccount(w http.ResponseWriter, r *http.Request) {
	d := &accountData{}
	s.takeReveal(r, d)
	s.renderAccount(w, r, http.StatusOK, d)
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, d *accountData) {
	ctx := r.Context()
	actor := switchboard.ActorFromContext(ctx)
	d.User = actor.User
	d.Now = s.Now()
	d.Lifetimes = tokenLifetimes
	d.Cursor = r.URL.Query().Get("cursor")
	if d.PasswordForm == nil {
		d.PasswordForm = newForm(nil)
	}
	if d.TokenForm == nil {
		d.TokenForm = newForm(nil)
		d.TokenForm.Values.Set("lifetime", "90")
	}
	tokens, cursor, err := findFromCursor(d.Cursor, func(cursor string) (*switchboard.Page[*switchboard.APIToken], error) {
		return s.Tokens.FindTokens(ctx, switchboard.TokenFilter{UserID: actor.UserID(), Limit: 20, Cursor: cursor})
	})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d.Cursor = cursor
	d.Tokens = tokens
	s.render(w, r, status, "account", page{Title: "My account", Section: "account", Data: d})
}

func (s *Server) webChangePassword(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	// The service checks all three fields, the confirmation included, so
	// that every mistake is reported at once.
	confirm := f.Get("new_password_confirm")
	var u *switchboard.User
	err := s.allowSignInAttempt(ctx)
	if err == nil {
		u, err = s.Users.ChangePassword(ctx, switchboard.PasswordChange{Current: f.Get("current_password"), New: f.Get("new_password"), Confirm: &confirm})
	}
	if err != nil {
		status := s.fail(r, f, err)
		s.renderAccount(w, r, status, &accountData{PasswordForm: f})
		return
	}
	if err := s.signIn(ctx, u); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.setFlash(r, "success", "Your password has been changed. Your other browser sessions have been signed out.")
	seeOther(w, r, "/account")
}

func (s *Server) webCreateToken(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	nt := switchboard.NewToken{UserID: switchboard.ActorFromContext(ctx).UserID(), Name: f.Get("name")}
	if !s.tokenLifetime(r, f, &nt) {
		s.renderAccount(w, r, http.StatusUnprocessableEntity, &accountData{TokenForm: f})
		return
	}
	t, secret, err := s.Tokens.CreateToken(ctx, nt)
	if err != nil {
		status := s.fail(r, f, err)
		s.renderAccount(w, r, status, &accountData{TokenForm: f})
		return
	}
	// Redirect, so that reloading the page makes no second token; the
	// secret is shown once there.
	s.setFlashAt(r, "success", "tokens", "Token “"+t.Name+"” has been created.")
	target, err := s.stashReveal(r, "/account", "#tokens", &accountData{NewToken: t, NewSecret: secret})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	seeOther(w, r, target)
}

// tokenLifetime reads a token form's lifetime into nt's expiry. When it is
// not one of the choices, it reports it with the name's problems, so that
// one answer shows both, and returns false.
func (s *Server) tokenLifetime(r *http.Request, f *form, nt *switchboard.NewToken) bool {
	days, err := strconv.Atoi(f.Get("lifetime"))
	if err == nil && days >= 0 && days <= 3650 {
		if days > 0 {
			exp := s.Now().Add(time.Duration(days) * 24 * time.Hour)
			nt.ExpiresAt = &exp
		}
		return true
	}
	if err := nt.Validate(s.Now()); err != nil {
		s.fail(r, f, err)
	}
	f.Add("lifetime", "Choose how long the token should last.")
	return false
}

func (s *Server) webRevokeToken(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	if !s.confirmed(w, r, f, confirmation{Title: "Revoke this token?", Question: "Revoke this API token? Anything using it stops " +
		"working at once. This cannot be undone.", Button: "Revoke the token", Danger: true, Cancel: "/account#tokens", Section: "account"}) {
		return
	}
	if err := s.Tokens.RevokeToken(r.Context(), chi.URLParam(r, "id")); err != nil {
		if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
			s.notFound(w, r)
			return
		}
		s.internalError(w, r, err)
		return
	}
	s.setFlashAt(r, "success", "tokens", "The token has been revoked; requests with it are now refused.")
	seeOther(w, r, "/account#tokens")
}

// commonTimeZones are offered as suggestions in the quiet hours form; any
// IANA zone may be typed.
var commonTimeZones = []string{"UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin",
	"Europe/Madrid", "Europe/Rome", "Europe/Amsterdam", "Europe/Brussels", "Europe/Zurich", "Europe/Stockholm",
	"Europe/Warsaw", "Europe/Athens", "Europe/Helsinki", "Europe/Istanbul", "Europe/Kyiv", "Africa/Cairo",
	"Africa/Johannesburg", "Africa/Lagos", "Africa/Nairobi", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore",
	"Asia/Shanghai", "Asia/Hong_Kong", "Asia/Tokyo", "Asia/Seoul", "Australia/Perth", "Australia/Sydney",
	"Pacific/Auckland", "America/Sao_Paulo", "America/Buenos_Aires", "America/Mexico_City", "America/Bogota",
	"America/New_York", "America/Toronto", "America/Chicago", "America/Denver", "America/Phoenix",
	"America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu"}

// preferenceGridRow is one kind of notification in the grid of the
// notifications page.
type preferenceGridRow struct {
	Kind     switchboard.NotificationKind
	Field    string // the form field of its channels: "channels.<kind>"
	Defaults string // the default channels, for the hint
}

type preferencesData struct {
	Prefs     *switchboard.NotificationPreferences
	Rows      []preferenceGridRow
	Channels  []switchboard.Channel
	TimeZones []string
}

func (s *Server) webPreferences(w http.ResponseWriter, r *http.Request) {
	s.renderPreferences(w, r, http.StatusOK, nil)
}

// renderPreferences shows the notifications page; f holds what was sent
// when it is shown again with errors, nil to show what is stored.
func (s *Server) renderPreferences(w http.ResponseWriter, r *http.Request, status int, f *form) {
	ctx := r.Context()
	p, err := s.Preferences.FindNotificationPreferences(ctx, switchboard.ActorFromContext(ctx).UserID())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d := &preferencesData{Prefs: p, Channels: switchboard.AgentChannels, TimeZones: commonTimeZones}
	for _, kc := range p.Kinds {
		if !kc.Kind.ForRole(p.Role, p.Agent) {
			continue
		}
		names := make([]string, len(kc.Defaults))
		for i, c := range kc.Defaults {
			names[i] = channelLabel(c)
		}
		defaults := strings.Join(names, ", ")
		if defaults == "" {
			defaults = "none"
		}
		d.Rows = append(d.Rows, preferenceGridRow{Kind: kc.Kind, Field: "channels." + string(kc.Kind), Defaults: defaults})
	}
	if f == nil {
		f = newForm(nil)
		for _, kc := range p.Kinds {
			for _, c := range kc.Channels {
				f.Values.Add("channels."+string(kc.Kind), string(c))
			}
		}
		if q := p.QuietHours; q != nil {
			f.Values.Set("quiet", "on")
			f.Values.Set("quiet_hours.start", q.Start)
			f.Values.Set("quiet_hours.end", q.End)
			f.Values.Set("quiet_hours.time_zone", q.TimeZone)
		} else {
			f.Values.Set("quiet_hours.start", "22:00")
			f.Values.Set("quiet_hours.end", "07:00")
			f.Values.Set("quiet_hours.time_zone", "UTC")
		}
	}
	s.render(w, r, status, "notification_preferences", page{Title: "Notifications", Section: "account", Form: f, Data: d})
}

// channelLabel names a channel for people.
func channelLabel(c switchboard.Channel) string {
	switch c {
	case switchboard.ChannelEmail:
		return "E-mail"
	case switchboard.ChannelSMS:
		return "SMS"
	case switchboard.ChannelInApp:
		return "In-app"
	case switchboard.ChannelWebhook:
		return "Webhook"
	}
	return string(c)
}

func (s *Server) webSavePreferences(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	userID := switchboard.ActorFromContext(ctx).UserID()
	current, err := s.Preferences.FindNotificationPreferences(ctx, userID)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	upd := switchboard.NotificationPreferencesUpdate{Channels: map[switchboard.NotificationKind][]switchboard.Channel{}}
	for _, kc := range current.Kinds {
		if !kc.Kind.ForRole(current.Role, current.Agent) {
			// Not on the page: it stays as it is.
			if !kc.Default {
				upd.Channels[kc.Kind] = kc.Channels
			}
			continue
		}
		var ticked []switchboard.Channel
		for _, c := range switchboard.AgentChannels {
			if f.Has("channels."+string(kc.Kind), string(c)) {
				ticked = append(ticked, c)
			}
		}
		for _, v := range f.Values["channels."+string(kc.Kind)] {
			if !slices.Contains(switchboard.AgentChannels, switchboard.Channel(v)) {
				ticked = append(ticked, switchboard.Channel(v)) // the service says what is wrong with it
			}
		}
		// Ticking what the defaults are keeps the defaults, which follow
		// the agent's channels when those change.
		if !sameChannels(ticked, kc.Defaults) {
			upd.Channels[kc.Kind] = ticked
			if ticked == nil {
				upd.Channels[kc.Kind] = []switchboard.Channel{}
			}
		}
	}
	if f.Get("quiet") != "" {
		upd.QuietHours = &switchboard.QuietHours{Start: f.Get("quiet_hours.start"), End: f.Get("quiet_hours.end"), TimeZone: f.Get("quiet_hours.time_zone")}
	}
	if _, err := s.Preferences.UpdateNotificationPreferences(ctx, userID, upd); err != nil {
		fields := switchboard.ErrorFields(err)
		if switchboard.ErrorCode(err) != switchboard.EINVALID || len(fields) == 0 {
			status := s.fail(r, f, err)
			s.renderPreferences(w, r, status, f)
			return
		}
		// The service names the fields as the form does.
		for _, fe := range fields {
			f.Add(fe.Field, fe.Message)
		}
		order := []string{}
		for _, k := range switchboard.NotificationKinds {
			order = append(order, "channels."+string(k))
		}
		f.sortErrors(append(order, "quiet_hours.start", "quiet_hours.end", "quiet_hours.time_zone")...)
		s.renderPreferences(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	s.setFlash(r, "success", "Your notification settings have been saved.")
	seeOther(w, r, "/account/notifications")
}

// sameChannels reports whether a and b hold the same channels, in any
// order.
func sameChannels(a, b []switchboard.Channel) bool {
	if len(a) != len(b) {
		return false
	}
	for _, c := range a {
		if !slices.Contains(b, c) {
			return false
		}
	}
	return true
}
