package server

import (
	"context"

	"github.com/switchboardhq/switchboard"
)

// QuietHoursJSON are the hours of the user's day during which e-mail and
// SMS wait.
type QuietHoursJSON struct {
	Start    string `json:"start" maxLength:"5" example:"22:00" doc:"Local time of day when they begin, HH:MM."`
	End      string `json:"end" maxLength:"5" example:"07:00" doc:"Local time of day when they end, HH:MM; before the start, they run over midnight."`
	TimeZone string `json:"time_zone" maxLength:"64" example:"Europe/Paris" doc:"The IANA time zone of the times."`
}

// NotificationPreferencesJSON is what reaches a user.
type NotificationPreferencesJSON struct {
	Channels map[string][]string `json:"channels" doc:"For each kind of notification (task.offered, task.assigned, task.escalated, task.sla_breached, agent.offline), the channels that reach the user: email, sms, inapp."`
	Defaults []string            `json:"defaults" nullable:"false" doc:"The kinds the user has not chosen channels for, which take their defaults: for tasks offered and assigned, the channels set on the user's agent; for escalations and SLA breaches, email and inapp; for agents going offline, none."`
	// QuietHours is nil when the user has none.
	QuietHours *QuietHoursJSON `json:"quiet_hours,omitempty" doc:"During quiet hours e-mail and SMS wait until they end; in-app notifications never wait. Absent for none."`
	Phone      string          `json:"phone,omitempty" doc:"Where SMS reach the user: the phone of the agent they work as. Without one, sms cannot be chosen."`
}

func newNotificationPreferencesJSON(p *switchboard.NotificationPreferences) NotificationPreferencesJSON {
	j := NotificationPreferencesJSON{Channels: map[string][]string{}, Defaults: []string{}, Phone: p.Phone}
	for _, kc := range p.Kinds {
		channels := make([]string, len(kc.Channels))
		for i, c := range kc.Channels {
			channels[i] = string(c)
		}
		j.Channels[string(kc.Kind)] = channels
		if kc.Default {
			j.Defaults = append(j.Defaults, string(kc.Kind))
		}
	}
	if q := p.QuietHours; q != nil {
		j.QuietHours = &QuietHoursJSON{Start: q.Start, End: q.End, TimeZone: q.TimeZone}
	}
	return j
}

type notificationPreferencesOutput struct {
	Body NotificationPreferencesJSON
}

type userPreferencesInput struct {
	ID string `path:"id" maxLength:"64"`
}

type setNotificationPreferencesBody struct {
	Channels   map[string][]string `json:"channels,omitempty" doc:"The channels chosen for the kinds it names; the kinds it does not name go back to their defaults. An empty list is a choice: nothing of that kind."`
	QuietHours *QuietHoursJSON     `json:"quiet_hours,omitempty" doc:"Absent for none."`
}

type setMyPreferencesInput struct {
	Body setNotificationPreferencesBody
}

type setUserPreferencesInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body setNotificationPreferencesBody
}

func (b *setNotificationPreferencesBody) update() switchboard.NotificationPreferencesUpdate {
	var upd switchboard.NotificationPreferencesUpdate
	if b.Channels != nil {
		upd.Channels = map[switchboard.NotificationKind][]switchboard.Channel{}
		for kind, names := range b.Channels {
			channels := make([]switchboard.Channel, len(names))
			for i, n := range names {
				channels[i] = switchboard.Channel(n)
			}
			upd.Channels[switchboard.NotificationKind(kind)] = channels
		}
	}
	if q := b.QuietHours; q != nil {
		upd.QuietHours = &switchboard.QuietHours{Start: q.Start, End: q.End, TimeZone: q.TimeZone}
	}
	return upd
}

func (s *Server) apiMyPreferences(ctx context.Context, _ *struct{}) (*notificationPreferencesOutput, error) {
	return s.preferencesOutput(s.Preferences.FindNotificationPreferences(ctx, switchboard.ActorFromContext(ctx).UserID()))
}

func (s *Server) apiSetMyPreferences(ctx context.Context, in *setMyPreferencesInput) (*notificationPreferencesOutput, error) {
	return s.preferencesOutput(s.Preferences.UpdateNotificationPreferences(ctx, switchboard.ActorFromContext(ctx).UserID(), in.Body.update()))
}

func (s *Server) apiUserPreferences(ctx context.Context, in *userPreferencesInput) (*notificationPreferencesOutput, error) {
	return s.preferencesOutput(s.Preferences.FindNotificationPreferences(ctx, in.ID))
}

func (s *Server) apiSetUserPreferences(ctx context.Context, in *setUserPreferencesInput) (*notificationPreferencesOutput, error) {
	return s.preferencesOutput(s.Preferences.UpdateNotificationPreferences(ctx, in.ID, in.Body.update()))
}

func (s *Server) preferencesOutput(p *switchboard.NotificationPreferences, err error) (*notificationPreferencesOutput, error) {
	if err != nil {
		return nil, err
	}
	return &notificationPreferencesOutput{Body: newNotificationPreferencesJSON(p)}, nil
}
