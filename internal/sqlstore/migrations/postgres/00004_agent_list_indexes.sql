-- +goose Up
-- A search of the agent list can read the name index alone: it carries the
-- e-mail address too. The kind filter reads its own index in name order, as
-- the status filter does; the dashboard's counts read (status, presence).
DROP INDEX agents_name_idx;
CREATE INDEX agents_name_idx ON agents (sort_name, id) INCLUDE (email);
CREATE INDEX agents_status_presence_idx ON agents (status, presence);
CREATE INDEX agents_kind_name_idx ON agents (kind, sort_name, id);
