ALTER TABLE partners DROP COLUMN invitation_ttl_seconds;
DROP INDEX users_invitation_hash;
ALTER TABLE users DROP COLUMN invitation_message_id;
ALTER TABLE users DROP COLUMN invitation_expires_at;
ALTER TABLE users DROP COLUMN invitation_hash;
