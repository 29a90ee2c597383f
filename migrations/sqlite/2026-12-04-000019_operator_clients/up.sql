-- The platform operator's automation: OAuth 2.0 clients that sign in with
-- client credentials at POST /v1/operator/token and manage partners as the
-- operator's staff do, and never manage credentials. The secret is kept
-- only as its keyed hash (HMAC-SHA-256 under a server key); removing the
-- row refuses the client's tokens at once.
CREATE TABLE operator_clients (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    created_by_operator_id TEXT,
    created_at TIMESTAMP NOT NULL
);
