-- A webapp user finishes a reset with the link's token alone: the server
-- finds the pending reset by the token's keyed hash (HMAC-SHA-256, so the
-- same token always hashes the same). Only pending resets keep a hash; the
-- index has no WHERE clause because queries bind the status as a parameter,
-- which neither database matches against a partial index's literal.
CREATE INDEX master_password_resets_secret ON master_password_resets (secret_hash);
