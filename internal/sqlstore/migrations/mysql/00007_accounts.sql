-- +goose Up
-- Failed sign-ins are counted per account and client network: ten wrong
-- passwords from one network lock the account for that network only, so
-- that nobody can lock its owner out from elsewhere. The counts are
-- short-lived, so the old table goes rather than being converted.
DROP TABLE sign_in_failures;
CREATE TABLE sign_in_failures (
    email             VARCHAR(254) COLLATE utf8mb4_bin NOT NULL,
    client            VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    failures          INT NOT NULL,
    window_started_at DATETIME(6) NOT NULL,
    locked_until      DATETIME(6) NULL,
    PRIMARY KEY (email, client),
    KEY sign_in_failures_window_idx (window_started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Whether an agent's user was created for it (invited with it, by hand or
-- by import) rather than an existing account linked by an admin: only such
-- a user is disabled when the agent retires. An agent and the user made
-- for it are written in one transaction at one time, which tells them
-- apart in the rows already there.
ALTER TABLE agents ADD COLUMN owns_user BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE agents SET owns_user = TRUE
WHERE user_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM users WHERE users.id = agents.user_id AND users.created_at = agents.created_at);
