-- +goose Up
-- What reaches each user: per kind of notification, the channels they
-- chose (a comma-separated list; empty for none). A kind without a row
-- takes its default, so that a new kind reaches people before anyone
-- thinks of it.
CREATE TABLE notification_preferences (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    channels   TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, kind)
);
-- Quiet hours: local times of day and the user's IANA zone, during which
-- e-mail and SMS wait.
CREATE TABLE notification_quiet_hours (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    starts     TEXT NOT NULL,
    ends       TEXT NOT NULL,
    time_zone  TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
