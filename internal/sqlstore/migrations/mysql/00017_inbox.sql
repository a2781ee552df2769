-- +goose Up
-- In-app notifications are read in the app: read_at is when their user
-- marked them read (NULL: unread), link the page they point to, if any.
ALTER TABLE notifications ADD COLUMN read_at DATETIME(6), ADD COLUMN link VARCHAR(2000);
-- A user's inbox, newest first, and their unread ones, which the bell of
-- every page counts. MariaDB has no partial indexes: channel and read_at
-- lead instead (read_at IS NULL is an equality to an index), so the count
-- reads only the user's unread in-app entries.
CREATE INDEX notifications_inbox_idx ON notifications (user_id, channel, created_at, id);
CREATE INDEX notifications_unread_idx ON notifications (user_id, channel, read_at, created_at, id);
