-- +goose Up
-- Failed sign-ins are counted per account and client network: ten wrong
-- passwords from one network lock the account for that network only, so
-- that nobody can lock its owner out from elsewhere. The counts are
-- short-lived, so the old table goes rather than being converted.
DROP TABLE sign_in_failures;
CREATE TABLE sign_in_failures (
    email             TEXT NOT NULL,
    client            TEXT NOT NULL,
    failures          INTEGER NOT NULL,
    window_started_at TIMESTAMP NOT NULL,
    locked_until      TIMESTAMP,
    PRIMARY KEY (email, client)
);
CREATE INDEX sign_in_failures_window_idx ON sign_in_failures (window_started_at);
