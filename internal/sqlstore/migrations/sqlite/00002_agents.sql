-- +goose Up
CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    sort_name   TEXT NOT NULL UNIQUE, -- names are unique regardless of case
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE team_supervisors (
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_supervisors_user_idx ON team_supervisors (user_id, team_id);

CREATE TABLE agents (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    sort_name    TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('human', 'machine')),
    email        TEXT,
    phone        TEXT,
    capacity     INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'retired')),
    presence     TEXT NOT NULL CHECK (presence IN ('offline', 'available', 'away', 'busy')),
    user_id      TEXT UNIQUE REFERENCES users (id),
    attributes   TEXT NOT NULL,
    notify       TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    last_seen_at TIMESTAMP,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX agents_name_idx ON agents (sort_name, id);
CREATE INDEX agents_created_at_idx ON agents (created_at, id);
CREATE INDEX agents_status_name_idx ON agents (status, sort_name, id);
CREATE INDEX agents_email_idx ON agents (email);

CREATE TABLE agent_skills (
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    skill    TEXT NOT NULL,
    level    INTEGER NOT NULL CHECK (level BETWEEN 1 AND 10),
    PRIMARY KEY (agent_id, skill)
);
CREATE INDEX agent_skills_skill_idx ON agent_skills (skill, level, agent_id);

CREATE TABLE team_members (
    team_id  TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, agent_id)
);
CREATE INDEX team_members_agent_idx ON team_members (agent_id, team_id);

CREATE TABLE enrollment_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    team_id      TEXT REFERENCES teams (id) ON DELETE SET NULL,
    auto_approve BOOLEAN NOT NULL,
    max_uses     INTEGER,
    uses         INTEGER NOT NULL DEFAULT 0,
    expires_at   TIMESTAMP,
    created_by   TEXT REFERENCES users (id),
    created_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP
);
CREATE INDEX enrollment_keys_created_at_idx ON enrollment_keys (created_at, id);

ALTER TABLE api_tokens ADD COLUMN agent_id TEXT REFERENCES agents (id) ON DELETE CASCADE;
CREATE INDEX api_tokens_agent_idx ON api_tokens (agent_id, created_at, id);

CREATE TABLE invitations (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL UNIQUE,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX invitations_user_idx ON invitations (user_id);

CREATE TABLE audit_entries (
    id          TEXT PRIMARY KEY,
    at          TIMESTAMP NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    target_name TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT,
    ip          TEXT NOT NULL,
    request_id  TEXT NOT NULL
);
CREATE INDEX audit_entries_at_idx ON audit_entries (at, id);
CREATE INDEX audit_entries_actor_idx ON audit_entries (actor_id, at, id);
CREATE INDEX audit_entries_target_idx ON audit_entries (target_id, at, id);
CREATE INDEX audit_entries_action_idx ON audit_entries (action, at, id);
