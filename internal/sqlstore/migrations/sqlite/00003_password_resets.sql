-- +goose Up
-- A single-use link now either invites a new user or resets a lost password.
ALTER TABLE invitations ADD COLUMN kind VARCHAR(16) NOT NULL DEFAULT 'invitation';
