-- +goose Up
-- Routing reads a queue's agents longest idle first. With the order only
-- on agents, a queue of one team read every present agent of the other
-- teams who had been idle longer, to skip them. Each membership now
-- carries what routing orders and filters a team's agents by: its agent's
-- last assignment, and whether the agent may take work (active, available
-- or busy), kept with the agent's, so that a team's ready agents are read
-- in that order from the team's own entries.
ALTER TABLE team_members ADD COLUMN last_assigned_at DATETIME(6) NULL, ADD COLUMN ready BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE team_members AS tm JOIN agents AS a ON a.id = tm.agent_id
    SET tm.last_assigned_at = a.last_assigned_at,
        tm.ready = (a.status = 'active' AND a.presence IN ('available', 'busy'));
CREATE INDEX team_members_idle_idx ON team_members (team_id, ready, last_assigned_at, agent_id);
