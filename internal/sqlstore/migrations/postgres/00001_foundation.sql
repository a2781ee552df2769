-- +goose Up
CREATE TABLE users (
    id            VARCHAR(36) PRIMARY KEY,
    email         VARCHAR(254) NOT NULL UNIQUE,
    name          VARCHAR(200) NOT NULL,
    role          VARCHAR(16) NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    status        VARCHAR(16) NOT NULL CHECK (status IN ('active', 'disabled')),
    password_hash VARCHAR(255) NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1,
    auth_version  INTEGER NOT NULL DEFAULT 1,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    last_login_at TIMESTAMPTZ
);
CREATE INDEX users_created_at_idx ON users (created_at, id);
CREATE INDEX users_name_idx ON users (name, id);

CREATE TABLE api_tokens (
    id           VARCHAR(36) PRIMARY KEY,
    kind         VARCHAR(16) NOT NULL CHECK (kind IN ('personal', 'agent')),
    name         VARCHAR(100) NOT NULL,
    user_id      VARCHAR(36) REFERENCES users (id),
    prefix       VARCHAR(16) NOT NULL,
    secret_hash  CHAR(64) NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, created_at, id);

-- Failed sign-ins per e-mail address, known or not, so that throttling
-- behaves the same for both and reveals nothing.
CREATE TABLE sign_in_failures (
    email             VARCHAR(254) PRIMARY KEY,
    failures          INTEGER NOT NULL,
    window_started_at TIMESTAMPTZ NOT NULL,
    locked_until      TIMESTAMPTZ
);

CREATE INDEX sign_in_failures_window_idx ON sign_in_failures (window_started_at);

CREATE TABLE settings (
    name       VARCHAR(100) PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Browser sessions, in the layout of scs's postgresstore.
CREATE TABLE sessions (
    token  TEXT PRIMARY KEY,
    data   BYTEA NOT NULL,
    expiry TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);
