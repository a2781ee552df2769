-- +goose Up
-- The event log: every change, written in the transaction of the change.
-- Positions come from event_sequence, whose one row a writer updates as
-- the last step before committing: writers queue on its lock, so they
-- commit in position order and a reader never finds a position below one
-- it has already seen.
CREATE TABLE events (
    position     BIGINT PRIMARY KEY,
    id           VARCHAR(36) NOT NULL UNIQUE,
    type         VARCHAR(64) NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    actor_type   VARCHAR(16) NOT NULL,
    actor_id     VARCHAR(64) NOT NULL,
    actor_name   VARCHAR(254) NOT NULL,
    subject_type VARCHAR(32) NOT NULL,
    subject_id   VARCHAR(64) NOT NULL,
    subject_name VARCHAR(254) NOT NULL,
    team_ids     TEXT NOT NULL,
    agent_id     VARCHAR(36),
    data         TEXT NOT NULL,
    request_id   VARCHAR(64) NOT NULL
);
CREATE INDEX events_at_idx ON events (at);

CREATE TABLE event_sequence (
    id       INTEGER PRIMARY KEY,
    position BIGINT NOT NULL
);
INSERT INTO event_sequence (id, position) VALUES (1, 0);
