-- +goose Up
-- Presence history, for the per-agent timeline: one row per change, whose
-- period ends where the agent's next row starts. Before an agent's first
-- row it was offline, as every agent starts; the agents present now are
-- given a row, as of their last sign of life, so that the rule holds for
-- them too. Rows older than a month are pruned, all but each agent's
-- latest, which still says where the agent stood.
CREATE TABLE agent_presence (
    id         VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    agent_id   VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    presence   VARCHAR(16) NOT NULL,
    started_at DATETIME(6) NOT NULL,
    reason     VARCHAR(200) NOT NULL,
    CONSTRAINT agent_presence_agent_id_fk FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE INDEX agent_presence_agent_idx ON agent_presence (agent_id, started_at, id);
CREATE INDEX agent_presence_started_idx ON agent_presence (started_at);
INSERT INTO agent_presence (id, agent_id, presence, started_at, reason)
SELECT UUID(), id, presence, COALESCE(last_seen_at, updated_at), 'present when presence history began'
FROM agents WHERE presence <> 'offline';

-- The sweeper's look for agents whose heartbeat stopped: present, last seen
-- before the TTL (or never).
CREATE INDEX agents_presence_seen_idx ON agents (presence, last_seen_at);
