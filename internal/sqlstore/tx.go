package sqlstore

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// Tx is one change to the database: the transaction, the one time the whole
// change happens at, who makes it and for which request, and the events it
// records. Every write in this package runs in a Tx, and its side effects
// (the event log, the audit log, later the outbox) are written by Record in
// the same transaction, so that they exist exactly when the change does;
// so are the notifications of the outbox that it adds (notify) and those
// its events trigger (planNotifications).
type Tx struct {
	bun.Tx
	db      *DB
	now     time.Time
	actor   switchboard.EventActor
	request switchboard.RequestInfo
	events  []*switchboard.Event
	// notifications are the outbox rows of the change, written with its
	// events.
	notifications []*notificationRow
	// agentCounts are the moves of agents between the rows of
	// agent_counts, and usersAdded the users the change added (or
	// removed), written with its events.
	agentCounts map[agentCountKey]agentCountDelta
	usersAdded  int
	// membershipsAdded is how many team memberships the change made
	// (see DB.membershipsAdded).
	membershipsAdded int
	// stored are the change's events as written, for OnEvents.
	stored []*eventRow
	// people are the agents the change gave work to, by ID, as
	// findRecipients reads them, when the statement that took them read
	// them too (see reservedPeople).
	people map[string]*person
}

// knowPerson keeps the person an agent is to its notifications, read in
// the change.
func (tx *Tx) knowPerson(p *person) {
	if tx.people == nil {
		tx.people = map[string]*person{}
	}
	tx.people[*p.AgentID] = p
}

// write runs fn as one change: in a transaction, with the events fn
// records, all committed together or not at all. Changes that arrive while
// others are being committed share their transaction (see groupCommit):
// one commit, one write of events, for many requests. fn may run more than
// once, and in a transaction with other changes: it must make its change
// from what it reads in tx, and keep nothing of a failed attempt.
func (db *DB) write(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	return db.writeInSet(ctx, fn, nil)
}

// writeInSet is write for a change that a batch may make together with
// others of its kind (see setWork), or for any change when set is nil. fn
// makes it when it runs alone, and must make the same change as set.make
// would.
func (db *DB) writeInSet(ctx context.Context, fn func(ctx context.Context, tx *Tx) error, set *setWork) error {
	if ctx.Value(inChangeKey{}) != nil {
		// Called from within a change: it cannot wait for a batch that
		// waits for it. Its own transaction is not the batch's.
		return db.writeAlone(context.WithValue(ctx, inBatchKey{}, nil), fn)
	}
	return db.group().write(ctx, fn, set)
}

// writeAlone runs fn in a transaction of its own and commits it with the
// events fn recorded. It retries a few times, after a random wait, when the engine reports a
// deadlock or a serialization failure: those are the database telling two
// transactions to try again in order, not errors of the request. After the
// commit, OnEvents learns of the events.
func (db *DB) writeAlone(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	var tx *Tx
	err := db.retry(ctx, func() error {
		return db.inTx(ctx, func(ctx context.Context, btx bun.Tx) error {
			tx = db.newTx(ctx, btx)
			if err := fn(ctx, tx); err != nil {
				return err
			}
			return db.writeEvents(ctx, btx, []*Tx{tx})
		})
	})
	if err != nil {
		if tx != nil {
			db.rolledBack([]*Tx{tx})
		}
		return translate(err)
	}
	db.committed([]*Tx{tx})
	return nil
}

// retry runs fn again, after a growing random wait, while it fails with a
// deadlock or a serialization failure, up to maxAttempts in all.
func (db *DB) retry(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if err = fn(); !isRetryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retryDelay(attempt)):
		}
	}
	return err
}

// committed tells OnEvents of the events of committed changes, as a read
// of the event log would return them: Data, Before and After as decoded
// from their JSON, with none of the Go types they were recorded with.
func (db *DB) committed(changes []*Tx) {
	db.queues.forgetQueues(eventsOf(changes))
	memberships := 0
	for _, tx := range changes {
		if tx != nil {
			memberships += tx.membershipsAdded
		}
	}
	db.membershipsAdded(memberships)
	if db.OnEvents == nil {
		return
	}
	var events []*switchboard.Event
	for _, tx := range changes {
		if tx != nil {
			for _, r := range tx.stored {
				events = append(events, r.domain())
			}
		}
	}
	if len(events) > 0 {
		db.OnEvents(events)
	}
}

// rolledBack forgets what changes that did not commit may have put in
// memory: a queue read in a shared transaction after another change of it
// altered the queue.
func (db *DB) rolledBack(changes []*Tx) {
	db.queues.forgetQueues(eventsOf(changes))
}

// eventsOf are the events the changes recorded, in order.
func eventsOf(changes []*Tx) []*switchboard.Event {
	var events []*switchboard.Event
	for _, tx := range changes {
		if tx != nil { // a batch that failed has none for changes not begun
			events = append(events, tx.events...)
		}
	}
	return events
}

// maxAttempts is how often a change runs before its deadlock or
// serialization failure is its caller's error.
const maxAttempts = 8

// retryDelay is the wait before another attempt: growing, and random
// within its bound, so that two transactions that deadlocked do not meet
// again by starting over at the same moment.
func retryDelay(attempt int) time.Duration {
	bound := time.Duration(attempt+1) * 5 * time.Millisecond
	return bound/2 + rand.N(bound/2)
}

func (db *DB) newTx(ctx context.Context, btx bun.Tx) *Tx {
	return &Tx{Tx: btx, db: db, now: db.now(), actor: switchboard.ActorOf(ctx), request: switchboard.RequestInfoFromContext(ctx)}
}

// Now is the time of the whole change.
func (tx *Tx) Now() time.Time { return tx.now }

// Record adds an event to the change. Its ID, time, actor (when not set)
// and request ID are filled in; its position is given at commit.
func (tx *Tx) Record(e switchboard.Event) {
	e.ID = uuid.Must(uuid.NewV7()).String()
	e.At = tx.now
	if e.Actor.Type == "" {
		e.Actor = tx.actor
	}
	e.RequestID = tx.request.ID
	tx.events = append(tx.events, &e)
}

// recordChange records an event of a change from before to after, keeping
// only the fields that differ.
func (tx *Tx) recordChange(typ string, subject switchboard.EventSubject, before, after map[string]any, scope eventScope) {
	b, a := changes(before, after)
	tx.Record(switchboard.Event{Type: typ, Subject: subject, Before: b, After: a, TeamIDs: scope.teams, AgentID: scope.agent})
}

// teamsOfChange are the teams whose supervisors see a change of an object
// that was in the teams before and is in the teams after: both.
func teamsOfChange(before, after []string) []string {
	teams := slices.Clone(before)
	for _, t := range after {
		if !slices.Contains(teams, t) {
			teams = append(teams, t)
		}
	}
	return teams
}

// eventScope is who besides admins may see an event: the supervisors of
// teams, and an agent.
type eventScope struct {
	teams []string
	agent string
}

// insertChunk is how many rows one INSERT statement carries: enough to make
// 10,000 rows a handful of statements, few enough to stay well inside every
// engine's statement size limit (bun writes the values into the statement).
const insertChunk = 500

// insertChunks inserts rows in multi-row statements of insertChunk rows;
// on PostgreSQL, as arrays (see insertAsArrays).
func insertChunks[T any](ctx context.Context, db *DB, tx bun.IDB, rows []T) error {
	for chunk := range slices.Chunk(rows, insertChunk) {
		if err := db.insertTogether(ctx, tx, &chunk); err != nil {
			return err
		}
	}
	return nil
}

// writeEvents gives the events recorded by the changes of a transaction
// their positions and writes them, with their audit entries, as the last
// step before the commit. Taking positions here, under the sequence row's
// lock that is held until the commit, makes writers commit in position
// order: a reader that has seen position N never finds an event below N
// committed later.
func (db *DB) writeEvents(ctx context.Context, idb bun.IDB, changes []*Tx) error {
	startingLastStatements(ctx)
	if err := db.planNotifications(ctx, idb, changes); err != nil {
		return err
	}
	var notifications []*notificationRow
	for _, tx := range changes {
		notifications = append(notifications, tx.notifications...)
	}
	events := eventsOf(changes)
	notifications, err := db.fanOutWebhooks(ctx, notifications, events)
	if err != nil {
		return err
	}
	users, counts := countsOf(changes)
	if db.engine == Postgres && len(events) > 0 && users == 0 && len(counts) == 0 {
		// One statement: the audit entries and the outbox's rows
		// first, outside the sequence's lock: the other committer waits
		// for that lock, held until the commit, and those rows are the
		// dearest of the batch to write (five indexes on audit_entries).
		// Then the positions, taken with the events' insert.
		rows, audits := eventRowsOf(changes, 0)
		last, err := db.insertEventsAtNextPositions(ctx, idb, rows, &audits, &notifications)
		if err != nil {
			return err
		}
		first := last - int64(len(events))
		for i, e := range events {
			e.Position = first + int64(i) + 1
			rows[i].Position = e.Position
		}
	} else {
		if err := insertChunks(ctx, db, idb, notifications); err != nil {
			return err
		}
		if len(events) == 0 {
			return db.writeCounts(ctx, idb, users, counts)
		}
		last, err := db.takePositions(ctx, idb, len(events))
		if err != nil {
			return err
		}
		// Under the sequence's lock: changes write counts one at a time.
		if err := db.writeCounts(ctx, idb, users, counts); err != nil {
			return err
		}
		rows, audits := eventRowsOf(changes, last-int64(len(events)))
		if err := db.insertEventRows(ctx, idb, rows, audits); err != nil {
			return err
		}
	}
	if db.beforeCommit != nil {
		db.beforeCommit(events)
	}
	return nil
}

// eventRowsOf gives the events of changes the positions that follow
// position, in order, and returns them as stored, with the audit entries
// of those audited. Each change keeps its own rows (stored).
func eventRowsOf(changes []*Tx, position int64) ([]*eventRow, []*auditRow) {
	var rows []*eventRow
	var audits []*auditRow
	for _, tx := range changes {
		first := len(rows)
		for _, e := range tx.events {
			position++
			e.Position = position
			rows = append(rows, newEventRow(e))
			if e.Audited() {
				audits = append(audits, newAuditRow(e, tx.request.IP))
			}
		}
		tx.stored = rows[first:]
	}
	return rows, audits
}

// PostgresEventChannel is the LISTEN/NOTIFY channel on which PostgreSQL
// tells every instance that events were committed.
const PostgresEventChannel = "switchboard_events"

// NotifyEvents tells the instances listening on PostgresEventChannel that
// events up to position are committed. It runs after the commits it tells
// of, on its own. Sent from within each change, the notification cost no
// round trip, but took PostgreSQL's notification lock and queue at every
// commit, under the event sequence's lock, and woke the listeners at every
// commit rather than once a burst: with 400 tasks a second in the open
// model, p99 create→assigned was 94-109 ms against 43-76 without it.
//
// The payload is the position and the sender (InstanceID), apart by a
// space: the sender's own listener passes its own over (see
// events.ListenPostgres).
func (db *DB) NotifyEvents(ctx context.Context, position int64) error {
	_, err := db.bun.ExecContext(ctx, "SELECT pg_notify(?, ?)", PostgresEventChannel, strconv.FormatInt(position, 10)+" "+db.instance)
	return err
}

// InstanceID names this pool in the notifications it sends to the
// instances listening on PostgresEventChannel (see NotifyEvents).
func (db *DB) InstanceID() string { return db.instance }

// newInstanceID is a name no other running instance has: 64 random bits.
func newInstanceID() string {
	return strconv.FormatUint(rand.Uint64(), 36)
}
