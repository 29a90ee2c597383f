-- Sign-in throttling shared by every instance on this database: one row per
-- counted thing (an account on one sign-in path, a client address, an
-- account's known place), named by a keyed hash so that the table holds no
-- email, id or address in the clear. A row is dead once `expires_at` passes
-- and is swept every minute. SQLite deployments are one process and keep
-- these counts in memory; the table exists there too so both trees keep the
-- same shape.
CREATE TABLE sign_in_throttle (
    key BLOB NOT NULL PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sign_in_throttle_expires ON sign_in_throttle (expires_at);
