-- +goose Up
-- A search of the agent list reads the name index alone: it holds the
-- e-mail address too, so a search that matches few agents scans the index
-- instead of every row. The kind filter reads its own index in name order,
-- as the status filter does; the dashboard's counts read (status, presence).
DROP INDEX agents_name_idx;
CREATE INDEX agents_name_idx ON agents (sort_name, id, email);
CREATE INDEX agents_status_presence_idx ON agents (status, presence);
CREATE INDEX agents_kind_name_idx ON agents (kind, sort_name, id);
