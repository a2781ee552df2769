-- +goose Up
-- The notification outbox: a row is written in the transaction of the
-- change that causes it and delivered afterwards. next_attempt_at is also
-- the lease of a claimed row: claiming pushes it past the delivery's
-- time-out, so a dispatcher that dies mid-delivery leaves the row due again
-- once the lease ends, with no separate lease column to scan.
CREATE TABLE notifications (
    id              VARCHAR(36) PRIMARY KEY,
    channel         VARCHAR(16) NOT NULL CHECK (channel IN ('email', 'sms', 'webhook', 'inapp')),
    recipient       VARCHAR(500) NOT NULL,
    user_id         VARCHAR(36) REFERENCES users (id) ON DELETE CASCADE,
    event_type      VARCHAR(64) NOT NULL,
    event_id        VARCHAR(36) NOT NULL,
    subject         VARCHAR(500) NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    secret          VARCHAR(200),
    secret_until    TIMESTAMPTZ,
    status          VARCHAR(16) NOT NULL CHECK (status IN ('pending', 'failed', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      VARCHAR(1000),
    idempotency_key VARCHAR(64) NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ,
    CONSTRAINT notifications_idempotency_key UNIQUE (idempotency_key)
);
-- The dispatcher's claim: due rows of a status, oldest due first.
CREATE INDEX notifications_due_idx ON notifications (status, next_attempt_at);
-- The delivery log, newest first: everyone's, and a user's own.
CREATE INDEX notifications_created_idx ON notifications (created_at, id);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at, id);
-- Secrets past their use, to redact: only rows that still hold one.
CREATE INDEX notifications_secret_idx ON notifications (secret_until) WHERE secret IS NOT NULL;
