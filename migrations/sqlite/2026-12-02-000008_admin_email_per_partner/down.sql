CREATE TEMPORARY TABLE admin_companies_kept AS SELECT * FROM admin_companies;
CREATE TABLE admins_old (
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
INSERT INTO admins_old SELECT * FROM admins;
DROP TABLE admins;
ALTER TABLE admins_old RENAME TO admins;
CREATE INDEX admins_partner ON admins (partner_id, id);
INSERT INTO admin_companies SELECT * FROM admin_companies_kept;
DROP TABLE admin_companies_kept;
