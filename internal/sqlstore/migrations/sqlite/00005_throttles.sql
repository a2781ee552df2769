-- +goose Up
-- Per-address throttles (sign-in, enrollment) shared by every instance:
-- one token bucket per key, kept as the time its next attempt is due.
CREATE TABLE throttles (
    bucket_key TEXT PRIMARY KEY,
    tat        TIMESTAMP NOT NULL
);
CREATE INDEX throttles_tat_idx ON throttles (tat);
