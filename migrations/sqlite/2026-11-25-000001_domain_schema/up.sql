-- The whole Custodian domain schema. migrations/postgres holds the same tables
-- and columns (a test compares the two trees); only column types differ where
-- the backends differ (BLOB here, BYTEA there).
--
-- Conventions: ids are UUID strings (TEXT); every time is UTC in a TIMESTAMP
-- column; enumerations are TEXT with a CHECK; a row that belongs to a partner
-- references its parent by (id, partner_id), so it can never point into
-- another tenant; secrets are never stored in plaintext (argon2id PHC strings
-- for secrets people choose, HMAC-SHA-256 for drawn ones, AEAD for what must
-- be read back).

CREATE TABLE partners (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    links_for_everyone BOOLEAN NOT NULL DEFAULT FALSE,
    temporary_secret_ttl_seconds BIGINT NOT NULL DEFAULT 259200
        CHECK (temporary_secret_ttl_seconds BETWEEN 300 AND 2592000),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE companies (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (id, partner_id)
);
CREATE INDEX companies_partner_name ON companies (partner_id, name, id);

-- Portal operators. The email is the sign-in name, unique across partners.
CREATE TABLE admins (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'technician')),
    password_hash TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE,
    token_generation BIGINT NOT NULL DEFAULT 0,
    locale TEXT NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'fr', 'de', 'es', 'it', 'nl', 'ja')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (id, partner_id)
);
CREATE INDEX admins_partner ON admins (partner_id, id);

-- The companies a technician is assigned to.
CREATE TABLE admin_companies (
    admin_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    PRIMARY KEY (admin_id, company_id),
    FOREIGN KEY (admin_id, partner_id) REFERENCES admins (id, partner_id) ON DELETE CASCADE,
    FOREIGN KEY (company_id, partner_id) REFERENCES companies (id, partner_id) ON DELETE CASCADE
);
CREATE INDEX admin_companies_company ON admin_companies (company_id);

-- Integration credentials (OAuth2 client credentials). The id is the client id.
CREATE TABLE api_clients (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    scopes TEXT NOT NULL,
    token_generation BIGINT NOT NULL DEFAULT 0,
    created_by_admin_id TEXT,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    UNIQUE (id, partner_id)
);
CREATE INDEX api_clients_partner ON api_clients (partner_id, id);

-- The companies an API client is limited to (none: all of its partner's).
CREATE TABLE api_client_companies (
    api_client_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    PRIMARY KEY (api_client_id, company_id),
    FOREIGN KEY (api_client_id, partner_id) REFERENCES api_clients (id, partner_id) ON DELETE CASCADE,
    FOREIGN KEY (company_id, partner_id) REFERENCES companies (id, partner_id) ON DELETE CASCADE
);
CREATE INDEX api_client_companies_company ON api_client_companies (company_id);

-- One per company. `version` is the source of the profile's ETag.
CREATE TABLE backup_profiles (
    company_id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL,
    backup_all_company_items BOOLEAN NOT NULL DEFAULT FALSE,
    retention_days INTEGER NOT NULL DEFAULT 90 CHECK (retention_days BETWEEN 1 AND 3650),
    backup_public_key TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    updated_at TIMESTAMP NOT NULL,
    FOREIGN KEY (company_id, partner_id) REFERENCES companies (id, partner_id) ON DELETE CASCADE
);

-- End users. The server keeps only an argon2id hash of the authentication key
-- the client derives from the master password, and ciphertext it cannot open.
CREATE TABLE users (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    client_kind TEXT NOT NULL CHECK (client_kind IN ('desktop', 'webapp')),
    locale TEXT NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'fr', 'de', 'es', 'it', 'nl', 'ja')),
    is_primary BOOLEAN NOT NULL DEFAULT FALSE,
    status TEXT NOT NULL DEFAULT 'invited'
        CHECK (status IN ('invited', 'active', 'reset_pending', 'disabled')),
    auth_key_hash TEXT,
    kdf_params TEXT,
    encrypted_vault_key BLOB,
    recovery_key_verifier BLOB,
    recovery_wrapped_vault_key BLOB,
    token_generation BIGINT NOT NULL DEFAULT 0,
    last_reset_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (partner_id, email),
    UNIQUE (id, partner_id),
    FOREIGN KEY (company_id, partner_id) REFERENCES companies (id, partner_id) ON DELETE CASCADE
);
CREATE INDEX users_company ON users (company_id, id);
CREATE INDEX users_partner_name ON users (partner_id, name, id);

-- Opaque ciphertext owned by a user. The item id is chosen by the client.
CREATE TABLE vault_items (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    profile TEXT NOT NULL CHECK (profile IN ('personal', 'company')),
    revision BIGINT NOT NULL CHECK (revision >= 1),
    ciphertext BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, item_id)
);

-- A company-profile item's ciphertext encrypted to the company's backup key.
-- Copies outlive their item (and its user) for the company's retention days.
CREATE TABLE backup_copies (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    revision BIGINT NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    item_removed_at TIMESTAMP,
    removal_reason TEXT CHECK (removal_reason IN ('deleted', 'purged')),
    expires_at TIMESTAMP,
    UNIQUE (user_id, item_id, revision),
    FOREIGN KEY (company_id, partner_id) REFERENCES companies (id, partner_id) ON DELETE CASCADE
);
CREATE INDEX backup_copies_company ON backup_copies (company_id, created_at, id);
CREATE INDEX backup_copies_expires ON backup_copies (expires_at);

CREATE TABLE reset_batches (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    requested_by_kind TEXT NOT NULL CHECK (requested_by_kind IN ('admin', 'api_client')),
    requested_by_id TEXT NOT NULL,
    acknowledge_company_data_loss BOOLEAN NOT NULL,
    reason TEXT,
    ticket TEXT,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed')),
    total INTEGER NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP
);
CREATE INDEX reset_batches_partner ON reset_batches (partner_id, created_at);

-- One master password reset of one user. The secret is kept only as an
-- HMAC-SHA-256 under the server key, and only while it can still be used.
CREATE TABLE master_password_resets (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    batch_id TEXT REFERENCES reset_batches (id) ON DELETE SET NULL,
    status TEXT NOT NULL
        CHECK (status IN ('pending_user_action', 'completed', 'superseded', 'expired')),
    delivery_kind TEXT NOT NULL CHECK (delivery_kind IN ('temporary_password', 'link')),
    secret_hash BLOB,
    secret_expires_at TIMESTAMP NOT NULL,
    personal_items_purged BIGINT NOT NULL,
    company_items_purged BIGINT NOT NULL,
    company_items_preserved BIGINT NOT NULL,
    acknowledged_company_data_loss BOOLEAN NOT NULL,
    reason TEXT,
    ticket TEXT,
    requested_by_kind TEXT NOT NULL CHECK (requested_by_kind IN ('admin', 'api_client')),
    requested_by_id TEXT NOT NULL,
    outbox_message_id TEXT,
    reissue_count INTEGER NOT NULL DEFAULT 0,
    superseded_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    FOREIGN KEY (user_id, partner_id) REFERENCES users (id, partner_id) ON DELETE CASCADE
);
CREATE INDEX master_password_resets_user ON master_password_resets (user_id, created_at);
CREATE INDEX master_password_resets_partner ON master_password_resets (partner_id, created_at, id);
CREATE INDEX master_password_resets_company ON master_password_resets (company_id, created_at);
-- At most one pending reset per user: two racing resets cannot both purge.
CREATE UNIQUE INDEX master_password_resets_one_pending ON master_password_resets (user_id)
    WHERE status = 'pending_user_action';

-- The per-user results of a batch.
CREATE TABLE reset_batch_items (
    batch_id TEXT NOT NULL REFERENCES reset_batches (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'succeeded', 'failed')),
    reset_id TEXT REFERENCES master_password_resets (id) ON DELETE SET NULL,
    error_code TEXT,
    error_detail TEXT,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (batch_id, user_id)
);

-- Emails to send, written in the transaction of the change that causes them.
-- A payload that carries a secret is AEAD ciphertext, erased once the SMTP
-- server accepts the message or it is dead-lettered.
CREATE TABLE outbox_messages (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    template TEXT NOT NULL,
    locale TEXT NOT NULL CHECK (locale IN ('en', 'fr', 'de', 'es', 'it', 'nl', 'ja')),
    recipient TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    payload_ciphertext BLOB,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'retrying', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    locked_by TEXT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    dead_at TIMESTAMP
);
CREATE INDEX outbox_messages_due ON outbox_messages (status, next_attempt_at);

-- Append-only, hash-chained per partner (`seq` numbers the chain; events that
-- belong to no partner, such as a sign-in for an unknown account, go to the
-- chain of the nil UUID). No foreign key: the log outlives what it names.
CREATE TABLE audit_events (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL
        CHECK (actor_kind IN ('admin', 'api_client', 'user', 'system', 'anonymous')),
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
CREATE INDEX audit_events_time ON audit_events (partner_id, occurred_at, seq);
CREATE INDEX audit_events_actor ON audit_events (partner_id, actor_id, seq);
CREATE INDEX audit_events_target ON audit_events (partner_id, target_id, seq);
CREATE INDEX audit_events_action ON audit_events (partner_id, action, seq);

-- Retried mutations answer with their first result.
CREATE TABLE idempotency_keys (
    partner_id TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_fingerprint BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')),
    response_status INTEGER,
    response_body BLOB,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (partner_id, principal_id, idempotency_key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- JWT signing keys. The private key is AEAD ciphertext under the server key; a
-- retired key no longer signs but verifies until `verify_until`.
CREATE TABLE signing_keys (
    kid TEXT NOT NULL PRIMARY KEY,
    algorithm TEXT NOT NULL CHECK (algorithm IN ('EdDSA', 'ES256')),
    private_key_ciphertext BLOB NOT NULL,
    public_key BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP,
    verify_until TIMESTAMP
);
