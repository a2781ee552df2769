-- +goose Up
-- Per-address throttles (sign-in, enrollment) shared by every instance:
-- one token bucket per key, kept as the time its next attempt is due.
CREATE TABLE throttles (
    bucket_key VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    tat        DATETIME(6) NOT NULL,
    KEY throttles_tat_idx (tat)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
