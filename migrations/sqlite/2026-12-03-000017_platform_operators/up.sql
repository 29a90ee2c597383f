-- The platform operator: the vendor's staff, who create, suspend and list
-- partners and never see inside one. An operator signs in with an email
-- (unique across the deployment: operators are not in any partner) and a
-- password stored as an argon2id PHC string; bumping the token generation
-- refuses every token issued before.
CREATE TABLE operators (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    token_generation BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX operators_email ON operators (email);
-- A suspended partner: every token of its admins, API clients and users is
-- refused from this moment, and none signs in, until it is reactivated.
ALTER TABLE partners ADD COLUMN suspended_at TIMESTAMP;
-- The operator's actions are audited as the operator's: SQLite changes a
-- CHECK constraint only by rebuilding the table (no other table refers to
-- it, and the rows are copied as they are, hashes and all).
CREATE TABLE audit_events_next (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL
        CHECK (actor_kind IN ('admin', 'api_client', 'operator', 'user', 'system', 'anonymous')),
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
