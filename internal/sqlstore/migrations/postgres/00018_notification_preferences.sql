-- +goose Up
-- What reaches each user: per kind of notification, the channels they
-- chose (a comma-separated list; empty for none). A kind without a row
-- takes its default, so that a new kind reaches people before anyone
-- thinks of it.
CREATE TABLE notification_preferences (
    user_id    VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       VARCHAR(64) NOT NULL,
    channels   VARCHAR(64) NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, kind)
);
-- Quiet hours: local times of day and the user's IANA zone, during which
-- e-mail and SMS wait.
CREATE TABLE notification_quiet_hours (
    user_id    VARCHAR(36) PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    starts     VARCHAR(5) NOT NULL,
    ends       VARCHAR(5) NOT NULL,
    time_zone  VARCHAR(64) NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
