-- +goose Up
-- The notification outbox: a row is written in the transaction of the
-- change that causes it and delivered afterwards. next_attempt_at is also
-- the lease of a claimed row: claiming pushes it past the delivery's
-- time-out, so a dispatcher that dies mid-delivery leaves the row due again
-- once the lease ends, with no separate lease column to scan.
CREATE TABLE notifications (
    id              VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
    channel         VARCHAR(16) NOT NULL,
    recipient       VARCHAR(500) NOT NULL,
    user_id         VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin,
    event_type      VARCHAR(64) NOT NULL,
    event_id        VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    subject         VARCHAR(500) NOT NULL,
    body_text       MEDIUMTEXT NOT NULL,
    body_html       MEDIUMTEXT NOT NULL,
    secret          VARCHAR(200) CHARACTER SET ascii COLLATE ascii_bin,
    secret_until    DATETIME(6),
    status          VARCHAR(16) NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6) NOT NULL,
    last_error      VARCHAR(1000),
    idempotency_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at      DATETIME(6) NOT NULL,
    sent_at         DATETIME(6),
    CONSTRAINT notifications_idempotency_key UNIQUE (idempotency_key),
    CONSTRAINT notifications_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- The dispatcher's claim: due rows of a status, oldest due first.
CREATE INDEX notifications_due_idx ON notifications (status, next_attempt_at);
-- The delivery log, newest first: everyone's, and a user's own.
CREATE INDEX notifications_created_idx ON notifications (created_at, id);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at, id);
-- Secrets past their use, to redact.
CREATE INDEX notifications_secret_idx ON notifications (secret_until);
