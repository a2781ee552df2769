-- +goose Up
-- Routing reads present, active agents longest idle first from
-- agents_idle_idx, stopping after a few (MySQL has no partial indexes to
-- hold only them). The index on (status, presence, last assigned) did not
-- give that order for two presences and went unused; it is dropped, one
-- fewer index to write each time routing moves an agent's last assignment.
DROP INDEX agents_routing_idx ON agents;
