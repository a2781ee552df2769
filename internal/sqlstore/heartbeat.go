package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

var _ switchboard.HeartbeatStore = (*DB)(nil)

// heartbeatChunk is how many agents one statement updates: large enough
// that a fleet's second of heartbeats is a handful of statements, small
// enough to stay far from every engine's limit on parameters.
const heartbeatChunk = 500

// seenMarkStep is how far an agent's last_seen_at may run ahead of its
// seen_mark, the copy in the sweeper's index, before a heartbeat moves the
// mark too. On most heartbeats the mark stays, and so the write changes no
// indexed column: on PostgreSQL it is then a heap-only update, and InnoDB
// leaves its secondary indexes alone. Against a TTL shorter than the step,
// the sweeper's index finds present agents whose mark lags, and the
// sweeper reads their last_seen_at to keep only the stale ones.
const seenMarkStep = 10 * time.Second

// RecordHeartbeats moves each agent's last_seen_at forward to its
// heartbeat's time, and replaces its metadata when the heartbeat carries
// some, one statement per chunk of agents. It is no change of the agent:
// no version, no event. On PostgreSQL and MariaDB an agent whose row is
// locked (routing is giving it work) is skipped rather than waited for:
// waiting would hold the other rows of the chunk, and routing behind them.
// Its heartbeat comes back in deferred, for the next flush.
func (db *DB) RecordHeartbeats(ctx context.Context, beats []switchboard.Heartbeat) (deferred []switchboard.Heartbeat, err error) {
	beats = slices.Clone(beats)
	slices.SortFunc(beats, func(a, b switchboard.Heartbeat) int { return strings.Compare(a.AgentID, b.AgentID) })
	for chunk := range slices.Chunk(beats, heartbeatChunk) {
		var written map[string]bool
		err := db.retry(ctx, func() error {
			var err error
			written, err = db.recordHeartbeats(ctx, chunk)
			return err
		})
		if err != nil {
			return nil, translate(err)
		}
		if written == nil {
			continue // every one
		}
		for _, h := range chunk {
			if !written[h.AgentID] {
				deferred = append(deferred, h)
			}
		}
	}
	return deferred, nil
}

// recordHeartbeats writes one chunk and says which agents it wrote (nil:
// all of them).
func (db *DB) recordHeartbeats(ctx context.Context, beats []switchboard.Heartbeat) (map[string]bool, error) {
	args := make([]any, 0, 4*len(beats))
	for _, h := range beats {
		var meta any // NULL keeps the agent's metadata
		if h.Metadata != nil {
			meta = string(h.Metadata)
		}
		// The mark moves to the heartbeat's time when it is at or before
		// mark_by; either way it is never after last_seen_at.
		args = append(args, h.AgentID, h.At.UTC(), meta, h.At.UTC().Add(-seenMarkStep))
	}
	var q strings.Builder
	switch db.engine {
	case Postgres:
		q.WriteString("WITH v (id, at, meta, mark_by) AS (VALUES ")
		for i := range beats {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, CAST(? AS TIMESTAMPTZ), CAST(? AS JSONB), CAST(? AS TIMESTAMPTZ))")
		}
		q.WriteString("), free AS (SELECT a.id FROM agents AS a JOIN v ON v.id = a.id ORDER BY a.id FOR UPDATE OF a SKIP LOCKED) " +
			"UPDATE agents AS a SET last_seen_at = GREATEST(a.last_seen_at, v.at), metadata = CASE WHEN a.last_seen_at IS NULL OR " +
			"a.last_seen_at < v.at THEN COALESCE(v.meta, a.metadata) ELSE a.metadata END, " +
			"seen_mark = CASE WHEN a.seen_mark IS NULL OR a.seen_mark <= v.mark_by THEN v.at ELSE a.seen_mark END " +
			"FROM v, free WHERE a.id = v.id AND a.id = free.id RETURNING a.id")
		var ids []string
		if err := db.bun.NewRaw(q.String(), args...).Scan(ctx, &ids); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return idSet(ids), nil
	case MySQL:
		ids := make([]string, len(beats))
		for i, h := range beats {
			ids[i] = h.AgentID
		}
		var free []string
		err := db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := tx.NewRaw("SELECT id FROM agents WHERE id IN (?) ORDER BY id FOR UPDATE SKIP LOCKED", bun.List(ids)).
				Scan(ctx, &free); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if len(free) == 0 {
				return nil
			}
			q.WriteString("UPDATE agents AS a JOIN (")
			for i := range beats {
				if i > 0 {
					q.WriteString(" UNION ALL ")
				}
				q.WriteString("SELECT ? AS id, CAST(? AS DATETIME(6)) AS at, ? AS meta, CAST(? AS DATETIME(6)) AS mark_by")
			}
			q.WriteString(") AS v ON a.id = v.id SET a.seen_mark = CASE WHEN a.seen_mark IS NULL OR a.seen_mark <= v.mark_by " +
				"THEN v.at ELSE a.seen_mark END, a.last_seen_at = v.at, a.metadata = COALESCE(v.meta, a.metadata) " +
				"WHERE a.id IN (?) AND (a.last_seen_at IS NULL OR a.last_seen_at < v.at)")
			_, err := tx.NewRaw(q.String(), append(args, bun.List(free))...).Exec(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
		return idSet(free), nil
	default:
		// SQLite has one writer at a time and no row locks to skip.
		q.WriteString("WITH v (id, at, meta, mark_by) AS (VALUES ")
		for i := range beats {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?)")
		}
		q.WriteString(") UPDATE agents SET last_seen_at = v.at, metadata = COALESCE(v.meta, agents.metadata), " +
			"seen_mark = CASE WHEN agents.seen_mark IS NULL OR agents.seen_mark <= v.mark_by THEN v.at ELSE agents.seen_mark END FROM v " +
			"WHERE agents.id = v.id AND (agents.last_seen_at IS NULL OR agents.last_seen_at < v.at)")
		_, err := db.bun.NewRaw(q.String(), args...).Exec(ctx)
		return nil, err
	}
}

func idSet(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
