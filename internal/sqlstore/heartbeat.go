package sqlstore

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/switchboardhq/switchboard"
)

var _ switchboard.HeartbeatStore = (*DB)(nil)

// heartbeatChunk is how many agents one statement updates: large enough
// that a fleet's second of heartbeats is a handful of statements, small
// enough to stay far from every engine's limit on parameters.
const heartbeatChunk = 500

// RecordHeartbeats moves each agent's last_seen_at forward to its
// heartbeat's time, and replaces its metadata when the heartbeat carries
// some, one statement per chunk of agents. It is no change of the agent:
// no version, no event. Agents are taken in ID order, so that two
// instances flushing at once lock rows in the same order.
func (db *DB) RecordHeartbeats(ctx context.Context, beats []switchboard.Heartbeat) error {
	beats = slices.Clone(beats)
	slices.SortFunc(beats, func(a, b switchboard.Heartbeat) int { return strings.Compare(a.AgentID, b.AgentID) })
	for chunk := range slices.Chunk(beats, heartbeatChunk) {
		query, args, err := db.heartbeatStatement(chunk)
		if err != nil {
			return err
		}
		if err := db.retry(ctx, func() error {
			_, err := db.bun.NewRaw(query, args...).Exec(ctx)
			return err
		}); err != nil {
			return translate(err)
		}
	}
	return nil
}

// heartbeatStatement builds one UPDATE of many agents from a table of
// values, in each engine's way of joining one.
func (db *DB) heartbeatStatement(beats []switchboard.Heartbeat) (string, []any, error) {
	args := make([]any, 0, 3*len(beats))
	for _, h := range beats {
		var meta any // NULL keeps the agent's metadata
		if h.Metadata != nil {
			b, err := json.Marshal(h.Metadata)
			if err != nil {
				return "", nil, err
			}
			meta = string(b)
		}
		args = append(args, h.AgentID, h.At.UTC(), meta)
	}
	var q strings.Builder
	switch db.engine {
	case Postgres:
		q.WriteString("UPDATE agents AS a SET last_seen_at = v.at, metadata = COALESCE(v.meta, a.metadata) FROM (VALUES ")
		for i := range beats {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, CAST(? AS TIMESTAMPTZ), CAST(? AS JSONB))")
		}
		q.WriteString(") AS v (id, at, meta) WHERE a.id = v.id AND (a.last_seen_at IS NULL OR a.last_seen_at < v.at)")
	case MySQL:
		q.WriteString("UPDATE agents AS a JOIN (")
		for i := range beats {
			if i > 0 {
				q.WriteString(" UNION ALL ")
			}
			q.WriteString("SELECT ? AS id, CAST(? AS DATETIME(6)) AS at, ? AS meta")
		}
		q.WriteString(") AS v ON a.id = v.id SET a.last_seen_at = v.at, a.metadata = COALESCE(v.meta, a.metadata) " +
			"WHERE a.last_seen_at IS NULL OR a.last_seen_at < v.at")
	default:
		q.WriteString("WITH v (id, at, meta) AS (VALUES ")
		for i := range beats {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?)")
		}
		q.WriteString(") UPDATE agents SET last_seen_at = v.at, metadata = COALESCE(v.meta, agents.metadata) FROM v " +
			"WHERE agents.id = v.id AND (agents.last_seen_at IS NULL OR agents.last_seen_at < v.at)")
	}
	return q.String(), args, nil
}
