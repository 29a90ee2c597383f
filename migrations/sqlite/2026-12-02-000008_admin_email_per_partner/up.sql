-- An admin's email is unique within their partner, not across partners:
-- whether one MSP may add an admin must never depend on another MSP's
-- admins (that answer was an oracle, and a way to squat sign-in names).
-- Sign-in names the partner with the email.
--
-- SQLite cannot drop a column's UNIQUE: the table is built anew. Migrations
-- run in a transaction with foreign keys on, so dropping the old table
-- would cascade to the technicians' company assignments: they are kept
-- aside and put back.
CREATE TEMPORARY TABLE admin_companies_kept AS SELECT * FROM admin_companies;
CREATE TABLE admins_new (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'technician')),
    password_hash TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE,
    token_generation BIGINT NOT NULL DEFAULT 0,
    locale TEXT NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'fr', 'de', 'es', 'it', 'nl', 'ja')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (partner_id, email),
    UNIQUE (id, partner_id)
);
INSERT INTO admins_new SELECT * FROM admins;
DROP TABLE admins;
ALTER TABLE admins_new RENAME TO admins;
CREATE INDEX admins_partner ON admins (partner_id, id);
INSERT INTO admin_companies SELECT * FROM admin_companies_kept;
DROP TABLE admin_companies_kept;
