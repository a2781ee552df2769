-- +goose Up
-- Failed sign-ins are counted per account and client network: ten wrong
-- passwords from one network lock the account for that network only, so
-- that nobody can lock its owner out from elsewhere. The counts are
-- short-lived, so the old table goes rather than being converted.
DROP TABLE sign_in_failures;
CREATE TABLE sign_in_failures (
    email             VARCHAR(254) NOT NULL,
    client            VARCHAR(64) NOT NULL,
    failures          INTEGER NOT NULL,
    window_started_at TIMESTAMPTZ NOT NULL,
    locked_until      TIMESTAMPTZ,
    PRIMARY KEY (email, client)
);
CREATE INDEX sign_in_failures_window_idx ON sign_in_failures (window_started_at);
