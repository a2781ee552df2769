-- +goose Up
-- Webhook endpoints. The secret is kept as given, not hashed: the sender
-- needs it to sign every delivery. events is a JSON array of the event
-- types (or families, or *) the endpoint subscribes to. A deleted endpoint
-- keeps its row, without its secret (deleted_at set): every instance fans
-- events out from a list of endpoints it reads every few seconds, and a
-- delivery it writes to an endpoint deleted meanwhile must still have a
-- row to refer to, or the change that caused it would fail.
CREATE TABLE webhooks (
    id          VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
    url         VARCHAR(500) NOT NULL,
    events      TEXT NOT NULL,
    secret      VARCHAR(200) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    active      BOOLEAN NOT NULL,
    description VARCHAR(500) NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    updated_at  DATETIME(6) NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    deleted_at  DATETIME(6) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE INDEX webhooks_created_idx ON webhooks (created_at, id);

-- A delivery's endpoint. The sender gives up the deliveries of a deleted
-- endpoint still waiting; the log keeps them all.
ALTER TABLE notifications ADD COLUMN webhook_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    ADD CONSTRAINT notifications_webhook_id_fk FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE SET NULL;
-- An endpoint's recent deliveries, newest first.
CREATE INDEX notifications_webhook_idx ON notifications (webhook_id, created_at, id);
