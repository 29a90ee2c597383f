DROP INDEX admins_invitation_hash;
ALTER TABLE admins DROP COLUMN invitation_message_id;
ALTER TABLE admins DROP COLUMN invitation_expires_at;
ALTER TABLE admins DROP COLUMN invitation_hash;
