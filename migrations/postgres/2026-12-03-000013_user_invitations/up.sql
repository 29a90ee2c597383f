-- An invited user's single-use link: the keyed hash of its token (never the
-- token), when it expires and the outbox message that carries it. Sending
-- the invitation again replaces them, so the earlier link dies (and its
-- email is withdrawn when not sent yet); accepting it clears them. The
-- partner sets how long an invitation lives (7 days unless changed).
ALTER TABLE users ADD COLUMN invitation_hash BYTEA;
ALTER TABLE users ADD COLUMN invitation_expires_at TIMESTAMP;
ALTER TABLE users ADD COLUMN invitation_message_id TEXT;
CREATE UNIQUE INDEX users_invitation_hash ON users (invitation_hash)
    WHERE invitation_hash IS NOT NULL;
ALTER TABLE partners ADD COLUMN invitation_ttl_seconds BIGINT NOT NULL DEFAULT 604800;
