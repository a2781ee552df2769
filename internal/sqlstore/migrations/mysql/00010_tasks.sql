-- +goose Up
-- Routing: tasks with their history, and offers. An agent's
-- workload (tasks offered or assigned to it now) and the time it was last given
-- work live on its row, where routing's conditional updates enforce
-- capacity. Free-form JSON of tasks is kept as text: it is stored and
-- returned, never searched.
ALTER TABLE agents ADD COLUMN workload INT NOT NULL DEFAULT 0, ADD COLUMN last_assigned_at DATETIME(6) NULL;
-- Candidates for a task: present, active agents with room, longest idle first.
CREATE INDEX agents_routing_idx ON agents (status, presence, last_assigned_at, id);

CREATE TABLE tasks (
    id                VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
    queue_id          VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    title             VARCHAR(200) NOT NULL,
    priority          INTEGER NOT NULL,
    required_skills   TEXT NOT NULL,
    attributes        TEXT NOT NULL,
    external_ref      VARCHAR(200),
    status            VARCHAR(16) NOT NULL,
    agent_id          VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin,
    outcome           VARCHAR(1000),
    offers            INTEGER NOT NULL DEFAULT 0,
    created_at        DATETIME(6) NOT NULL,
    offered_at        DATETIME(6),
    assigned_at       DATETIME(6),
    completed_at      DATETIME(6),
    expires_at        DATETIME(6),
    sla_breached      BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at        DATETIME(6) NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1,
    idempotency_actor VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin,
    idempotency_key   VARCHAR(200),
    request_hash      VARCHAR(64),
    CONSTRAINT tasks_external_ref_key UNIQUE (queue_id, external_ref),
    CONSTRAINT tasks_idempotency_key UNIQUE (idempotency_actor, idempotency_key),
    CONSTRAINT tasks_queue_id_fk FOREIGN KEY (queue_id) REFERENCES queues (id),
    CONSTRAINT tasks_agent_id_fk FOREIGN KEY (agent_id) REFERENCES agents (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- The next task of a queue: highest priority, then oldest.
CREATE INDEX tasks_queue_next_idx ON tasks (queue_id, status, priority DESC, created_at, id);
CREATE INDEX tasks_agent_idx ON tasks (agent_id, status);
CREATE INDEX tasks_created_idx ON tasks (created_at, id);
CREATE INDEX tasks_status_created_idx ON tasks (status, created_at, id);

CREATE TABLE task_history (
    id          VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
    task_id     VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    at          DATETIME(6) NOT NULL,
    actor_type  VARCHAR(16) NOT NULL,
    actor_id    VARCHAR(64) NOT NULL,
    actor_name  VARCHAR(254) NOT NULL,
    from_status VARCHAR(16) NOT NULL,
    to_status   VARCHAR(16) NOT NULL,
    agent_id    VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin,
    reason      VARCHAR(500) NOT NULL,
    CONSTRAINT task_history_task_id_fk FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE INDEX task_history_task_idx ON task_history (task_id, at, id);

CREATE TABLE offers (
    id           VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
    task_id      VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    agent_id     VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    status       VARCHAR(16) NOT NULL,
    created_at   DATETIME(6) NOT NULL,
    expires_at   DATETIME(6) NOT NULL,
    responded_at DATETIME(6),
    CONSTRAINT offers_task_id_fk FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE,
    CONSTRAINT offers_agent_id_fk FOREIGN KEY (agent_id) REFERENCES agents (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE INDEX offers_pending_idx ON offers (status, expires_at);
CREATE INDEX offers_task_idx ON offers (task_id, agent_id);
CREATE INDEX offers_agent_idx ON offers (agent_id, status);
