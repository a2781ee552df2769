-- +goose Up
-- Routing reads the agents who may take work now, longest idle first, and
-- stops after a few. The index holds only those agents (active and
-- present), in that order, so a query reads about as many entries as it
-- returns, however many agents are offline or suspended. The two indexes
-- it replaces began with the status: the first made the planner sort every
-- present agent of the fleet, the second made it step over the absent
-- ones. Every index on agents is written again when routing moves an
-- agent's last assignment, so fewer of them make routing cheaper too.
DROP INDEX agents_routing_idx;
DROP INDEX agents_idle_idx;
CREATE INDEX agents_ready_idx ON agents (last_assigned_at, id)
    WHERE status = 'active' AND presence IN ('available', 'busy');
