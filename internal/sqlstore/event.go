package sqlstore

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type eventRow struct {
	bun.BaseModel `bun:"table:events,alias:ev"`

	Position    int64     `bun:"position,pk"`
	ID          string    `bun:"id"`
	Type        string    `bun:"type"`
	At          time.Time `bun:"at"`
	ActorType   string    `bun:"actor_type"`
	ActorID     string    `bun:"actor_id"`
	ActorName   string    `bun:"actor_name"`
	SubjectType string    `bun:"subject_type"`
	SubjectID   string    `bun:"subject_id"`
	SubjectName string    `bun:"subject_name"`
	TeamIDs     string    `bun:"team_ids"`
	AgentID     *string   `bun:"agent_id"`
	Data        string    `bun:"data"`
	RequestID   string    `bun:"request_id"`

	// teams and data are what TeamIDs and Data were encoded from, when
	// the row was made of an event (see newEventRow): domain then reads
	// them without decoding the JSON.
	teams []string       `bun:"-"`
	data  map[string]any `bun:"-"`
}

// newEventRow stores an event. Its data column holds the event's Data with
// the change under "before" and "after", as the API shows it.
func newEventRow(e *switchboard.Event) *eventRow {
	teams := e.TeamIDs
	if teams == nil {
		teams = []string{}
	}
	data := eventData(e)
	return &eventRow{
		Position: e.Position, ID: e.ID, Type: e.Type, At: e.At,
		ActorType: e.Actor.Type, ActorID: clip(e.Actor.ID, 64), ActorName: clip(e.Actor.Name, 254),
		SubjectType: e.Subject.Type, SubjectID: clip(e.Subject.ID, 64), SubjectName: clip(e.Subject.Name, 254),
		TeamIDs: mustJSON(teams), AgentID: nilIfEmpty(e.AgentID),
		Data: mustJSON(data), RequestID: clip(e.RequestID, 64),
		teams: teams, data: data,
	}
}

// eventData is the event's data as stored and shown: Data, with the change
// under "before" and "after".
func eventData(e *switchboard.Event) map[string]any {
	data := make(map[string]any, len(e.Data)+2)
	for k, v := range e.Data {
		data[k] = v
	}
	if len(e.Before) > 0 {
		data["before"] = e.Before
	}
	if len(e.After) > 0 {
		data["after"] = e.After
	}
	return data
}

// domain is the event as read back from its row. Made of an event (when
// its changes commit, for OnEvents), it takes the event's data as the JSON
// of the row would give it back (see decodedJSON), and decodes the JSON
// only when that cannot tell: decoding every event's data again cost the
// server a twentieth of its time under the lifecycle load.
func (r *eventRow) domain() *switchboard.Event {
	e := &switchboard.Event{
		ID: r.ID, Position: r.Position, Type: r.Type, At: r.At.UTC(),
		Actor:     switchboard.EventActor{Type: r.ActorType, ID: r.ActorID, Name: r.ActorName},
		Subject:   switchboard.EventSubject{Type: r.SubjectType, ID: r.SubjectID, Name: r.SubjectName},
		AgentID:   deref(r.AgentID),
		RequestID: r.RequestID,
	}
	if r.data == nil || !r.readBack(e) {
		_ = json.Unmarshal([]byte(r.TeamIDs), &e.TeamIDs)
		var data map[string]any
		_ = unmarshalJSON(r.Data, &data)
		splitEventData(e, data)
	}
	return e
}

// readBack sets e's teams and data from what the row was made of, as
// decoding the row's JSON would, and reports whether it could tell.
func (r *eventRow) readBack(e *switchboard.Event) bool {
	if slices.IndexFunc(r.teams, func(t string) bool { return !utf8.ValidString(t) }) >= 0 {
		return false
	}
	data, ok := decodedJSON(r.data)
	if !ok {
		return false
	}
	e.TeamIDs = slices.Clone(r.teams)
	splitEventData(e, data.(map[string]any))
	return true
}

// splitEventData sets e's Before, After and Data from the data of its row
// (see eventData).
func splitEventData(e *switchboard.Event, data map[string]any) {
	if b, ok := data["before"].(map[string]any); ok {
		e.Before = b
		delete(data, "before")
	}
	if a, ok := data["after"].(map[string]any); ok {
		e.After = a
		delete(data, "after")
	}
	if len(data) > 0 {
		e.Data = data
	}
}

// maxReasonLength is the most characters of a change's reason that its
// audit entry keeps.
const maxReasonLength = 500

// newAuditRow is the audit log's projection of an event.
func newAuditRow(e *switchboard.Event, ip string) *auditRow {
	reason, _ := e.Data["reason"].(string)
	return &auditRow{
		ID:         e.ID,
		At:         e.At,
		ActorType:  e.Actor.Type,
		ActorID:    clip(e.Actor.ID, 64),
		ActorName:  clip(e.Actor.Name, 254),
		Action:     e.Type,
		TargetType: e.Subject.Type,
		TargetID:   clip(e.Subject.ID, 64),
		TargetName: clip(e.Subject.Name, 254),
		BeforeJSON: jsonOrNil(e.Before),
		AfterJSON:  jsonOrNil(e.After),
		IP:         clip(ip, 64),
		RequestID:  clip(e.RequestID, 64),
		Reason:     clip(reason, maxReasonLength),
	}
}

// EventsAfter returns up to limit events after a position, in order, to
// whoever fans them out; it checks no permission.
func (db *DB) EventsAfter(ctx context.Context, after int64, limit int) ([]*switchboard.Event, error) {
	return db.eventsAfter(ctx, after, limit, nil)
}

func (db *DB) eventsAfter(ctx context.Context, after int64, limit int, types []string) ([]*switchboard.Event, error) {
	var rows []*eventRow
	q := db.bun.NewSelect().Model(&rows).Where("ev.position > ?", after).OrderExpr("ev.position").Limit(int64(limit))
	if len(types) > 0 {
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			for _, t := range types {
				if strings.HasSuffix(t, ".") {
					q = q.WhereOr("ev.type LIKE ? ESCAPE '!'", prefixPattern(t))
				} else {
					q = q.WhereOr("ev.type = ?", t)
				}
			}
			return q
		})
	}
	if err := q.Scan(ctx); err != nil {
		return nil, translate(err)
	}
	events := make([]*switchboard.Event, len(rows))
	for i, r := range rows {
		events[i] = r.domain()
	}
	return events, nil
}

// LastEventPosition returns the position of the newest event, 0 if none.
func (db *DB) LastEventPosition(ctx context.Context) (int64, error) {
	var last int64
	err := db.bun.NewRaw("SELECT position FROM event_sequence WHERE id = 1").Scan(ctx, &last)
	return last, translate(err)
}

// PruneEvents deletes up to batch events older than before, oldest first,
// and returns how many it deleted; callers repeat while it deletes a full
// batch. Small batches keep each delete's locks short. The audit log is
// kept whole.
func (db *DB) PruneEvents(ctx context.Context, before time.Time, batch int) (int, error) {
	var positions []int64
	err := db.bun.NewSelect().Model((*eventRow)(nil)).Column("position").
		Where("at < ?", before.UTC()).OrderExpr("at").Limit(int64(batch)).Scan(ctx, &positions)
	if err != nil || len(positions) == 0 {
		return 0, translate(err)
	}
	res, err := db.bun.NewDelete().Model((*eventRow)(nil)).Where("position IN (?)", bun.List(positions)).Exec(ctx)
	if err != nil {
		return 0, translate(err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// EventService implements switchboard.EventService.
type EventService struct {
	db *DB
}

var _ switchboard.EventService = (*EventService)(nil)
var _ switchboard.EventLog = (*DB)(nil)

// NewEventService returns the event log reader on db.
func NewEventService(db *DB) *EventService { return &EventService{db: db} }

// eventScan is how many events one page reads at most while looking for
// those the caller may see; the page's next position moves past the rest.
const eventScan = 2000

// MaxEventTypes is how many types a filter may name.
const maxEventTypes = 50

// FindEvents returns the events after a position that the actor may see.
func (s *EventService) FindEvents(ctx context.Context, f switchboard.EventFilter) (*switchboard.EventPage, error) {
	viewer, err := s.EventViewer(ctx)
	if err != nil {
		return nil, err
	}
	var v switchboard.Validation
	limit := switchboard.PageLimit(&v, f.Limit)
	if f.After < 0 {
		v.Add("after", "The position must be 0 or more.")
	}
	if len(f.Types) > maxEventTypes {
		v.Add("types", "Name at most %d types.", maxEventTypes)
	}
	for _, t := range f.Types {
		if !switchboard.ValidEventType(t) {
			v.Add("types", "%q is not an event type: use names like agent.created, or a prefix like agent.", t)
			break
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	page := &switchboard.EventPage{Items: []*switchboard.Event{}, Next: f.After}
	for scanned := 0; scanned < eventScan; {
		batch := limit
		if !viewer.All {
			batch = min(eventScan-scanned, max(limit, 200))
		}
		events, err := s.db.eventsAfter(ctx, page.Next, batch, f.Types)
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			page.Next = e.Position
			if viewer.CanSee(e) {
				page.Items = append(page.Items, e)
				if len(page.Items) == limit {
					return page, nil
				}
			}
		}
		if len(events) < batch {
			break
		}
		scanned += len(events)
	}
	return page, nil
}

// EventViewer resolves what the actor of ctx may see of the event log:
// for a supervisor, the teams they supervise now; for an agent or the
// user of a human agent, that agent.
func (s *EventService) EventViewer(ctx context.Context) (*switchboard.EventViewer, error) {
	actor := switchboard.ActorFromContext(ctx)
	sc, err := switchboard.ScopeOf(actor)
	if err != nil {
		return nil, err
	}
	switch {
	case sc.All:
		return &switchboard.EventViewer{All: true}, nil
	case sc.AgentID != "":
		return &switchboard.EventViewer{AgentID: sc.AgentID}, nil
	case sc.SupervisorID != "":
		teams, err := s.db.supervisedTeams(ctx, s.db.bun, sc.SupervisorID)
		if err != nil {
			return nil, translate(err)
		}
		return supervisorViewer(sc.SupervisorID, slices.Sorted(maps.Keys(teams))), nil
	}
	v := &switchboard.EventViewer{UserID: sc.UserID}
	var agentID string
	err = s.db.bun.NewSelect().Model((*agentRow)(nil)).Column("id").Where("user_id = ?", sc.UserID).Scan(ctx, &agentID)
	if err != nil && err != errNoRows {
		return nil, translate(err)
	}
	v.AgentID = agentID
	return v, nil
}

// supervisorViewer is what a supervisor sees of the events: those of their
// teams and their own actions.
func supervisorViewer(userID string, teams []string) *switchboard.EventViewer {
	return &switchboard.EventViewer{UserID: userID, Teams: teams}
}

// LastEventPosition returns the position of the newest event.
func (s *EventService) LastEventPosition(ctx context.Context) (int64, error) {
	return s.db.LastEventPosition(ctx)
}
