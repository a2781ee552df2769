-- +goose Up
-- Queues, where tasks wait, with the settings that route them; a queue of
-- no team routes to every agent. The tasks themselves come with routing.
CREATE TABLE queues (
    id                    VARCHAR(36) PRIMARY KEY,
    name                  VARCHAR(100) NOT NULL,
    sort_name             VARCHAR(100) NOT NULL UNIQUE,
    required_skills       TEXT NOT NULL,
    strategy              VARCHAR(16) NOT NULL,
    offer_timeout_seconds INTEGER NOT NULL,
    max_offers            INTEGER NOT NULL,
    sla_target_seconds    INTEGER NOT NULL,
    requeue_on_offline    BOOLEAN NOT NULL,
    last_agent_id         VARCHAR(36),
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL,
    version               INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE queue_teams (
    queue_id VARCHAR(36) NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    team_id  VARCHAR(36) NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    PRIMARY KEY (queue_id, team_id)
);
CREATE INDEX queue_teams_team_idx ON queue_teams (team_id);
