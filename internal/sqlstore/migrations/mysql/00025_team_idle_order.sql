-- +goose Up
-- Routing reads a queue's agents longest idle first. With the order only
-- on agents, a queue of one team read every present agent of the other
-- teams who had been idle longer, to skip them. Each membership now
-- carries its agent's last assignment, kept with the agent's, so that a
-- team's agents are read in that order from the team's own entries.
ALTER TABLE team_members ADD COLUMN last_assigned_at DATETIME(6) NULL;
UPDATE team_members AS tm JOIN agents AS a ON a.id = tm.agent_id
    SET tm.last_assigned_at = a.last_assigned_at WHERE a.last_assigned_at IS NOT NULL;
CREATE INDEX team_members_idle_idx ON team_members (team_id, last_assigned_at, agent_id);
