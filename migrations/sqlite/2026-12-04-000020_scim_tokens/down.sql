-- Refused while a SCIM token's events exist: dropping them would break the
-- partners' audit chains.
CREATE TEMP TABLE scim_events_guard (n INTEGER CHECK (n = 0));
INSERT INTO scim_events_guard SELECT COUNT(*) FROM audit_events WHERE actor_kind = 'scim_token';
DROP TABLE scim_events_guard;
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
DROP TABLE scim_tokens;
