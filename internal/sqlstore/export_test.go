package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// SetBeforeCommit lets a test hold a change back after its events have
// their positions and before it commits.
func (db *DB) SetBeforeCommit(f func(events []*switchboard.Event)) { db.beforeCommit = f }

// SetAfterCandidates lets a test act on the agents a set ranked for its
// tasks, before the set takes them.
func (db *DB) SetAfterCandidates(f func(ranked []string)) { db.afterCandidates = f }

// Write runs fn as a change, as the services do.
func (db *DB) Write(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	return db.write(ctx, fn)
}

// IsRead exposes the test of which statements may run twice.
var IsRead = isRead

// MigrateTo applies the migrations up to version, so that a test can write
// rows as an older schema had them and see a later migration convert them.
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := db.migrationProvider(ctx, true)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// Exec runs a statement, with bun's ? placeholders.
func (db *DB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := db.bun.ExecContext(ctx, query, args...)
	return err
}

// QueryRow runs a query, with bun's ? placeholders.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.bun.QueryRowContext(ctx, query, args...)
}

// SharedCommits is how many changes committed in a transaction shared with
// others.
func (db *DB) SharedCommits() int64 { return db.group().shared.Load() }

// Committers is how many batches the database commits at once.
func (db *DB) Committers() int {
	if db.engine == SQLite {
		return 1
	}
	return serverCommitters
}

// ChangesMadeInSets is how many changes batches made in sets (see setWork).
func (db *DB) ChangesMadeInSets() int64 { return db.group().bySet.Load() }

// WriteAlone runs fn as a change in a transaction of its own, as every
// change did before group commit.
func (db *DB) WriteAlone(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	return db.writeAlone(ctx, fn)
}

// NotificationBodies returns what the outbox keeps of a notification's
// bodies and secret, which no service returns once it is delivered.
func (db *DB) NotificationBodies(ctx context.Context, id string) (text, html string, secret *string, err error) {
	var row notificationRow
	err = db.bun.NewSelect().Model(&row).Where("n.id = ?", id).Scan(ctx)
	return row.BodyText, row.BodyHTML, row.Secret, err
}

// queryRecorder keeps the statements run while it is on.
type queryRecorder struct {
	on      atomic.Bool
	mu      sync.Mutex
	queries []string
}

func (r *queryRecorder) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (r *queryRecorder) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	// A transaction's BEGIN is left out: a committer sends the next
	// batch's as soon as the one before is done (see beginAhead), while
	// the recording of the next statements may or may not have started.
	if r.on.Load() && e.Query != "BEGIN" {
		r.mu.Lock()
		r.queries = append(r.queries, e.Query)
		r.mu.Unlock()
	}
}

// RecordQueries returns the statements fn runs on db but BEGIN, for a
// benchmark to show their plans and tests to count them.
func (db *DB) RecordQueries(fn func()) []string {
	r := &queryRecorder{}
	db.bun.AddQueryHook(r)
	prepared := func(query string) { r.AfterQuery(context.Background(), &bun.QueryEvent{Query: query}) }
	db.afterPrepared.Store(&prepared)
	defer db.afterPrepared.Store(nil)
	r.on.Store(true)
	fn()
	r.on.Store(false)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queries
}

// NotifyInApp writes in-app notifications as a change that tells people of
// itself does: an event of type eventType, and the notifications about it,
// in one transaction.
func (db *DB) NotifyInApp(ctx context.Context, eventType string, ns ...*switchboard.Notification) error {
	return db.write(ctx, func(ctx context.Context, tx *Tx) error {
		tx.Record(switchboard.Event{Type: eventType, Subject: switchboard.EventSubject{Type: "test"}})
		for _, n := range ns {
			n.Channel = switchboard.ChannelInApp
			tx.notify(n)
		}
		return nil
	})
}

// AgentCountRows returns the rows of agent_counts that count agents, as
// "team set/status/presence" → agents and capacity.
func (db *DB) AgentCountRows(ctx context.Context) (map[string][2]int, error) {
	var rows []agentCountRow
	if err := db.bun.NewSelect().Model(&rows).Scan(ctx); err != nil {
		return nil, err
	}
	counts := map[string][2]int{}
	for _, r := range rows {
		if r.Agents != 0 || r.Capacity != 0 {
			counts[r.TeamSet+"/"+r.Status+"/"+r.Presence] = [2]int{r.Agents, r.Capacity}
		}
	}
	return counts, nil
}

// SeenMarkStep is how far last_seen_at may run ahead of seen_mark.
const SeenMarkStep = seenMarkStep

// InsertAuditEntries writes audit entries as a batch writes its rows (on
// PostgreSQL, as arrays), for tests of how rows are written.
func (db *DB) InsertAuditEntries(ctx context.Context, entries ...*switchboard.AuditEntry) error {
	rows := make([]*auditRow, len(entries))
	for i, e := range entries {
		rows[i] = &auditRow{ID: e.ID, At: e.At, ActorType: e.ActorType, ActorID: e.ActorID, ActorName: e.ActorName,
			Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID, TargetName: e.TargetName,
			BeforeJSON: jsonOrNil(e.Before), AfterJSON: jsonOrNil(e.After), IP: e.IP, RequestID: e.RequestID}
	}
	return db.write(ctx, func(ctx context.Context, tx *Tx) error {
		return insertChunks(ctx, db, tx, rows)
	})
}

// WriteTogether makes the changes in one shared transaction, as a committer
// does with changes that arrive together, and returns once that
// transaction is done: each change's answer comes on its channel, at once
// or when it has been made again alone.
func (db *DB) WriteTogether(ctx context.Context, fns ...func(ctx context.Context, tx *Tx) error) []chan error {
	batch, answers := changesOf(ctx, fns)
	db.group().run(batch, nil)
	return answers
}

// changesOf makes a batch of fns, and the channels of their answers.
func changesOf(ctx context.Context, fns []func(ctx context.Context, tx *Tx) error) ([]*change, []chan error) {
	batch := make([]*change, len(fns))
	answers := make([]chan error, len(fns))
	for i, fn := range fns {
		answers[i] = make(chan error, 1)
		batch[i] = &change{ctx: ctx, fn: fn, done: answers[i]}
	}
	return batch, answers
}

// WriteTogetherInTurn is WriteTogether as a committer makes a batch: with
// the turn (see groupCommit.turn), which the batch passes on when it comes
// to its commit, and no committer takes before.
func (db *DB) WriteTogetherInTurn(ctx context.Context, fns ...func(ctx context.Context, tx *Tx) error) []chan error {
	g := db.group()
	<-g.turn
	batch, answers := changesOf(ctx, fns)
	g.runInTurn(batch, &fromCommitter{passTurn: g.passTurnOnce()})
	return answers
}

// RouteTask routes a queued task in the change, as the changes that route
// one do, and reports whether an agent took it.
func (tx *Tx) RouteTask(ctx context.Context, taskID string) (bool, error) {
	var row taskRow
	if err := tx.NewSelect().Model(&row).Where("tk.id = ?", taskID).For("UPDATE").Scan(ctx); err != nil {
		return false, err
	}
	q, err := tx.db.routingQueue(ctx, tx, row.QueueID)
	if err != nil {
		return false, err
	}
	return tx.db.routeTask(ctx, tx, &row, q)
}

// HoldRow locks the row of table with the ID in a transaction of its own,
// as a change of another instance would, until release.
func (db *DB) HoldRow(ctx context.Context, table, id string) (release func() error, err error) {
	tx, err := db.bun.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "SELECT id FROM "+table+" WHERE id = ? FOR UPDATE", id); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return tx.Commit, nil
}

// FillAgentHeld sets an agent's workload to its capacity in a transaction
// of its own, which holds the row until commit: another instance's
// routing, as it will be once it commits.
func (db *DB) FillAgentHeld(ctx context.Context, agentID string) (commit func() error, err error) {
	tx, err := db.bun.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE agents SET workload = capacity WHERE id = ?", agentID); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return tx.Commit, nil
}

// RowLockedElsewhere reports whether another transaction holds the row
// of table with the ID (PostgreSQL).
func (db *DB) RowLockedElsewhere(ctx context.Context, table, id string) (bool, error) {
	tx, err := db.bun.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, "SELECT id FROM "+table+" WHERE id = ? FOR UPDATE NOWAIT", id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
		return true, nil
	}
	return false, err
}

// WaitForLockWait returns once a statement of this database that mentions
// text waits for a lock (PostgreSQL).
func (db *DB) WaitForLockWait(ctx context.Context, text string) error {
	for {
		var n int
		err := db.bun.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "+
			"AND wait_event_type = 'Lock' AND strpos(query, ?) > 0", text).Scan(&n)
		if err != nil || n > 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// InsertMemberships makes each agent a member of each team, as changes of
// teams and agents do once they have checked both.
func (tx *Tx) InsertMemberships(ctx context.Context, teamIDs, agentIDs []string) error {
	return insertMemberships(ctx, tx, teamIDs, agentIDs)
}

// CandidateIDs reads the IDs of the candidates routing reads for rt, in
// their order.
func (tx *Tx) CandidateIDs(ctx context.Context, rt switchboard.RoutingRequest, taskID string, limit int) ([]string, error) {
	candidates, err := tx.db.candidates(ctx, tx, rt, taskID, limit)
	ids := make([]string, len(candidates))
	for i, c := range candidates {
		ids[i] = c.AgentID
	}
	return ids, err
}

// WaitForRoutingStatistics returns once no analysis of the tables routing
// reads runs (see membershipsAdded).
func (db *DB) WaitForRoutingStatistics() { db.routingStats.done.Wait() }

// Analyze refreshes the planner's statistics of tables.
func (db *DB) Analyze(ctx context.Context, tables ...string) error { return db.analyze(ctx, tables...) }

// MakeAvailable makes agents available without the routing a change of
// presence makes, their memberships ready with them.
func (db *DB) MakeAvailable(ctx context.Context, agentIDs ...string) error {
	if _, err := db.bun.NewUpdate().Table("agents").Set("presence = ?", switchboard.PresenceAvailable).
		Where("id IN (?)", bun.List(agentIDs)).Exec(ctx); err != nil {
		return err
	}
	_, err := db.bun.NewUpdate().Table("team_members").Set("ready = ?", true).Where("agent_id IN (?)", bun.List(agentIDs)).Exec(ctx)
	return err
}

// InTxEndingWith runs first, then last as the statement that takes the
// event sequence's positions, the last of a transaction, which may carry
// the commit; it returns last's number.
func (db *DB) InTxEndingWith(ctx context.Context, first, last string) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(ctx context.Context, btx bun.Tx) error {
		if _, err := btx.ExecContext(ctx, first); err != nil {
			return err
		}
		var err error
		n, err = db.takePositionsLast(ctx, btx, last)
		return err
	})
	return n, err
}

// CommitsTogether is how many transactions had their last statement carry
// the commit.
func (db *DB) CommitsTogether() int64 { return db.commitsTogether.Load() }

// BeganAhead returns how many transactions of changes were begun before
// their changes came.
func (db *DB) BeganAhead() int64 { return db.beganAhead.Load() }

// Piped returns how many statements were sent in pipelines, and in how
// many round trips.
func (db *DB) Piped() (statements, roundTrips int64) { return db.piped.Load(), db.pipelines.Load() }

// SetTurnLimit sets how long a batch may keep the turn, in place of
// maxTurn, and restores maxTurn when the test ends.
func (db *DB) SetTurnLimit(t testing.TB, d time.Duration) {
	db.turnLimitForTests.Store(int64(d))
	t.Cleanup(func() { db.turnLimitForTests.Store(0) })
}
