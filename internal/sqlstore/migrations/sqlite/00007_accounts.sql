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

-- Whether an agent's user was created for it (invited with it, by hand or
-- by import) rather than an existing account linked by an admin: only such
-- a user is disabled when the agent retires. An agent and the user made
-- for it are written in one transaction at one time, which tells them
-- apart in the rows already there.
ALTER TABLE agents ADD COLUMN owns_user BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE agents SET owns_user = TRUE
WHERE user_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM users WHERE users.id = agents.user_id AND users.created_at = agents.created_at);

-- A user's change of role or status revokes the keys they created.
CREATE INDEX enrollment_keys_created_by_idx ON enrollment_keys (created_by);
