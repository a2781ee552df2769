-- +goose Up
-- A heartbeat's write must leave the indexes of agents alone: InnoDB
-- writes a secondary index only when one of its columns changes, and
-- last_seen_at moves with every heartbeat. So it leaves the sweeper's
-- index, and seen_mark takes its place there: a copy of it that a
-- heartbeat moves only once it is a few seconds behind (see
-- RecordHeartbeats), never after last_seen_at. The sweeper reads the agents
-- whose mark is before its cutoff and keeps those whose last_seen_at is too.
ALTER TABLE agents ADD COLUMN seen_mark DATETIME(6) NULL;
UPDATE agents SET seen_mark = last_seen_at WHERE last_seen_at IS NOT NULL;
CREATE INDEX agents_presence_mark_idx ON agents (presence, seen_mark);
DROP INDEX agents_presence_seen_idx ON agents;
