-- +goose Up
-- Routing reads a queue's agents longest idle first. With the order only
-- on agents, a queue of one team read every ready agent of the other
-- teams who had been idle longer, to skip them: a team kept busy while
-- another waits is the usual case, and with 20,000 agents of an idle team
-- a routing of the busy team's queue read 20,000 index entries (27 ms).
-- Each membership now carries what routing orders and filters a team's
-- agents by: its agent's last assignment, and whether the agent may take
-- work (active, available or busy), kept with the agent's, so that a
-- team's ready agents are read in that order from the team's own entries,
-- its absent members as little as other teams.
ALTER TABLE team_members ADD COLUMN last_assigned_at TIMESTAMPTZ, ADD COLUMN ready BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE team_members SET last_assigned_at = a.last_assigned_at,
        ready = (a.status = 'active' AND a.presence IN ('available', 'busy'))
    FROM agents AS a WHERE a.id = team_members.agent_id;
CREATE INDEX team_members_idle_idx ON team_members (team_id, ready, last_assigned_at NULLS FIRST, agent_id);
