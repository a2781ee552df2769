-- +goose Up
-- Events are read by position, never by ID; the IDs are UUIDv7 made here.
-- One index entry less for every event written.
ALTER TABLE events DROP INDEX events_id_key;
