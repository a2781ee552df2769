-- +goose Up
-- What reaches each user: per kind of notification, the channels they
-- chose (a comma-separated list; empty for none). A kind without a row
-- takes its default, so that a new kind reaches people before anyone
-- thinks of it.
CREATE TABLE notification_preferences (
    user_id    VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind       VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    channels   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, kind),
    CONSTRAINT notification_preferences_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- Quiet hours: local times of day and the user's IANA zone, during which
-- e-mail and SMS wait.
CREATE TABLE notification_quiet_hours (
    user_id    VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    starts     VARCHAR(5) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    ends       VARCHAR(5) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    time_zone  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    CONSTRAINT notification_quiet_hours_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
