-- +goose Up
-- Every change of a task's or an offer's status writes a new version of its
-- row, and every index of the table gets an entry for that version: about
-- twenty index entries per task that no query reads. These indexes keep
-- only the rows their queries can ask for.
--
-- External references and idempotency keys are optional: the rows without
-- one stay out of the indexes that make them unique. A query for a key
-- (= ?) implies it is not null, so it still finds the partial index.
ALTER TABLE tasks DROP CONSTRAINT tasks_external_ref_key;
CREATE UNIQUE INDEX tasks_external_ref_key ON tasks (queue_id, external_ref) WHERE external_ref IS NOT NULL;
ALTER TABLE tasks DROP CONSTRAINT tasks_idempotency_key;
CREATE UNIQUE INDEX tasks_idempotency_key ON tasks (idempotency_actor, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- A queued task has no agent yet. The index still serves the foreign key's
-- check when an agent is deleted (agent_id = ? implies not null).
DROP INDEX tasks_agent_idx;
CREATE INDEX tasks_agent_idx ON tasks (agent_id, status) WHERE agent_id IS NOT NULL;
-- Pending offers are the only ones read by status: the timeout sweeper's
-- and the metrics' queries. An offer leaves this index once answered.
DROP INDEX offers_pending_idx;
CREATE INDEX offers_pending_idx ON offers (expires_at) WHERE status = 'pending';
-- Events are read by position, never by ID; the IDs are UUIDv7 made here.
ALTER TABLE events DROP CONSTRAINT events_id_key;

