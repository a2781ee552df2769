package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// The triggers: which events of a change tell whom, on which channels.
// planNotifications runs as a batch of changes is written, over all their
// events: a batch without an event that notifies costs nothing more, and
// one with such events reads everyone they may concern in one query (the
// agents, the supervisors of the queues' teams, the admins, with their
// quiet hours) and the preferences of those people in a second one,
// whatever the number of events. Routing writes thousands of offers a
// second; it must not pay a query per offer.

// trigger is an event that notifies, in the change that recorded it.
type trigger struct {
	tx   *Tx
	e    *switchboard.Event
	kind switchboard.NotificationKind
}

// person is someone an event may concern: a user (with the agent they
// work as, if any), or a machine agent without a user.
type person struct {
	Via        string  `bun:"via"` // "agent": the agent of the event; "team": a supervisor of TeamID; "admin"
	TeamID     string  `bun:"team_id"`
	AgentID    *string `bun:"agent_id"`
	AgentName  *string `bun:"agent_name"`
	AgentEmail *string `bun:"agent_email"`
	Phone      *string `bun:"phone"`
	Notify     *string `bun:"notify"`
	UserID     *string `bun:"user_id"`
	Email      *string `bun:"email"`
	Name       *string `bun:"name"`
	Status     *string `bun:"status"`
	Starts     *string `bun:"starts"`
	Ends       *string `bun:"ends"`
	TimeZone   *string `bun:"time_zone"`
}

func (p *person) quietHours() *switchboard.QuietHours {
	if p.Starts == nil || p.Ends == nil || p.TimeZone == nil {
		return nil
	}
	return &switchboard.QuietHours{Start: *p.Starts, End: *p.Ends, TimeZone: *p.TimeZone}
}

// name is how messages greet the person.
func (p *person) name() string {
	switch {
	case deref(p.Name) != "":
		return *p.Name
	case deref(p.Email) != "":
		return *p.Email
	}
	return deref(p.AgentName)
}

// address is where a channel reaches the person, "" when it cannot.
func (p *person) address(ch switchboard.Channel) string {
	switch ch {
	case switchboard.ChannelEmail:
		if p.UserID != nil {
			return deref(p.Email)
		}
		return deref(p.AgentEmail) // a machine agent's contact
	case switchboard.ChannelSMS:
		return deref(p.Phone)
	case switchboard.ChannelInApp:
		return deref(p.UserID) // the inbox of the user
	}
	return ""
}

// causedBy reports whether the person made the change: nobody is told of
// their own doing (but see routed).
func (p *person) causedBy(actor switchboard.EventActor) bool {
	switch actor.Type {
	case "user":
		return deref(p.UserID) == actor.ID
	case "agent":
		return deref(p.AgentID) == actor.ID
	}
	return false
}

// routed reports whether routing made the change of a task event: an
// offer, or an assignment of a queue without offers. That is nobody's own
// doing, even when an agent set routing off (by becoming available, or
// finishing a task): the agent is told of it all the same.
func routed(e *switchboard.Event) bool {
	if e.Type == switchboard.AuditTaskOffered {
		return true
	}
	reason, _ := e.Data["reason"].(string)
	return e.Type == switchboard.AuditTaskAssigned && strings.HasPrefix(reason, routedReason)
}

// agentsOwnDoing reports whether an event that tells an agent of its
// task is that agent's own doing, not routing's (an offer it accepted
// with its token): the one person it concerns is not told (see causedBy),
// and need not be read. One a user made as the agent they work as is
// found out once the user is read.
func agentsOwnDoing(kind switchboard.NotificationKind, e *switchboard.Event) bool {
	if kind != switchboard.NotifyTaskOffered && kind != switchboard.NotifyTaskAssigned {
		return false
	}
	return !routed(e) && e.Actor.Type == "agent" && e.Actor.ID != "" && e.Actor.ID == e.AgentID
}

// recipientColumns are what a person is read with, in every branch of the
// query: a is the agent (of the event, or the one the user works as), u
// the user, qh their quiet hours.
const recipientColumns = "a.id AS agent_id, a.name AS agent_name, a.email AS agent_email, a.phone, a.notify, " +
	"u.id AS user_id, u.email, u.name, u.status, qh.starts, qh.ends, qh.time_zone"

// agentRecipientJoins join an agent a to the user who works as it and
// their quiet hours.
const agentRecipientJoins = " LEFT JOIN users u ON u.id = a.user_id LEFT JOIN notification_quiet_hours qh ON qh.user_id = u.id"

// recipientAgentColumns are what a statement that takes agents for work
// returns of them, and takenRecipients reads them as the people of the
// work's notifications, as findRecipients reads the agent of an event: a
// batch of new tasks then reads its agents once, in the statement that
// takes them, instead of again, a round trip of its own, before its
// commit (see Tx.people).
const (
	recipientAgentColumns = "a.id, a.name, a.email, a.phone, a.notify, a.user_id"
	takenRecipients       = "SELECT 'agent' AS via, '' AS team_id, " + recipientColumns + " FROM taken AS a" + agentRecipientJoins
)

// reservedPeople are the people the changes read as they took agents for
// work (Tx.people), or nil when a change may have changed one of them
// since: one that recorded an event other than of a task or offer (an
// agent's or user's update, say), or none at all.
func reservedPeople(changes []*Tx) map[string]*person {
	people := map[string]*person{}
	for _, tx := range changes {
		if len(tx.events) == 0 {
			return nil
		}
		for _, e := range tx.events {
			if !strings.HasPrefix(e.Type, "task.") && !strings.HasPrefix(e.Type, "offer.") {
				return nil
			}
		}
		maps.Copy(people, tx.people)
	}
	return people
}

// planNotifications adds to each change the notifications its events
// trigger.
func (db *DB) planNotifications(ctx context.Context, idb bun.IDB, changes []*Tx) error {
	if db.Composer == nil {
		return nil
	}
	var triggers []trigger
	var agentIDs, teamIDs []string
	var known []*person // agents of triggers, read already
	reserved := reservedPeople(changes)
	admins := false
	for _, tx := range changes {
		for _, e := range tx.events {
			kind := switchboard.NotificationKindOf(e)
			if kind == "" || agentsOwnDoing(kind, e) {
				continue
			}
			triggers = append(triggers, trigger{tx, e, kind})
			switch kind {
			case switchboard.NotifyTaskOffered, switchboard.NotifyTaskAssigned:
				if p := reserved[e.AgentID]; p != nil {
					if !slices.Contains(known, p) {
						known = append(known, p)
					}
				} else if e.AgentID != "" && !slices.Contains(agentIDs, e.AgentID) {
					agentIDs = append(agentIDs, e.AgentID)
				}
			case switchboard.NotifyTaskEscalated, switchboard.NotifySLABreached:
				if len(e.TeamIDs) == 0 {
					admins = true // a queue without teams is the admins'
				}
				for _, t := range e.TeamIDs {
					if !slices.Contains(teamIDs, t) {
						teamIDs = append(teamIDs, t)
					}
				}
			case switchboard.NotifyAgentOffline:
				admins = true
			}
		}
	}
	if len(triggers) == 0 {
		return nil
	}
	people, err := db.findRecipients(ctx, idb, agentIDs, teamIDs, admins)
	if err != nil {
		return fmt.Errorf("finding whom to notify: %w", err)
	}
	people = append(people, known...)
	prefs, err := findPreferences(ctx, idb, people, triggers)
	if err != nil {
		return fmt.Errorf("reading notification preferences: %w", err)
	}
	for _, t := range triggers {
		if err := db.notifyTrigger(t, people, prefs); err != nil {
			return err
		}
	}
	return nil
}

// findRecipients reads, in one query, the agents of agentIDs, the
// supervisors of teamIDs and, when admins is set, the admins. Disabled
// users are read too: a disabled user's agent must not be reached by
// other means. Routing runs it with nearly every batch: on PostgreSQL the
// IDs go as lists of a few lengths, so that its few texts are prepared
// once and keep their plans (see anyOf).
func (db *DB) findRecipients(ctx context.Context, idb bun.IDB, agentIDs, teamIDs []string, admins bool) ([]*person, error) {
	var branches []string
	var args []any
	in := func(column string, ids []string) string {
		if db.engine == Postgres {
			cond, condArgs := anyOf(column, ids)
			args = append(args, condArgs...)
			return cond
		}
		args = append(args, bun.In(ids))
		return column + " IN (?)"
	}
	if len(agentIDs) > 0 {
		branches = append(branches, "SELECT 'agent' AS via, '' AS team_id, "+recipientColumns+
			" FROM agents a"+agentRecipientJoins+" WHERE "+in("a.id", agentIDs))
	}
	if len(teamIDs) > 0 {
		branches = append(branches, "SELECT 'team' AS via, ts.team_id, "+recipientColumns+
			" FROM team_supervisors ts JOIN users u ON u.id = ts.user_id LEFT JOIN agents a ON a.user_id = u.id"+
			" LEFT JOIN notification_quiet_hours qh ON qh.user_id = u.id WHERE "+in("ts.team_id", teamIDs)+" AND u.status = "+quoted(switchboard.UserActive))
	}
	if admins {
		branches = append(branches, "SELECT 'admin' AS via, '' AS team_id, "+recipientColumns+
			" FROM users u LEFT JOIN agents a ON a.user_id = u.id LEFT JOIN notification_quiet_hours qh ON qh.user_id = u.id"+
			" WHERE u.role = "+quoted(switchboard.RoleAdmin)+" AND u.status = "+quoted(switchboard.UserActive))
	}
	var people []*person
	if len(branches) == 0 {
		return people, nil
	}
	err := db.scanPrepared(ctx, idb, &people, strings.Join(branches, " UNION ALL "), args...)
	return people, err
}

// preferenceRow is the channels a user chose for a kind of notification.
type preferenceRow struct {
	bun.BaseModel `bun:"table:notification_preferences,alias:np"`

	UserID    string    `bun:"user_id,pk"`
	Kind      string    `bun:"kind,pk"`
	Channels  string    `bun:"channels"` // comma-separated; empty for none
	UpdatedAt time.Time `bun:"updated_at"`
}

func (r *preferenceRow) channels() []switchboard.Channel {
	channels := []switchboard.Channel{}
	for c := range strings.SplitSeq(r.Channels, ",") {
		if c != "" {
			channels = append(channels, switchboard.Channel(c))
		}
	}
	return channels
}

// preferences are the channels users chose, by user and kind.
type preferences map[string]map[switchboard.NotificationKind][]switchboard.Channel

// findPreferences reads the choices of the people of the triggers'
// kinds, in one query; none when no person is a user.
func findPreferences(ctx context.Context, idb bun.IDB, people []*person, triggers []trigger) (preferences, error) {
	var users []string
	for _, p := range people {
		if p.UserID != nil && !slices.Contains(users, *p.UserID) {
			users = append(users, *p.UserID)
		}
	}
	prefs := preferences{}
	if len(users) == 0 {
		return prefs, nil
	}
	var kinds []switchboard.NotificationKind
	for _, t := range triggers {
		if !slices.Contains(kinds, t.kind) {
			kinds = append(kinds, t.kind)
		}
	}
	var rows []*preferenceRow
	err := idb.NewSelect().Model(&rows).Where("np.user_id IN (?)", bun.In(users)).Where("np.kind IN (?)", bun.In(kinds)).Scan(ctx)
	for _, r := range rows {
		if prefs[r.UserID] == nil {
			prefs[r.UserID] = map[switchboard.NotificationKind][]switchboard.Channel{}
		}
		prefs[r.UserID][switchboard.NotificationKind(r.Kind)] = r.channels()
	}
	return prefs, err
}

// recipientsOf are the people a trigger tells, each once.
func recipientsOf(t trigger, people []*person) []*person {
	var out []*person
	seen := map[string]bool{}
	add := func(p *person) {
		key := deref(p.UserID)
		if key == "" {
			key = "agent:" + deref(p.AgentID)
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	for _, p := range people {
		switch t.kind {
		case switchboard.NotifyTaskOffered, switchboard.NotifyTaskAssigned:
			if p.Via == "agent" && deref(p.AgentID) == t.e.AgentID {
				add(p)
			}
		case switchboard.NotifyTaskEscalated, switchboard.NotifySLABreached:
			if (p.Via == "team" && slices.Contains(t.e.TeamIDs, p.TeamID)) || (p.Via == "admin" && len(t.e.TeamIDs) == 0) {
				add(p)
			}
		case switchboard.NotifyAgentOffline:
			if p.Via == "admin" {
				add(p)
			}
		}
	}
	return out
}

// notifyTrigger adds the messages of one trigger to its change: one per
// recipient and channel they take it on, e-mail and SMS held back until
// the end of their quiet hours.
func (db *DB) notifyTrigger(t trigger, people []*person, prefs preferences) error {
	alert := switchboard.Alert{Kind: t.kind, Event: t.e}
	switch t.kind {
	case switchboard.NotifySLABreached:
		alert.QueueID, alert.QueueName = t.e.Subject.ID, t.e.Subject.Name
		alert.TaskID, _ = t.e.Data["task_id"].(string)
		alert.TaskTitle, _ = t.e.Data["task_title"].(string)
	case switchboard.NotifyAgentOffline:
		alert.AgentID, alert.AgentName = t.e.Subject.ID, t.e.Subject.Name
	default:
		alert.TaskID, alert.TaskTitle = t.e.Subject.ID, t.e.Subject.Name
		alert.QueueID, _ = t.e.Data["queue_id"].(string)
	}
	sent := map[string]bool{}
	for _, p := range recipientsOf(t, people) {
		if (!routed(t.e) && p.causedBy(t.e.Actor)) || (p.Status != nil && *p.Status != string(switchboard.UserActive)) {
			continue
		}
		var notify []switchboard.Channel
		if p.Notify != nil {
			_ = json.Unmarshal([]byte(*p.Notify), &notify)
		}
		channels, chosen := prefs[deref(p.UserID)][t.kind]
		if !chosen || p.UserID == nil {
			channels = t.kind.DefaultChannels(notify)
		}
		quiet := p.quietHours()
		for _, ch := range channels {
			address := p.address(ch)
			if address == "" || sent[string(ch)+"\x00"+address] {
				continue
			}
			sent[string(ch)+"\x00"+address] = true
			a := alert
			a.Channel, a.Recipient, a.Name = ch, address, p.name()
			n, err := db.Composer.Alert(&a)
			if err != nil {
				return fmt.Errorf("writing the %s %s message: %w", t.kind, ch, err)
			}
			if n == nil {
				continue
			}
			n.UserID = deref(p.UserID)
			due := t.tx.now
			if quiet != nil && ch != switchboard.ChannelInApp {
				if until, ok := quiet.Until(t.tx.now); ok {
					due = until
				}
			}
			t.tx.notifyAbout(t.e, n, due)
		}
	}
	return nil
}
