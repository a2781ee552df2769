package server_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

func TestNotificationPreferencesAPI(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		admin := ts.setUp(t)
		adminSecret, _ := ts.MustCreateToken(t, admin)
		sue := ts.MustCreateUser(t, "sue@example.com", switchboard.RoleSupervisor)
		sueSecret, _ := ts.MustCreateToken(t, sue)
		c := ts.api(sueSecret)

		var p server.NotificationPreferencesJSON
		c.call(t, http.MethodGet, "/api/v1/me/notification-preferences", nil).wantStatus(t, http.StatusOK).decode(t, &p)
		if got := p.Channels["task.escalated"]; len(got) != 2 || len(p.Defaults) != 5 || p.QuietHours != nil {
			t.Errorf("defaults: escalations by %v, defaults %v, quiet hours %v", got, p.Defaults, p.QuietHours)
		}

		res := c.call(t, http.MethodPut, "/api/v1/me/notification-preferences", map[string]any{
			"channels":    map[string][]string{"task.sla_breached": {"inapp"}},
			"quiet_hours": map[string]string{"start": "22:00", "end": "07:00", "time_zone": "Europe/Paris"}})
		res.wantStatus(t, http.StatusOK).decode(t, &p)
		if got := p.Channels["task.sla_breached"]; len(got) != 1 || got[0] != "inapp" || p.QuietHours == nil || p.QuietHours.TimeZone != "Europe/Paris" {
			t.Errorf("after PUT: %+v", p)
		}

		for name, tc := range map[string]struct {
			body     map[string]any
			location string
		}{
			"UnknownKind":     {map[string]any{"channels": map[string][]string{"task.lost": {"email"}}}, "body.channels.task.lost"},
			"UnknownChannel":  {map[string]any{"channels": map[string][]string{"task.escalated": {"fax"}}}, "body.channels.task.escalated"},
			"SMSWithoutPhone": {map[string]any{"channels": map[string][]string{"task.escalated": {"sms"}}}, "body.channels.task.escalated"},
			"BadTimeZone":     {map[string]any{"quiet_hours": map[string]string{"start": "22:00", "end": "07:00", "time_zone": "Nowhere/Land"}}, "body.quiet_hours.time_zone"},
			"BadTime":         {map[string]any{"quiet_hours": map[string]string{"start": "10pm", "end": "07:00", "time_zone": "UTC"}}, "body.quiet_hours.start"},
		} {
			t.Run(name, func(t *testing.T) {
				p := c.call(t, http.MethodPut, "/api/v1/me/notification-preferences", tc.body).wantStatus(t, http.StatusUnprocessableEntity).problem(t)
				if len(p.Errors) == 0 || p.Errors[0].Location != tc.location {
					t.Errorf("errors %+v, want one at %s", p.Errors, tc.location)
				}
			})
		}

		// Admins read and set anyone's; nobody else reaches them.
		ts.api(adminSecret).call(t, http.MethodGet, "/api/v1/users/"+sue.ID+"/notification-preferences", nil).
			wantStatus(t, http.StatusOK).wantContains(t, `"time_zone":"Europe/Paris"`)
		ts.api(adminSecret).call(t, http.MethodPut, "/api/v1/users/"+sue.ID+"/notification-preferences", map[string]any{}).
			wantStatus(t, http.StatusOK).wantNotContains(t, "quiet_hours")
		c.call(t, http.MethodGet, "/api/v1/users/"+admin.ID+"/notification-preferences", nil).wantStatus(t, http.StatusForbidden)
		ts.api(adminSecret).call(t, http.MethodGet, "/api/v1/users/nope/notification-preferences", nil).wantStatus(t, http.StatusNotFound)
	})
}

func TestNotificationPreferencesPage(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		ts.setUp(t)
		sue := ts.MustCreateUser(t, "sue@example.com", switchboard.RoleSupervisor)
		b := ts.browser()
		b.signIn(t, sue.Email)

		b.get(t, "/account").wantStatus(t, http.StatusOK).wantContains(t, `href="/account/notifications"`)
		// A supervisor chooses for trouble in queues, not for work offered
		// to agents or agents going offline.
		b.get(t, "/account/notifications").wantStatus(t, http.StatusOK).
			wantContains(t, "Notifications · Switchboard", `name="channels.task.escalated" value="email" checked`, `name="quiet_hours.time_zone"`).
			wantNotContains(t, `name="channels.task.offered"`, `name="channels.agent.offline"`)

		// Errors show beside their fields, with what was entered.
		res := b.post(t, "/account/notifications", url.Values{"channels.task.escalated": {"sms"}, "quiet": {"on"},
			"quiet_hours.start": {"22:00"}, "quiet_hours.end": {"07:00"}, "quiet_hours.time_zone": {"Mars/Olympus"}})
		res.wantStatus(t, http.StatusUnprocessableEntity).
			wantContains(t, "There is a problem", `id="f-channels.task.escalated-error"`, `id="f-quiet_hours.time_zone-error"`, `value="Mars/Olympus"`)

		res = b.post(t, "/account/notifications", url.Values{"channels.task.escalated": {"inapp"}, "channels.task.sla_breached": {"email", "inapp"},
			"quiet": {"on"}, "quiet_hours.start": {"22:00"}, "quiet_hours.end": {"07:00"}, "quiet_hours.time_zone": {"Europe/Paris"}})
		res.wantStatus(t, http.StatusSeeOther)
		b.get(t, "/account/notifications").wantStatus(t, http.StatusOK).
			wantContains(t, "Your notification settings have been saved.", `name="channels.task.escalated" value="inapp" checked`, `value="Europe/Paris"`).
			wantNotContains(t, `name="channels.task.escalated" value="email" checked`)

		p, err := sqlstore.NewNotificationPreferenceService(db).FindNotificationPreferences(systemCtx(), sue.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, kc := range p.Kinds {
			// Ticking the defaults keeps the defaults.
			if wantDefault := kc.Kind != switchboard.NotifyTaskEscalated; kc.Default != wantDefault {
				t.Errorf("%s: default %v, want %v", kc.Kind, kc.Default, wantDefault)
			}
		}

		// Without the box, the quiet hours go.
		b.post(t, "/account/notifications", url.Values{"channels.task.escalated": {"inapp"}}).wantStatus(t, http.StatusSeeOther)
		if p, _ := sqlstore.NewNotificationPreferenceService(db).FindNotificationPreferences(systemCtx(), sue.ID); p.QuietHours != nil {
			t.Errorf("quiet hours %+v, want none", p.QuietHours)
		}
	})
}
