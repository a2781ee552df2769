-- +goose Up
-- The notification outbox: a row is written in the transaction of the
-- change that causes it and delivered afterwards. next_attempt_at is also
-- the lease of a claimed row: claiming pushes it past the delivery's
-- time-out, so a dispatcher that dies mid-delivery leaves the row due again
-- once the lease ends, with no separate lease column to scan.
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'webhook', 'inapp')),
    recipient       TEXT NOT NULL,
    user_id         TEXT REFERENCES users (id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    secret          TEXT,
    secret_until    TIMESTAMP,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'failed', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error      TEXT,
    idempotency_key TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    CONSTRAINT notifications_idempotency_key UNIQUE (idempotency_key)
);
-- The dispatcher's claim: due rows of a status, oldest due first.
CREATE INDEX notifications_due_idx ON notifications (status, next_attempt_at);
-- The delivery log, newest first: everyone's, and a user's own.
CREATE INDEX notifications_created_idx ON notifications (created_at, id);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at, id);
-- Secrets past their use, to redact.
CREATE INDEX notifications_secret_idx ON notifications (secret_until);
