-- +goose Up
-- A search of the agent list reads the name index alone: it holds the
-- e-mail address too, so a search that matches few agents scans the index
-- instead of every row. The kind filter reads its own index in name order,
-- as the status filter does; the dashboard's counts read (status, presence).
ALTER TABLE agents
    DROP INDEX agents_name_idx,
    ADD INDEX agents_name_idx (sort_name, id, email),
    ADD INDEX agents_status_presence_idx (status, presence),
    ADD INDEX agents_kind_name_idx (kind, sort_name, id);
