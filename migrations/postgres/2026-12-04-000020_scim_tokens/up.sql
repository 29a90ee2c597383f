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
    token_hash BYTEA NOT NULL,
    client_kind TEXT NOT NULL CHECK (client_kind IN ('desktop', 'webapp')),
    created_by_admin_id TEXT,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE UNIQUE INDEX scim_tokens_hash ON scim_tokens (token_hash);
CREATE INDEX scim_tokens_company ON scim_tokens (company_id, id);
-- What a SCIM token does is audited as the token's.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_actor_kind_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_actor_kind_check
    CHECK (actor_kind IN ('admin', 'api_client', 'operator', 'scim_token', 'user', 'system', 'anonymous'));
