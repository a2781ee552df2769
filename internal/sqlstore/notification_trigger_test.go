package sqlstore_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/notify/compose"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// triggerFixture is a database whose changes write their messages with the
// default templates, on a clock the test moves: an admin, a team "Ops"
// supervised by Sue, and a queue of the team that offers tasks.
type triggerFixture struct {
	*routingFixture
	clock  *fakeClock
	out    *sqlstore.NotificationService
	prefs  *sqlstore.NotificationPreferenceService
	admin  *switchboard.User
	sue    *switchboard.User
	queue  *switchboard.Queue
	agents *sqlstore.AgentService
}

func newTriggerFixture(t *testing.T, db *sqlstore.DB) *triggerFixture {
	t.Helper()
	base, _ := url.Parse("https://sb.example.com")
	db.Composer = compose.New(base)
	clock := newClock(db)
	f := &triggerFixture{routingFixture: newRoutingFixture(t, db), clock: clock, out: sqlstore.NewNotificationService(db),
		prefs: sqlstore.NewNotificationPreferenceService(db), agents: sqlstore.NewAgentService(db)}
	f.admin = switchboard.ActorFromContext(f.routingFixture.admin).User
	f.sue = MustCreateUser(t, db, "sue@example.com", switchboard.RoleSupervisor)
	f.MustSupervisors(t, f.sue)
	f.queue = f.MustQueue(t, switchboard.NewQueue{Name: "Support", TeamIDs: []string{f.team.ID}, OfferTimeout: time.Minute, MaxOffers: 1})
	return f
}

// MustSupervisors makes the users the supervisors of the team.
func (f *triggerFixture) MustSupervisors(t *testing.T, users ...*switchboard.User) {
	t.Helper()
	var ids []string
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	if _, err := sqlstore.NewTeamService(f.db).UpdateTeam(f.routingFixture.admin, f.team.ID, switchboard.TeamUpdate{SupervisorIDs: &ids}); err != nil {
		t.Fatal(err)
	}
}

// MustHuman creates an active human agent in the team for a new user,
// available, with a phone and the channels given; it returns the user and
// the context they act in.
func (f *triggerFixture) MustHuman(t *testing.T, email, phone string, notify ...switchboard.Channel) (*switchboard.User, *switchboard.Agent, context.Context) {
	t.Helper()
	u := MustCreateUser(t, f.db, email, switchboard.RoleAgent)
	a, _, err := f.agents.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Agent " + email, Kind: switchboard.HumanAgent, Email: email,
		Phone: phone, Notify: notify, Capacity: 5, TeamIDs: []string{f.team.ID}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{User: u, Agent: a})
	if _, err := sqlstore.NewPresenceService(f.db).SetPresence(ctx, switchboard.PresenceAvailable); err != nil {
		t.Fatal(err)
	}
	return u, a, ctx
}

// MustBot creates an active machine agent "Bot" in the team, available,
// reached by SMS at +15550002222, with room for one task; it returns the
// agent and the context it acts in with its token.
func (f *triggerFixture) MustBot(t *testing.T) (*switchboard.Agent, context.Context) {
	t.Helper()
	bot, _, err := f.agents.CreateAgent(f.routingFixture.admin, switchboard.NewAgent{Name: "Bot", Kind: switchboard.MachineAgent,
		Phone: "+15550002222", Notify: switchboard.AgentChannels, Capacity: 1, TeamIDs: []string{f.team.ID}})
	if err != nil {
		t.Fatal(err)
	}
	botCtx := switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{Agent: bot})
	if _, err := sqlstore.NewPresenceService(f.db).SetPresence(botCtx, switchboard.PresenceAvailable); err != nil {
		t.Fatal(err)
	}
	return bot, botCtx
}

// notifications are the messages of the outbox about events of a type,
// oldest first.
func (f *triggerFixture) notifications(t *testing.T, eventType string) []*switchboard.Notification {
	t.Helper()
	page, err := f.out.FindNotifications(systemCtx(), switchboard.NotificationFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	var out []*switchboard.Notification
	for _, n := range slices.Backward(page.Items) {
		if n.EventType == eventType {
			out = append(out, n)
		}
	}
	return out
}

// sent summarises messages as "channel recipient" in a sorted list.
func sent(ns []*switchboard.Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, string(n.Channel)+" "+n.Recipient)
	}
	slices.Sort(out)
	return out
}

func wantSent(t *testing.T, what string, got []*switchboard.Notification, want ...string) {
	t.Helper()
	slices.Sort(want)
	if g := sent(got); !slices.Equal(g, want) {
		t.Errorf("%s: sent %q, want %q", what, g, want)
	}
}

func TestTriggers_TaskOfferedAndAssigned(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newTriggerFixture(t, db)
		ann, _, annCtx := f.MustHuman(t, "ann@example.com", "+15550001111", switchboard.ChannelEmail, switchboard.ChannelSMS, switchboard.ChannelInApp)

		task := f.MustTask(t, switchboard.NewTask{QueueID: f.queue.ID, Title: "Call Mrs Smith back"})
		offered := f.notifications(t, switchboard.AuditTaskOffered)
		wantSent(t, "offer", offered, "email ann@example.com", "sms +15550001111", "inapp "+ann.ID)
		for _, n := range offered {
			// In-app messages are delivered by being written.
			want := switchboard.NotificationPending
			if n.Channel == switchboard.ChannelInApp {
				want = switchboard.NotificationSent
			}
			if n.UserID != ann.ID || !strings.Contains(n.Subject, "Call Mrs Smith back") || n.Status != want {
				t.Errorf("%s message: user %q, subject %q, status %s; want Ann's, about the task, %s", n.Channel, n.UserID, n.Subject, n.Status, want)
			}
			if n.Channel == switchboard.ChannelInApp && n.Link != "/my-work" {
				t.Errorf("in-app link %q, want /my-work", n.Link)
			}
		}
		if n := offered[0]; !n.NextAttemptAt.Equal(f.clock.Now()) {
			t.Errorf("due at %v, want now (%v)", n.NextAttemptAt, f.clock.Now())
		}

		// Ann accepting is her own doing: nobody is told.
		offers, err := sqlstore.NewOfferService(db).FindMyOffers(annCtx)
		if err != nil || len(offers) != 1 {
			t.Fatalf("FindMyOffers = %d, %v; want 1", len(offers), err)
		}
		if _, err := sqlstore.NewOfferService(db).AcceptOffer(annCtx, offers[0].ID); err != nil {
			t.Fatal(err)
		}
		wantSent(t, "accepting", f.notifications(t, switchboard.AuditTaskAssigned))

		if got := f.notifications(t, switchboard.AuditTaskOffered); len(got) != len(offered) {
			t.Errorf("%d offer messages after accepting, want %d", len(got), len(offered))
		}

		// A task the admin's change assigns to her at once is news to her.
		direct := f.MustQueue(t, switchboard.NewQueue{Name: "Direct", TeamIDs: []string{f.team.ID}})
		other := f.MustTask(t, switchboard.NewTask{QueueID: direct.ID, Title: "Reboot the router"})
		if other.AgentID == "" || task.ID == other.ID {
			t.Fatalf("task not assigned")
		}
		assigned := f.notifications(t, switchboard.AuditTaskAssigned)
		wantSent(t, "assignment", assigned, "email ann@example.com", "sms +15550001111", "inapp "+ann.ID)
		for _, n := range assigned {
			if n.EventID == "" || n.Channel == switchboard.ChannelInApp && n.Link != "/tasks/"+other.ID {
				t.Errorf("%s: event %q, link %q", n.Channel, n.EventID, n.Link)
			}
		}
	})
}

func TestTriggers_MachineAgentsAndAssignment(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newTriggerFixture(t, db)
		// A machine agent is reached only where it can be: by SMS here.
		bot, _ := f.MustBot(t)
		direct := f.MustQueue(t, switchboard.NewQueue{Name: "Direct", TeamIDs: []string{f.team.ID}})
		task := f.MustTask(t, switchboard.NewTask{QueueID: direct.ID, Title: "Rotate the logs"})
		if task.AgentID != bot.ID {
			t.Fatalf("task went to %q, want Bot", task.AgentName)
		}
		assigned := f.notifications(t, switchboard.AuditTaskAssigned)
		wantSent(t, "assignment to a machine", assigned, "sms +15550002222")
		if len(assigned) == 1 && (assigned[0].UserID != "" || !strings.Contains(assigned[0].Subject, "Rotate the logs")) {
			t.Errorf("got user %q, subject %q", assigned[0].UserID, assigned[0].Subject)
		}
	})
}

func TestTriggers_RolledBackChangeWritesNothing(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newTriggerFixture(t, db)
		_, ann, _ := f.MustHuman(t, "ann@example.com", "", switchboard.ChannelEmail, switchboard.ChannelInApp)
		offer := func(fail error) error {
			return db.Write(f.routingFixture.admin, func(ctx context.Context, tx *sqlstore.Tx) error {
				tx.Record(switchboard.Event{Type: switchboard.AuditTaskOffered, Subject: switchboard.EventSubject{Type: "task", ID: "t1", Name: "Ghost task"},
					AgentID: ann.ID})
				return fail
			})
		}
		if err := offer(errors.New("the change fails")); err == nil {
			t.Fatal("the change succeeded")
		}
		wantSent(t, "rolled back", f.notifications(t, switchboard.AuditTaskOffered))
		if err := offer(nil); err != nil {
			t.Fatal(err)
		}
		wantSent(t, "committed", f.notifications(t, switchboard.AuditTaskOffered), "email ann@example.com", "inapp "+ann.UserID)
	})
}

func TestTriggers_EscalationAndSLA(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newTriggerFixture(t, db)
		// A second supervisor, disabled, is told nothing.
		dan := MustCreateUser(t, db, "dan@example.com", switchboard.RoleSupervisor)
		f.MustSupervisors(t, f.sue, dan)
		disabled := switchboard.UserDisabled
		if _, err := sqlstore.NewUserService(db).UpdateUser(f.routingFixture.admin, dan.ID, switchboard.UserUpdate{Status: &disabled}); err != nil {
			t.Fatal(err)
		}
		_, _, annCtx := f.MustHuman(t, "ann@example.com", "")
		task := f.MustTask(t, switchboard.NewTask{QueueID: f.queue.ID, Title: "Refund order 42"})
		offers, err := sqlstore.NewOfferService(db).FindMyOffers(annCtx)
		if err != nil || len(offers) != 1 {
			t.Fatalf("FindMyOffers = %d, %v; want 1", len(offers), err)
		}
		// The queue's last offer declined: the task is escalated to the
		// team's supervisor, by e-mail and in-app.
		if _, err := sqlstore.NewOfferService(db).RejectOffer(annCtx, offers[0].ID); err != nil {
			t.Fatal(err)
		}
		escalated := f.notifications(t, switchboard.AuditTaskEscalated)
		wantSent(t, "escalation", escalated, "email sue@example.com", "inapp "+f.sue.ID)
		for _, n := range escalated {
			if !strings.Contains(n.Subject, "Refund order 42") || n.UserID != f.sue.ID {
				t.Errorf("%s: subject %q, user %q", n.Channel, n.Subject, n.UserID)
			}
			if n.Channel == switchboard.ChannelInApp && n.Link != "/tasks/"+task.ID {
				t.Errorf("link %q, want the task's page", n.Link)
			}
		}

		// A queue without teams is the admins'; its SLA breach goes to them.
		// Ann steps away, or she would take its task at once.
		if _, err := sqlstore.NewPresenceService(db).SetPresence(annCtx, switchboard.PresenceAway); err != nil {
			t.Fatal(err)
		}
		lonely := f.MustQueue(t, switchboard.NewQueue{Name: "Lonely", SLATarget: time.Minute})
		f.MustTask(t, switchboard.NewTask{QueueID: lonely.ID, Title: "Nobody's task"})
		f.clock.Advance(2 * time.Minute)
		if _, err := f.tasks.ExpireTasks(systemCtx(), 100); err != nil {
			t.Fatal(err)
		}
		breached := f.notifications(t, switchboard.AuditSLABreached)
		wantSent(t, "SLA breach", breached, "email admin@example.com", "inapp "+f.admin.ID)
		for _, n := range breached {
			if !strings.Contains(n.Subject, "Lonely") {
				t.Errorf("subject %q lacks the queue", n.Subject)
			}
			if n.Channel == switchboard.ChannelInApp && n.Link != "/queues/"+lonely.ID {
				t.Errorf("link %q, want the queue's page", n.Link)
			}
		}
	})
}

func TestTriggers_AgentOfflineToAdminsWhoOptedIn(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newTriggerFixture(t, db)
		MustCreateUser(t, db, "quiet-admin@example.com", switchboard.RoleAdmin) // did not opt in
		if _, err := f.prefs.UpdateNotificationPreferences(f.routingFixture.admin, f.admin.ID, switchboard.NotificationPreferencesUpdate{
			Channels: map[switchboard.NotificationKind][]switchboard.Channel{switchboard.NotifyAgentOffline: {switchboard.ChannelInApp}}}); err != nil {
			t.Fatal(err)
		}
		_, ann, annCtx := f.MustHuman(t, "ann@example.com", "")
		if _, err := sqlstore.NewPresenceService(db).SetPresence(annCtx, switchboard.PresenceOffline); err != nil {
			t.Fatal(err)
		}
		got := f.notifications(t, switchboard.EventAgentPresenceChanged)
		wantSent(t, "offline", got, "inapp "+f.admin.ID)
		if len(got) == 1 && (!strings.Contains(got[0].Subject, ann.Name) || got[0].Link != "/agents/"+ann.ID) {
			t.Errorf("subject %q, link %q", got[0].Subject, got[0].Link)
		}

		// The admin's own agent going offline by the admin's doing is not news to them.
		adminAgent, _, err := f.agents.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Admin's agent", Kind: switchboard.HumanAgent,
			Email: f.admin.Email, TeamIDs: []string{f.team.ID}})
		if err != nil {
			t.Fatal(err)
		}
		adminCtx := switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{User: f.admin, Agent: adminAgent})
		for _, p := range []switchboard.Presence{switchboard.PresenceAvailable, switchboard.PresenceOffline} {
			if _, err := sqlstore.NewPresenceService(db).SetPresence(adminCtx, p); err != nil {
				t.Fatal(err)
			}
		}
		wantSent(t, "own doing", f.notifications(t, switchboard.EventAgentPresenceChanged), "inapp "+f.admin.ID)
	})
}

func TestTriggers_PreferencesAndQuietHours(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newTriggerFixture(t, db)
		ann, _, annCtx := f.MustHuman(t, "ann@example.com", "+15550001111", switchboard.ChannelInApp)
		// Ann wants offers by e-mail and SMS too, but not at night in Paris.
		_, err := f.prefs.UpdateNotificationPreferences(annCtx, ann.ID, switchboard.NotificationPreferencesUpdate{
			Channels: map[switchboard.NotificationKind][]switchboard.Channel{
				switchboard.NotifyTaskOffered: {switchboard.ChannelEmail, switchboard.ChannelSMS, switchboard.ChannelInApp}},
			QuietHours: &switchboard.QuietHours{Start: "22:00", End: "07:00", TimeZone: "Europe/Paris"}})
		if err != nil {
			t.Fatal(err)
		}
		// 09:00 UTC is 10:00 in Paris: not quiet.
		f.MustTask(t, switchboard.NewTask{QueueID: f.queue.ID, Title: "Morning task"})
		day := f.notifications(t, switchboard.AuditTaskOffered)
		wantSent(t, "by day", day, "email ann@example.com", "sms +15550001111", "inapp "+ann.ID)
		for _, n := range day {
			if !n.NextAttemptAt.Equal(f.clock.Now()) {
				t.Errorf("%s by day due at %v, want now", n.Channel, n.NextAttemptAt)
			}
		}

		// 22:30 UTC is 23:30 in Paris: e-mail and SMS wait until 07:00
		// there (06:00 UTC), in-app does not.
		f.clock.t = time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC)
		f.MustTask(t, switchboard.NewTask{QueueID: f.queue.ID, Title: "Night task"})
		morning := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
		night := f.notifications(t, switchboard.AuditTaskOffered)[len(day):]
		wantSent(t, "at night", night, "email ann@example.com", "sms +15550001111", "inapp "+ann.ID)
		for _, n := range night {
			want := morning
			if n.Channel == switchboard.ChannelInApp {
				want = f.clock.Now()
			}
			if !n.NextAttemptAt.Equal(want) {
				t.Errorf("%s at night due at %v, want %v", n.Channel, n.NextAttemptAt, want)
			}
		}

		// Choosing nothing for assignments silences them.
		if _, err := f.prefs.UpdateNotificationPreferences(annCtx, ann.ID, switchboard.NotificationPreferencesUpdate{
			Channels: map[switchboard.NotificationKind][]switchboard.Channel{switchboard.NotifyTaskAssigned: {}}}); err != nil {
			t.Fatal(err)
		}
		direct := f.MustQueue(t, switchboard.NewQueue{Name: "Direct", TeamIDs: []string{f.team.ID}})
		if task := f.MustTask(t, switchboard.NewTask{QueueID: direct.ID, Title: "Silent task"}); task.AgentID == "" {
			t.Fatal("the task was not assigned")
		}
		wantSent(t, "silenced", f.notifications(t, switchboard.AuditTaskAssigned))
	})
}

func TestNotificationPreferences(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newTriggerFixture(t, db)
		prefs := f.prefs
		sue := asUser(f.sue)

		t.Run("Defaults", func(t *testing.T) {
			p, err := prefs.FindNotificationPreferences(sue, f.sue.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Channels(switchboard.NotifyTaskEscalated); !slices.Equal(got, []switchboard.Channel{switchboard.ChannelEmail, switchboard.ChannelInApp}) {
				t.Errorf("escalations by %v, want email and inapp", got)
			}
			if got := p.Channels(switchboard.NotifyAgentOffline); len(got) != 0 {
				t.Errorf("agents offline by %v, want none", got)
			}
			if p.QuietHours != nil || p.Phone != "" {
				t.Errorf("quiet hours %v, phone %q; want none", p.QuietHours, p.Phone)
			}
		})
		t.Run("OK", func(t *testing.T) {
			p, err := prefs.UpdateNotificationPreferences(sue, f.sue.ID, switchboard.NotificationPreferencesUpdate{
				Channels:   map[switchboard.NotificationKind][]switchboard.Channel{switchboard.NotifySLABreached: {switchboard.ChannelInApp}},
				QuietHours: &switchboard.QuietHours{Start: " 08:30", End: "12:00", TimeZone: "America/New_York"}})
			if err != nil {
				t.Fatal(err)
			}
			for _, kc := range p.Kinds {
				if (kc.Kind == switchboard.NotifySLABreached) == kc.Default {
					t.Errorf("%s: default %v", kc.Kind, kc.Default)
				}
			}
			if q := p.QuietHours; q == nil || q.Start != "08:30" || q.TimeZone != "America/New_York" {
				t.Errorf("quiet hours %+v", q)
			}
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			for name, tc := range map[string]struct {
				upd   switchboard.NotificationPreferencesUpdate
				field string
			}{
				"UnknownKind":     {switchboard.NotificationPreferencesUpdate{Channels: map[switchboard.NotificationKind][]switchboard.Channel{"task.lost": {switchboard.ChannelEmail}}}, "channels.task.lost"},
				"UnknownChannel":  {switchboard.NotificationPreferencesUpdate{Channels: map[switchboard.NotificationKind][]switchboard.Channel{switchboard.NotifyTaskEscalated: {"pigeon"}}}, "channels.task.escalated"},
				"SMSWithoutPhone": {switchboard.NotificationPreferencesUpdate{Channels: map[switchboard.NotificationKind][]switchboard.Channel{switchboard.NotifyTaskEscalated: {switchboard.ChannelSMS}}}, "channels.task.escalated"},
				"BadTimeZone":     {switchboard.NotificationPreferencesUpdate{QuietHours: &switchboard.QuietHours{Start: "22:00", End: "07:00", TimeZone: "Mars/Olympus"}}, "quiet_hours.time_zone"},
				"LocalTimeZone":   {switchboard.NotificationPreferencesUpdate{QuietHours: &switchboard.QuietHours{Start: "22:00", End: "07:00", TimeZone: "Local"}}, "quiet_hours.time_zone"},
				"BadStart":        {switchboard.NotificationPreferencesUpdate{QuietHours: &switchboard.QuietHours{Start: "25:00", End: "07:00", TimeZone: "UTC"}}, "quiet_hours.start"},
				"SameTimes":       {switchboard.NotificationPreferencesUpdate{QuietHours: &switchboard.QuietHours{Start: "07:00", End: "07:00", TimeZone: "UTC"}}, "quiet_hours.end"},
			} {
				t.Run(name, func(t *testing.T) {
					_, err := prefs.UpdateNotificationPreferences(sue, f.sue.ID, tc.upd)
					wantCode(t, err, switchboard.EINVALID)
					if fields := switchboard.ErrorFields(err); len(fields) == 0 || fields[0].Field != tc.field {
						t.Errorf("fields %+v, want %s", fields, tc.field)
					}
				})
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			// Another user's preferences do not exist for a supervisor...
			_, err := prefs.FindNotificationPreferences(sue, f.admin.ID)
			wantCode(t, err, switchboard.ENOTFOUND)
			_, err = prefs.UpdateNotificationPreferences(sue, f.admin.ID, switchboard.NotificationPreferencesUpdate{})
			wantCode(t, err, switchboard.ENOTFOUND)
			// ...but an admin reads and sets anyone's.
			if _, err := prefs.FindNotificationPreferences(f.routingFixture.admin, f.sue.ID); err != nil {
				t.Errorf("admin reading Sue's: %v", err)
			}
		})
	})
}

// Routing writes thousands of offers a second: a change without events that
// notify must cost no statement more, and one with any number of them two
// reads (everyone concerned, their preferences) and at most the outbox's
// insert.
func TestTriggers_QueryBudget(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newTriggerFixture(t, db)
		_, ann, _ := f.MustHuman(t, "ann@example.com", "", switchboard.ChannelEmail, switchboard.ChannelInApp)
		_, bob, _ := f.MustHuman(t, "bob@example.com", "", switchboard.ChannelInApp)
		statements := func(composer switchboard.Composer, events ...switchboard.Event) int {
			db.Composer = composer
			return len(db.RecordQueries(func() {
				err := db.Write(systemCtx(), func(ctx context.Context, tx *sqlstore.Tx) error {
					for _, e := range events {
						tx.Record(e)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}))
		}
		composer := db.Composer
		plain := switchboard.Event{Type: switchboard.AuditTeamUpdated, Subject: switchboard.EventSubject{Type: "team", ID: f.team.ID}}
		if with, without := statements(composer, plain), statements(nil, plain); with != without {
			t.Errorf("a change without triggers ran %d statements with a composer, %d without; want the same", with, without)
		}
		var triggers []switchboard.Event
		for i := range 10 {
			agent := ann
			if i%2 == 1 {
				agent = bob
			}
			triggers = append(triggers, switchboard.Event{Type: switchboard.AuditTaskOffered,
				Subject: switchboard.EventSubject{Type: "task", ID: "t1", Name: "Bench"}, AgentID: agent.ID})
		}
		triggers = append(triggers, switchboard.Event{Type: switchboard.AuditTaskEscalated,
			Subject: switchboard.EventSubject{Type: "task", ID: "t1", Name: "Bench"}, TeamIDs: []string{f.team.ID}})
		statements(composer, triggers...) // the first reads, once, how the outbox's rows are written
		// PostgreSQL inserts the outbox's rows with the audit entries, in
		// their statement.
		want := 3
		if db.Engine() == sqlstore.Postgres {
			want = 2
		}
		if with, without := statements(composer, triggers...), statements(nil, triggers...); with-without != want {
			t.Errorf("11 triggers ran %d statements more than none, want %d (two reads, and the outbox's insert unless it goes with the audit entries)", with-without, want)
		}
	})
}

// On PostgreSQL the statement that takes an agent for a new task reads
// the person the task's notifications go to: the change reads nobody
// again before its commit. The other engines read them as any trigger's.
func TestTriggers_RoutedAgentReadWithTheReservation(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newTriggerFixture(t, db)
		ann, _, _ := f.MustHuman(t, "ann@example.com", "+15550001111", switchboard.ChannelEmail, switchboard.ChannelSMS, switchboard.ChannelInApp)
		reads := 0
		for _, q := range db.RecordQueries(func() { f.MustTask(t, switchboard.NewTask{QueueID: f.queue.ID, Title: "Call Mrs Smith back"}) }) {
			if strings.Contains(q, "FROM agents a LEFT JOIN users u") {
				reads++
			}
		}
		want := 1
		if db.Engine() == sqlstore.Postgres {
			want = 0
		}
		if reads != want {
			t.Errorf("%d reads of the offer's recipient of their own, want %d", reads, want)
		}
		wantSent(t, "offer", f.notifications(t, switchboard.AuditTaskOffered), "email ann@example.com", "sms +15550001111", "inapp "+ann.ID)
	})
}

// An agent accepting its offer with its own token tells nobody, and
// nobody is read for it.
func TestTriggers_AgentsOwnAcceptReadsNobody(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newTriggerFixture(t, db)
		_, botCtx := f.MustBot(t)
		f.MustTask(t, switchboard.NewTask{QueueID: f.queue.ID, Title: "Rotate the logs"})
		wantSent(t, "offer", f.notifications(t, switchboard.AuditTaskOffered), "sms +15550002222")
		offers, err := sqlstore.NewOfferService(db).FindMyOffers(botCtx)
		if err != nil || len(offers) != 1 {
			t.Fatalf("FindMyOffers = %d, %v; want 1", len(offers), err)
		}
		for _, q := range db.RecordQueries(func() {
			if _, err := sqlstore.NewOfferService(db).AcceptOffer(botCtx, offers[0].ID); err != nil {
				t.Fatal(err)
			}
		}) {
			if strings.Contains(q, "AS via") {
				t.Errorf("accepting read whom to notify: %.80s", q)
			}
		}
		wantSent(t, "accepting", f.notifications(t, switchboard.AuditTaskAssigned))
	})
}

// An offer or assignment that an agent set off, by becoming available
// while a task waited, is still news to the agent: routing made it.
func TestTriggers_OfferSetOffByTheAgent(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newTriggerFixture(t, db)
		ann, _, annCtx := f.MustHuman(t, "ann@example.com", "+15550001111", switchboard.ChannelEmail, switchboard.ChannelInApp)
		presence := sqlstore.NewPresenceService(db)
		if _, err := presence.SetPresence(annCtx, switchboard.PresenceAway); err != nil {
			t.Fatal(err)
		}
		f.MustTask(t, switchboard.NewTask{QueueID: f.queue.ID, Title: "Call Mrs Smith back"})
		wantSent(t, "nobody available", f.notifications(t, switchboard.AuditTaskOffered))
		if _, err := presence.SetPresence(annCtx, switchboard.PresenceAvailable); err != nil {
			t.Fatal(err)
		}
		wantSent(t, "available again", f.notifications(t, switchboard.AuditTaskOffered), "email ann@example.com", "inapp "+ann.ID)

		// So is a task that a queue without offers assigns her when she
		// comes back.
		if _, err := presence.SetPresence(annCtx, switchboard.PresenceAway); err != nil {
			t.Fatal(err)
		}
		direct := f.MustQueue(t, switchboard.NewQueue{Name: "Direct", TeamIDs: []string{f.team.ID}})
		f.MustTask(t, switchboard.NewTask{QueueID: direct.ID, Title: "Reboot the router"})
		if _, err := presence.SetPresence(annCtx, switchboard.PresenceAvailable); err != nil {
			t.Fatal(err)
		}
		wantSent(t, "assigned on coming back", f.notifications(t, switchboard.AuditTaskAssigned), "email ann@example.com", "inapp "+ann.ID)
	})
}
