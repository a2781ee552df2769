-- +goose Up
-- Queues, where tasks wait, with the settings that route them; a queue of
-- no team routes to every agent. The tasks themselves come with routing.
CREATE TABLE queues (
    id                    VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
    name                  VARCHAR(100) NOT NULL,
    sort_name             VARCHAR(100) NOT NULL UNIQUE,
    required_skills       TEXT NOT NULL,
    strategy              VARCHAR(16) NOT NULL,
    offer_timeout_seconds INTEGER NOT NULL,
    max_offers            INTEGER NOT NULL,
    sla_target_seconds    INTEGER NOT NULL,
    requeue_on_offline    BOOLEAN NOT NULL,
    last_agent_id         VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin,
    created_at            DATETIME(6) NOT NULL,
    updated_at            DATETIME(6) NOT NULL,
    version               INTEGER NOT NULL DEFAULT 1
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE queue_teams (
    queue_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    team_id  VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (queue_id, team_id),
    CONSTRAINT queue_teams_queue_id_fk FOREIGN KEY (queue_id) REFERENCES queues (id) ON DELETE CASCADE,
    CONSTRAINT queue_teams_team_id_fk FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE INDEX queue_teams_team_idx ON queue_teams (team_id);
