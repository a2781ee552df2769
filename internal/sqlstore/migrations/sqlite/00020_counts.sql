-- +goose Up
-- The dashboard's agents, counted as they change instead of on every look:
-- the change of an agent's status, presence, capacity or teams moves it
-- between rows of agent_counts in the change's own transaction. An agent
-- is counted under the set of teams it is in (agents.team_set, a digest
-- of the sorted team IDs; team_sets lists each set's teams) and under ''
-- with every agent: a supervisor's agents are those of the sets that
-- share a team with theirs, each counted once however many of their
-- teams it is in. A set's teams never change; a team deleted leaves its
-- sets naming it, which no supervisor matches. The agents of a database
-- migrated with agents in it are counted by the first start (Migrate).
ALTER TABLE agents ADD COLUMN team_set TEXT NOT NULL DEFAULT '';

CREATE TABLE team_sets (
    team_id  TEXT NOT NULL,
    team_set TEXT NOT NULL,
    PRIMARY KEY (team_id, team_set)
);

CREATE TABLE agent_counts (
    team_set TEXT NOT NULL,
    status   TEXT NOT NULL,
    presence TEXT NOT NULL,
    agents   INTEGER NOT NULL,
    capacity INTEGER NOT NULL,
    PRIMARY KEY (team_set, status, presence)
);

-- Totals of whole tables the dashboard shows, kept the same way: 'users'.
CREATE TABLE row_counts (
    name TEXT NOT NULL PRIMARY KEY,
    n    INTEGER NOT NULL
);
INSERT INTO row_counts (name, n) SELECT 'users', COUNT(*) FROM users;

-- The samples of agents present are kept per team set too, so that a
-- supervisor's chart counts an agent in two of their teams once; the
-- samples per team cannot say which agents two teams share.
ALTER TABLE stats_presence RENAME COLUMN team_id TO team_set;
DELETE FROM stats_presence WHERE team_set <> '';

-- The pass keeps a row of every queue together per interval (queue_id
-- ''), which an admin's whole view reads instead of adding up every
-- queue's; a queue's intervals are read along the queue.
CREATE INDEX stats_buckets_queue_idx ON stats_buckets (queue_id, bucket_start);
INSERT INTO stats_buckets (bucket_start, queue_id, created, assigned, completed, cancelled, expired, sla_breaches,
    wait_ms, waits, handle_ms, handles)
SELECT bucket_start, '', SUM(created), SUM(assigned), SUM(completed), SUM(cancelled), SUM(expired), SUM(sla_breaches),
    SUM(wait_ms), SUM(waits), SUM(handle_ms), SUM(handles)
FROM stats_buckets WHERE queue_id <> '' GROUP BY bucket_start;
