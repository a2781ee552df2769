-- +goose Up
CREATE TABLE teams (
    id          VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    name        VARCHAR(100) NOT NULL,
    sort_name   VARCHAR(100) COLLATE utf8mb4_bin NOT NULL, -- names are unique regardless of case
    description VARCHAR(1000) NOT NULL DEFAULT '',
    created_at  DATETIME(6) NOT NULL,
    updated_at  DATETIME(6) NOT NULL,
    version     INT NOT NULL DEFAULT 1,
    UNIQUE KEY teams_sort_name_key (sort_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE team_supervisors (
    team_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (team_id, user_id),
    KEY team_supervisors_user_idx (user_id, team_id),
    CONSTRAINT team_supervisors_team_fk FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE CASCADE,
    CONSTRAINT team_supervisors_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE agents (
    id           VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    name         VARCHAR(200) NOT NULL,
    sort_name    VARCHAR(200) NOT NULL,
    kind         VARCHAR(16) NOT NULL,
    email        VARCHAR(254) NULL,
    phone        VARCHAR(16) NULL,
    capacity     INT NOT NULL,
    status       VARCHAR(16) NOT NULL,
    presence     VARCHAR(16) NOT NULL,
    user_id      VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    attributes   JSON NOT NULL,
    notify       JSON NOT NULL,
    metadata     JSON NOT NULL,
    last_seen_at DATETIME(6) NULL,
    created_at   DATETIME(6) NOT NULL,
    updated_at   DATETIME(6) NOT NULL,
    version      INT NOT NULL DEFAULT 1,
    UNIQUE KEY agents_user_key (user_id),
    KEY agents_name_idx (sort_name, id),
    KEY agents_created_at_idx (created_at, id),
    KEY agents_status_name_idx (status, sort_name, id),
    KEY agents_email_idx (email),
    CONSTRAINT agents_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT agents_kind_check CHECK (kind IN ('human', 'machine')),
    CONSTRAINT agents_status_check CHECK (status IN ('pending', 'active', 'suspended', 'retired')),
    CONSTRAINT agents_presence_check CHECK (presence IN ('offline', 'available', 'away', 'busy'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE agent_skills (
    agent_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    skill    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    level    SMALLINT NOT NULL,
    PRIMARY KEY (agent_id, skill),
    KEY agent_skills_skill_idx (skill, level, agent_id),
    CONSTRAINT agent_skills_agent_fk FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE CASCADE,
    CONSTRAINT agent_skills_level_check CHECK (level BETWEEN 1 AND 10)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE team_members (
    team_id  VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    agent_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (team_id, agent_id),
    KEY team_members_agent_idx (agent_id, team_id),
    CONSTRAINT team_members_team_fk FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE CASCADE,
    CONSTRAINT team_members_agent_fk FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE enrollment_keys (
    id           VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    name         VARCHAR(100) NOT NULL,
    prefix       VARCHAR(16) NOT NULL,
    secret_hash  CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    team_id      VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    auto_approve BOOLEAN NOT NULL,
    max_uses     INT NULL,
    uses         INT NOT NULL DEFAULT 0,
    expires_at   DATETIME(6) NULL,
    created_by   VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    created_at   DATETIME(6) NOT NULL,
    revoked_at   DATETIME(6) NULL,
    UNIQUE KEY enrollment_keys_secret_hash_key (secret_hash),
    KEY enrollment_keys_created_at_idx (created_at, id),
    CONSTRAINT enrollment_keys_team_fk FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE SET NULL,
    CONSTRAINT enrollment_keys_user_fk FOREIGN KEY (created_by) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE api_tokens
    ADD COLUMN agent_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    ADD KEY api_tokens_agent_idx (agent_id, created_at, id),
    ADD CONSTRAINT api_tokens_agent_fk FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE CASCADE;

CREATE TABLE invitations (
    id          VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id     VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    secret_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    expires_at  DATETIME(6) NOT NULL,
    used_at     DATETIME(6) NULL,
    created_at  DATETIME(6) NOT NULL,
    UNIQUE KEY invitations_secret_hash_key (secret_hash),
    KEY invitations_user_idx (user_id),
    CONSTRAINT invitations_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE audit_entries (
    id          VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    at          DATETIME(6) NOT NULL,
    actor_type  VARCHAR(16) NOT NULL,
    actor_id    VARCHAR(64) NOT NULL,
    actor_name  VARCHAR(254) NOT NULL,
    action      VARCHAR(64) NOT NULL,
    target_type VARCHAR(32) NOT NULL,
    target_id   VARCHAR(64) NOT NULL,
    target_name VARCHAR(254) NOT NULL,
    before_json JSON NULL,
    after_json  JSON NULL,
    ip          VARCHAR(64) NOT NULL,
    request_id  VARCHAR(64) NOT NULL,
    KEY audit_entries_at_idx (at, id),
    KEY audit_entries_actor_idx (actor_id, at, id),
    KEY audit_entries_target_idx (target_id, at, id),
    KEY audit_entries_action_idx (action, at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
