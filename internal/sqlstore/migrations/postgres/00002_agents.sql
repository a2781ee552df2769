-- +goose Up
CREATE TABLE teams (
    id          VARCHAR(36) PRIMARY KEY,
    name        VARCHAR(100) NOT NULL,
    sort_name   VARCHAR(100) NOT NULL UNIQUE, -- names are unique regardless of case
    description VARCHAR(1000) NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE team_supervisors (
    team_id VARCHAR(36) NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id VARCHAR(36) NOT NULL REFERENCES users (id),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_supervisors_user_idx ON team_supervisors (user_id, team_id);

CREATE TABLE agents (
    id           VARCHAR(36) PRIMARY KEY,
    name         VARCHAR(200) NOT NULL,
    sort_name    VARCHAR(200) NOT NULL,
    kind         VARCHAR(16) NOT NULL CHECK (kind IN ('human', 'machine')),
    email        VARCHAR(254),
    phone        VARCHAR(16),
    capacity     INTEGER NOT NULL,
    status       VARCHAR(16) NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'retired')),
    presence     VARCHAR(16) NOT NULL CHECK (presence IN ('offline', 'available', 'away', 'busy')),
    user_id      VARCHAR(36) UNIQUE REFERENCES users (id),
    attributes   JSONB NOT NULL,
    notify       JSONB NOT NULL,
    metadata     JSONB NOT NULL,
    last_seen_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX agents_name_idx ON agents (sort_name, id);
CREATE INDEX agents_created_at_idx ON agents (created_at, id);
CREATE INDEX agents_status_name_idx ON agents (status, sort_name, id);
CREATE INDEX agents_email_idx ON agents (email);

CREATE TABLE agent_skills (
    agent_id VARCHAR(36) NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    skill    VARCHAR(64) NOT NULL,
    level    SMALLINT NOT NULL CHECK (level BETWEEN 1 AND 10),
    PRIMARY KEY (agent_id, skill)
);
CREATE INDEX agent_skills_skill_idx ON agent_skills (skill, level, agent_id);

CREATE TABLE team_members (
    team_id  VARCHAR(36) NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    agent_id VARCHAR(36) NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, agent_id)
);
CREATE INDEX team_members_agent_idx ON team_members (agent_id, team_id);

CREATE TABLE enrollment_keys (
    id           VARCHAR(36) PRIMARY KEY,
    name         VARCHAR(100) NOT NULL,
    prefix       VARCHAR(16) NOT NULL,
    secret_hash  CHAR(64) NOT NULL UNIQUE,
    team_id      VARCHAR(36) REFERENCES teams (id) ON DELETE SET NULL,
    auto_approve BOOLEAN NOT NULL,
    max_uses     INTEGER,
    uses         INTEGER NOT NULL DEFAULT 0,
    expires_at   TIMESTAMPTZ,
    created_by   VARCHAR(36) REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX enrollment_keys_created_at_idx ON enrollment_keys (created_at, id);

ALTER TABLE api_tokens ADD COLUMN agent_id VARCHAR(36) REFERENCES agents (id) ON DELETE CASCADE;
CREATE INDEX api_tokens_agent_idx ON api_tokens (agent_id, created_at, id);

CREATE TABLE invitations (
    id          VARCHAR(36) PRIMARY KEY,
    user_id     VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash CHAR(64) NOT NULL UNIQUE,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX invitations_user_idx ON invitations (user_id);

CREATE TABLE audit_entries (
    id          VARCHAR(36) PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor_type  VARCHAR(16) NOT NULL,
    actor_id    VARCHAR(64) NOT NULL,
    actor_name  VARCHAR(254) NOT NULL,
    action      VARCHAR(64) NOT NULL,
    target_type VARCHAR(32) NOT NULL,
    target_id   VARCHAR(64) NOT NULL,
    target_name VARCHAR(254) NOT NULL,
    before_json JSONB,
    after_json  JSONB,
    ip          VARCHAR(64) NOT NULL,
    request_id  VARCHAR(64) NOT NULL
);
CREATE INDEX audit_entries_at_idx ON audit_entries (at, id);
CREATE INDEX audit_entries_actor_idx ON audit_entries (actor_id, at, id);
CREATE INDEX audit_entries_target_idx ON audit_entries (target_id, at, id);
CREATE INDEX audit_entries_action_idx ON audit_entries (action, at, id);
