-- +goose Up
-- The dashboard's figures over time, kept apart from the tasks so that
-- neither creating nor moving a task writes a shared row: a background
-- pass adds up the task events of each queue per five-minute interval,
-- reading the event log from where it stopped (stats_rollup.position),
-- and samples the agents present per team ('' for every agent). Waits
-- and handle times are sums in milliseconds, with their counts.
CREATE TABLE stats_buckets (
    bucket_start DATETIME(6) NOT NULL,
    queue_id     VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created      INTEGER NOT NULL DEFAULT 0,
    assigned     INTEGER NOT NULL DEFAULT 0,
    completed    INTEGER NOT NULL DEFAULT 0,
    cancelled    INTEGER NOT NULL DEFAULT 0,
    expired      INTEGER NOT NULL DEFAULT 0,
    sla_breaches INTEGER NOT NULL DEFAULT 0,
    wait_ms      BIGINT NOT NULL DEFAULT 0,
    waits        INTEGER NOT NULL DEFAULT 0,
    handle_ms    BIGINT NOT NULL DEFAULT 0,
    handles      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_start, queue_id)
) ENGINE=InnoDB;

CREATE TABLE stats_presence (
    bucket_start DATETIME(6) NOT NULL,
    team_id      VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    present      INTEGER NOT NULL,
    capacity     INTEGER NOT NULL,
    PRIMARY KEY (bucket_start, team_id)
) ENGINE=InnoDB;

-- The one row the pass moves forward with a conditional update: the
-- position of the last event counted (0: not started), and when agents
-- were last sampled.
CREATE TABLE stats_rollup (
    id         INT NOT NULL PRIMARY KEY,
    position   BIGINT NOT NULL,
    sampled_at DATETIME(6)
) ENGINE=InnoDB;
INSERT INTO stats_rollup (id, position) VALUES (1, 0);
