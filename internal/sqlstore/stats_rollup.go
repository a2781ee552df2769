package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// bucketCounts are the counts of one queue in one interval.
type bucketCounts struct {
	Created     int   `bun:"created"`
	Assigned    int   `bun:"assigned"`
	Completed   int   `bun:"completed"`
	Cancelled   int   `bun:"cancelled"`
	Expired     int   `bun:"expired"`
	SLABreaches int   `bun:"sla_breaches"`
	WaitMs      int64 `bun:"wait_ms"`
	Waits       int   `bun:"waits"`
	HandleMs    int64 `bun:"handle_ms"`
	Handles     int   `bun:"handles"`
}

func (c *bucketCounts) add(o *bucketCounts) {
	c.Created += o.Created
	c.Assigned += o.Assigned
	c.Completed += o.Completed
	c.Cancelled += o.Cancelled
	c.Expired += o.Expired
	c.SLABreaches += o.SLABreaches
	c.WaitMs += o.WaitMs
	c.Waits += o.Waits
	c.HandleMs += o.HandleMs
	c.Handles += o.Handles
}

// allQueues is the queue_id of the rows of stats_buckets that add up every
// queue, those deleted since included.
const allQueues = ""

type bucketKey struct {
	start int64 // Unix seconds of the interval's start
	queue string
}

// statsEventRow is a counted event with what its task says of it.
type statsEventRow struct {
	Type       string     `bun:"type"`
	At         time.Time  `bun:"at"`
	SubjectID  string     `bun:"subject_id"`
	Data       string     `bun:"data"`
	QueueID    *string    `bun:"queue_id"`
	CreatedAt  *time.Time `bun:"created_at"`
	AssignedAt *time.Time `bun:"assigned_at"`
}

// countEvents adds the counted events with positions in (after, upTo] to
// buckets. An event whose task is gone (its queue was deleted) counts for
// nothing.
func (db *DB) countEvents(ctx context.Context, idb bun.IDB, after, upTo int64, buckets map[bucketKey]*bucketCounts) error {
	if upTo <= after {
		return nil
	}
	var rows []statsEventRow
	err := idb.NewSelect().TableExpr("events AS ev").
		Join("LEFT JOIN tasks AS tk ON tk.id = "+db.asKey("ev.subject_id")+" AND ev.subject_type = ?", "task").
		// Only an assignment's data is read: it says whether it was a
		// reassignment.
		ColumnExpr("ev.type, ev.at, ev.subject_id, CASE WHEN ev.type = ? THEN ev.data ELSE '' END AS data", switchboard.AuditTaskAssigned).
		ColumnExpr("tk.queue_id, tk.created_at, tk.assigned_at").
		Where("ev.position > ? AND ev.position <= ?", after, upTo).
		Where("ev.type IN (?)", bun.List(statsEventTypes)).
		Scan(ctx, &rows)
	if err != nil {
		return err
	}
	for _, r := range rows {
		queue := deref(r.QueueID)
		if r.Type == switchboard.AuditSLABreached {
			queue = r.SubjectID // about the queue; the task is in its data
		}
		if queue == "" {
			continue
		}
		at := r.At.UTC()
		key := bucketKey{start: at.Truncate(switchboard.StatsInterval).Unix(), queue: queue}
		c := buckets[key]
		if c == nil {
			c = &bucketCounts{}
			buckets[key] = c
		}
		switch r.Type {
		case switchboard.AuditTaskCreated:
			c.Created++
		case switchboard.AuditTaskAssigned:
			c.Assigned++
			// A reassignment moves a task between agents: no wait ended.
			if r.CreatedAt != nil && !reassigned(r.Data) {
				c.Waits++
				c.WaitMs += max(at.Sub(r.CreatedAt.UTC()).Milliseconds(), 0)
			}
		case switchboard.AuditTaskCompleted:
			c.Completed++
			if r.AssignedAt != nil {
				c.Handles++
				c.HandleMs += max(at.Sub(r.AssignedAt.UTC()).Milliseconds(), 0)
			}
		case switchboard.AuditTaskCancelled:
			c.Cancelled++
		case switchboard.AuditTaskExpired:
			c.Expired++
		case switchboard.AuditSLABreached:
			c.SLABreaches++
		}
	}
	return nil
}

// reassigned reports whether a task.assigned event's data says the task
// was assigned before.
func reassigned(data string) bool {
	if !strings.Contains(data, `"before"`) {
		return false
	}
	var d struct {
		Before struct {
			Status string `json:"status"`
		} `json:"before"`
	}
	_ = json.Unmarshal([]byte(data), &d)
	return d.Before.Status == string(switchboard.TaskAssigned)
}

// statsStart is the position before the first event the figures need
// when nothing was counted yet: those of the last day and of today.
func (db *DB) statsStart(ctx context.Context, idb bun.IDB, now time.Time, last int64) (int64, error) {
	var first *int64
	err := idb.NewSelect().Model((*eventRow)(nil)).ColumnExpr("MIN(ev.position)").
		Where("ev.at >= ?", statsFrom(now)).Scan(ctx, &first)
	if err != nil {
		return 0, err
	}
	if first == nil {
		return last, nil
	}
	return *first - 1, nil
}

// statsFrom is the oldest time the figures look at: the start of today or
// of the last day's first interval, whichever is earlier.
func statsFrom(now time.Time) time.Time {
	day := now.Add(-switchboard.StatsAverageWindow).Truncate(switchboard.StatsInterval)
	hours := now.Truncate(time.Hour).Add(-(switchboard.StatsSeriesLength - 1) * time.Hour)
	from := midnight(now)
	for _, t := range []time.Time{day, hours} {
		if t.Before(from) {
			from = t
		}
	}
	return from
}

func midnight(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// errRollUpBusy ends a pass that another instance is running.
var errRollUpBusy = errors.New("another instance is rolling up the figures")

// RollUpStats counts the events since the last pass into the intervals,
// in transactions of statsChunk positions. Each holds the one stats_rollup
// row, skipping it when another instance holds it, and moves its position
// on in the same commit as the counts: an event is counted once whatever
// the number of instances, and a pass that fails counts nothing.
//
// With Pace, it waits after each transaction but the last for as long as
// that one took, so that a pass takes at most about one core half the
// time. Unpaced, the pass over ten seconds of a busy instance's events
// (60,000 at 1,500 tasks a second, PostgreSQL on 2 cores) took a core for
// half a second in one go, and the requests queued behind it. Measured
// with the lifecycle load in the open model at 1,500 tasks a second for
// 30 s, three rounds: p95 create→assigned 58–78 ms paced against 60–123
// unpaced (55–62 with no pass at all), p99 93–135 against 97–168.
func (s *StatsService) RollUpStats(ctx context.Context) (int, error) {
	db := s.db
	last, err := db.LastEventPosition(ctx)
	if err != nil {
		return 0, translate(err)
	}
	// Nothing new and no sample due: no write transaction, which on
	// SQLite would take the one write lock every few seconds for nothing.
	var state struct {
		Position  int64      `bun:"position"`
		SampledAt *time.Time `bun:"sampled_at"`
	}
	if err := db.bun.NewSelect().Table("stats_rollup").Column("position", "sampled_at").Where("id = 1").Scan(ctx, &state); err != nil {
		return 0, translate(err)
	}
	if now := db.now(); state.Position == last && state.Position != 0 && state.SampledAt != nil &&
		now.Sub(state.SampledAt.UTC()) < statsSampleEvery && !state.SampledAt.After(now) {
		return 0, nil
	}
	counted := 0
	for {
		done := true
		n := 0
		began := time.Now()
		err := db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			now := db.now()
			var state struct {
				Position  int64      `bun:"position"`
				SampledAt *time.Time `bun:"sampled_at"`
			}
			q := tx.NewSelect().Table("stats_rollup").Column("position", "sampled_at").Where("id = 1")
			if err := db.forUpdateSkipLocked(q).Scan(ctx, &state); err != nil {
				if errors.Is(err, errNoRows) {
					return errRollUpBusy
				}
				return err
			}
			from := state.Position
			if from == 0 {
				if from, err = db.statsStart(ctx, tx, now, last); err != nil {
					return err
				}
			}
			upTo := min(last, from+statsChunk)
			done = upTo >= last
			buckets := map[bucketKey]*bucketCounts{}
			if err := db.countEvents(ctx, tx, from, upTo, buckets); err != nil {
				return err
			}
			if err := db.addBuckets(ctx, tx, buckets); err != nil {
				return err
			}
			for _, c := range buckets {
				n += c.Created + c.Assigned + c.Completed + c.Cancelled + c.Expired + c.SLABreaches
			}
			upd := tx.NewUpdate().Table("stats_rollup").Set("position = ?", upTo).Where("id = 1")
			if state.SampledAt == nil || now.Sub(state.SampledAt.UTC()) >= statsSampleEvery || state.SampledAt.After(now) {
				if err := db.samplePresence(ctx, tx, now); err != nil {
					return err
				}
				upd = upd.Set("sampled_at = ?", now)
				cutoff := now.Add(-statsKeep)
				for _, table := range []string{"stats_buckets", "stats_presence"} {
					if _, err := tx.NewDelete().Table(table).Where("bucket_start < ?", cutoff).Exec(ctx); err != nil {
						return err
					}
				}
			}
			_, err := upd.Exec(ctx)
			return err
		})
		if errors.Is(err, errRollUpBusy) {
			return counted, nil
		}
		if err != nil {
			return counted, translate(err)
		}
		counted += n
		if done {
			return counted, nil
		}
		if s.Pace {
			pause := time.NewTimer(time.Since(began))
			select {
			case <-ctx.Done():
				pause.Stop()
				return counted, ctx.Err()
			case <-pause.C:
			}
		}
	}
}

// addBuckets adds counts to the kept intervals.
func (db *DB) addBuckets(ctx context.Context, idb bun.IDB, buckets map[bucketKey]*bucketCounts) error {
	if len(buckets) == 0 {
		return nil
	}
	type row struct {
		bun.BaseModel `bun:"table:stats_buckets,alias:stats_buckets"`
		BucketStart   time.Time `bun:"bucket_start"`
		QueueID       string    `bun:"queue_id"`
		bucketCounts
	}
	// Every queue's counts are added to the interval's row of all
	// queues too (queue_id ''), which an admin's whole view reads.
	all := map[int64]*row{}
	rows := make([]*row, 0, len(buckets))
	for k, c := range buckets {
		at := time.Unix(k.start, 0).UTC()
		rows = append(rows, &row{BucketStart: at, QueueID: k.queue, bucketCounts: *c})
		if all[k.start] == nil {
			all[k.start] = &row{BucketStart: at, QueueID: allQueues}
			rows = append(rows, all[k.start])
		}
		all[k.start].add(c)
	}
	// A stable order: two passes never meet on these rows (the rollup
	// row is held), but deadlock-free order costs nothing.
	slices.SortFunc(rows, func(a, b *row) int {
		if c := a.BucketStart.Compare(b.BucketStart); c != 0 {
			return c
		}
		return strings.Compare(a.QueueID, b.QueueID)
	})
	cols := []string{"created", "assigned", "completed", "cancelled", "expired", "sla_breaches", "wait_ms", "waits", "handle_ms", "handles"}
	for chunk := range slices.Chunk(rows, insertChunk) {
		q := idb.NewInsert().Model(&chunk)
		if _, err := db.upsert(q, "bucket_start, queue_id", cols, true).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// samplePresence copies the counts of agents present now, per team set
// and in all, into the current interval.
func (db *DB) samplePresence(ctx context.Context, idb bun.IDB, now time.Time) error {
	type row struct {
		bun.BaseModel `bun:"table:stats_presence,alias:stats_presence"`
		BucketStart   time.Time `bun:"bucket_start"`
		TeamSet       string    `bun:"team_set"`
		Present       int       `bun:"present"`
		Capacity      int       `bun:"capacity"`
	}
	var rows []*row
	err := idb.NewSelect().Model((*agentCountRow)(nil)).
		ColumnExpr("team_set, SUM(agents) AS present, SUM(capacity) AS capacity").
		Where("status = ? AND presence IN (?)", switchboard.AgentActive, bun.List(presentPresences)).
		GroupExpr("team_set").Having("SUM(agents) > 0").Scan(ctx, &rows)
	if err != nil {
		return err
	}
	bucket := now.Truncate(switchboard.StatsInterval)
	for _, r := range rows {
		r.BucketStart = bucket
	}
	for chunk := range slices.Chunk(rows, insertChunk) {
		q := idb.NewInsert().Model(&chunk)
		if _, err := db.upsert(q, "bucket_start, team_set", []string{"present", "capacity"}, false).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// statsTail keeps the counts of the events after the pass's position, as
// far as the dashboards read them. Every live update of an open dashboard
// is a view, so while the pass is behind (a busy minute, an instance that
// took over) the same events would be counted again at each view; here a
// view counts only those that came since the last one. The counts are
// keyed by the pass's position: when the pass moves on, they start again
// from there. Events are never changed once written, and a position is
// given only at commit, in order, so the events up to the last position
// can be counted once and kept.
type statsTail struct {
	mu      sync.Mutex
	after   int64 // the pass's position the counts start after
	upTo    int64 // the last position counted
	counted map[bucketKey]*bucketCounts
}

// counts returns the counts of the events in (after, last]: a copy, which
// the caller may keep.
func (t *statsTail) counts(ctx context.Context, db *DB, after, last int64) (map[bucketKey]*bucketCounts, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counted == nil || t.after != after || t.upTo > last {
		t.after, t.upTo, t.counted = after, after, map[bucketKey]*bucketCounts{}
	}
	if last > t.upTo {
		// countEvents adds nothing unless it read every event: on an
		// error the counts stay those of (after, upTo].
		if err := db.countEvents(ctx, db.bun, t.upTo, last, t.counted); err != nil {
			return nil, err
		}
		t.upTo = last
	}
	tail := make(map[bucketKey]*bucketCounts, len(t.counted))
	for k, c := range t.counted {
		copied := *c
		tail[k] = &copied
	}
	return tail, nil
}
