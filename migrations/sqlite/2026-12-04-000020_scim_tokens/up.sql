-- A company's SCIM provisioning tokens: a directory (Entra ID, Okta,
-- JumpCloud) creates, changes, disables and removes the company's users
-- with one. The token is shown once and kept only as its keyed hash
-- (HMAC-SHA-256 under a server key), unique so a request finds its token by
-- it; removing the row, the company or the partner refuses it at once.
-- `client_kind` is what the directory's users get (desktop or webapp).
CREATE TABLE scim_tokens (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    client_kind TEXT NOT NULL CHECK (client_kind IN ('desktop', 'webapp')),
    created_by_admin_id TEXT,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE UNIQUE INDEX scim_tokens_hash ON scim_tokens (token_hash);
CREATE INDEX scim_tokens_company ON scim_tokens (company_id, id);
-- What a SCIM token does is audited as the token's: SQLite changes a CHECK
-- constraint only by rebuilding the table (rows copied as they are).
CREATE TABLE audit_events_next (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL
        CHECK (actor_kind IN ('admin', 'api_client', 'operator', 'scim_token', 'user', 'system', 'anonymous')),
    actor_id TEXT,
    action TEXT NOT NULL,
    target_kind TEXT,
    target_id TEXT,
    decision TEXT NOT NULL CHECK (decision IN ('allow', 'deny')),
    policy_ids TEXT NOT NULL DEFAULT '[]',
    request_id TEXT,
    details TEXT NOT NULL DEFAULT '{}',
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    UNIQUE (partner_id, seq)
);
INSERT INTO audit_events_next (id, partner_id, seq, occurred_at, actor_kind, actor_id, action, target_kind, target_id, decision, policy_ids, request_id, details, prev_hash, hash) SELECT id, partner_id, seq, occurred_at, actor_kind, actor_id, action, target_kind, target_id, decision, policy_ids, request_id, details, prev_hash, hash FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_next RENAME TO audit_events;
CREATE INDEX audit_events_time ON audit_events (partner_id, occurred_at, seq);
CREATE INDEX audit_events_actor ON audit_events (partner_id, actor_id, seq);
CREATE INDEX audit_events_target ON audit_events (partner_id, target_id, seq);
CREATE INDEX audit_events_action ON audit_events (partner_id, action, seq);
