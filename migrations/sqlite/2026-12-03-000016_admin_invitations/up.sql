-- An invited admin's single-use link, as an invited user's: the keyed hash
-- of its token (never the token), when it expires and the outbox message
-- that carries it. An invited admin has no usable password until they
-- accept (their stored hash is of a secret nobody was ever given); sending
-- the invitation again replaces the link, accepting it clears all three.
ALTER TABLE admins ADD COLUMN invitation_hash BLOB;
ALTER TABLE admins ADD COLUMN invitation_expires_at TIMESTAMP;
ALTER TABLE admins ADD COLUMN invitation_message_id TEXT;
CREATE UNIQUE INDEX admins_invitation_hash ON admins (invitation_hash)
    WHERE invitation_hash IS NOT NULL;
