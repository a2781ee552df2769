-- +goose Up
CREATE TABLE users (
    id            VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    email         VARCHAR(254) COLLATE utf8mb4_bin NOT NULL,
    name          VARCHAR(200) NOT NULL,
    role          VARCHAR(16) NOT NULL,
    status        VARCHAR(16) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    version       INT NOT NULL DEFAULT 1,
    auth_version  INT NOT NULL DEFAULT 1,
    created_at    DATETIME(6) NOT NULL,
    updated_at    DATETIME(6) NOT NULL,
    last_login_at DATETIME(6) NULL,
    UNIQUE KEY users_email_key (email),
    KEY users_created_at_idx (created_at, id),
    KEY users_name_idx (name, id),
    CONSTRAINT users_role_check CHECK (role IN ('admin', 'supervisor', 'agent')),
    CONSTRAINT users_status_check CHECK (status IN ('active', 'disabled'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE api_tokens (
    id           VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    kind         VARCHAR(16) NOT NULL,
    name         VARCHAR(100) NOT NULL,
    user_id      VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    prefix       VARCHAR(16) NOT NULL,
    secret_hash  CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at   DATETIME(6) NOT NULL,
    expires_at   DATETIME(6) NULL,
    last_used_at DATETIME(6) NULL,
    revoked_at   DATETIME(6) NULL,
    UNIQUE KEY api_tokens_secret_hash_key (secret_hash),
    KEY api_tokens_user_idx (user_id, created_at, id),
    CONSTRAINT api_tokens_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT api_tokens_kind_check CHECK (kind IN ('personal', 'agent'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Failed sign-ins per e-mail address, known or not, so that throttling
-- behaves the same for both and reveals nothing.
CREATE TABLE sign_in_failures (
    email             VARCHAR(254) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    failures          INT NOT NULL,
    window_started_at DATETIME(6) NOT NULL,
    locked_until      DATETIME(6) NULL,
    KEY sign_in_failures_window_idx (window_started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE settings (
    name       VARCHAR(100) NOT NULL PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Browser sessions, in the layout of scs's mysqlstore.
CREATE TABLE sessions (
    token  CHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    data   BLOB NOT NULL,
    expiry TIMESTAMP(6) NOT NULL,
    KEY sessions_expiry_idx (expiry)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
