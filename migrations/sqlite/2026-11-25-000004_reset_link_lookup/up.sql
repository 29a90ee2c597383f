-- A webapp user finishes a reset with the link's token alone: the server
-- finds the pending reset by the token's keyed hash (HMAC-SHA-256, so the
-- same token always hashes the same). Only pending resets keep a hash.
CREATE INDEX master_password_resets_secret ON master_password_resets (secret_hash)
    WHERE status = 'pending_user_action';
