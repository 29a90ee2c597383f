-- An end user's email is unique within their company, not across the
-- partner: whether a technician (or a company's SCIM client) may add a user
-- must never depend on companies outside its reach. Sign-in names the
-- partner and the email, and the company when the email has accounts at
-- several of the partner's companies.
--
-- SQLite cannot drop a table's UNIQUE: the table is rebuilt as SQLite
-- documents it (https://www.sqlite.org/lang_altertable.html, "other kinds
-- of table schema changes"), with foreign keys off so that dropping the old
-- table does not cascade to vault items and resets, and checked before the
-- commit.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE users_rebuilt (
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
    search_text TEXT NOT NULL GENERATED ALWAYS AS (email || char(10) || lower(name)) VIRTUAL,
    UNIQUE (company_id, email),
    UNIQUE (id, partner_id),
    FOREIGN KEY (company_id, partner_id) REFERENCES companies (id, partner_id) ON DELETE CASCADE
);
INSERT INTO users_rebuilt (id, partner_id, company_id, email, name, client_kind, locale, is_primary,
        status, auth_key_hash, kdf_params, encrypted_vault_key, recovery_key_verifier,
        recovery_wrapped_vault_key, token_generation, last_reset_at, created_at, updated_at)
    SELECT id, partner_id, company_id, email, name, client_kind, locale, is_primary,
        status, auth_key_hash, kdf_params, encrypted_vault_key, recovery_key_verifier,
        recovery_wrapped_vault_key, token_generation, last_reset_at, created_at, updated_at
    FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;
CREATE INDEX users_company ON users (company_id, id);
CREATE INDEX users_partner_id ON users (partner_id, id);
CREATE INDEX users_partner_email ON users (partner_id, email);
-- A row pointing nowhere fails the migration (the CHECK) rather than land.
CREATE TEMPORARY TABLE users_rebuild_check (orphans INTEGER CHECK (orphans = 0));
INSERT INTO users_rebuild_check SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE users_rebuild_check;
COMMIT;
PRAGMA foreign_keys = ON;
