-- +goose Up
-- Longest idle first, in index order: routing reads the first few active
-- agents by the time they were last given work (never first) and stops,
-- instead of sorting every agent the queue reaches. Presence is checked on
-- the rows read; most active agents are present while they work.
CREATE INDEX agents_idle_idx ON agents (status, last_assigned_at, id);
