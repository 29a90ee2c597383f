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
-- The operator's actions are audited as the operator's.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_actor_kind_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_actor_kind_check
    CHECK (actor_kind IN ('admin', 'api_client', 'operator', 'user', 'system', 'anonymous'));
