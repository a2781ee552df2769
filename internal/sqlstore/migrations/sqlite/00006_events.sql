-- +goose Up
-- The event log: every change, written in the transaction of the change.
-- Positions come from event_sequence, updated as the last step before
-- committing (SQLite has one writer at a time in any case), so writers
-- commit in position order and a reader never finds a position below one
-- it has already seen.
CREATE TABLE events (
    position     INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    at           TIMESTAMP NOT NULL,
    actor_type   TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    actor_name   TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    team_ids     TEXT NOT NULL,
    agent_id     TEXT,
    data         TEXT NOT NULL,
    request_id   TEXT NOT NULL
);
CREATE INDEX events_at_idx ON events (at);

CREATE TABLE event_sequence (
    id       INTEGER PRIMARY KEY,
    position INTEGER NOT NULL
);
INSERT INTO event_sequence (id, position) VALUES (1, 0);
