-- +goose Up
-- Sessions are now stored under the SHA-256 of their token. Sessions
-- stored under the token itself can no longer be found: remove them, which
-- signs every browser out once.
DELETE FROM sessions;
