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
