-- +goose Up
-- The event log: every change, written in the transaction of the change.
-- Positions come from event_sequence, whose one row a writer updates as
-- the last step before committing: writers queue on its lock, so they
-- commit in position order and a reader never finds a position below one
-- it has already seen.
CREATE TABLE events (
    position     BIGINT NOT NULL PRIMARY KEY,
    id           VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    type         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    at           DATETIME(6) NOT NULL,
    actor_type   VARCHAR(16) NOT NULL,
    actor_id     VARCHAR(64) NOT NULL,
    actor_name   VARCHAR(254) NOT NULL,
    subject_type VARCHAR(32) NOT NULL,
    subject_id   VARCHAR(64) NOT NULL,
    subject_name VARCHAR(254) NOT NULL,
    team_ids     TEXT NOT NULL,
    agent_id     VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    data         MEDIUMTEXT NOT NULL,
    request_id   VARCHAR(64) NOT NULL,
    UNIQUE KEY events_id_key (id),
    KEY events_at_idx (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE event_sequence (
    id       INT NOT NULL PRIMARY KEY,
    position BIGINT NOT NULL
) ENGINE=InnoDB;
INSERT INTO event_sequence (id, position) VALUES (1, 0);
