-- +goose Up
-- In-app notifications are read in the app: read_at is when their user
-- marked them read (NULL: unread), link the page they point to, if any.
ALTER TABLE notifications ADD COLUMN read_at TIMESTAMP;
ALTER TABLE notifications ADD COLUMN link TEXT;
-- A user's inbox, newest first, and their unread ones, which the bell of
-- every page counts: partial indexes hold only in-app rows, the second only
-- unread ones, so the count reads a handful of index entries.
CREATE INDEX notifications_inbox_idx ON notifications (user_id, created_at, id) WHERE channel = 'inapp';
CREATE INDEX notifications_unread_idx ON notifications (user_id, created_at, id) WHERE channel = 'inapp' AND read_at IS NULL;
