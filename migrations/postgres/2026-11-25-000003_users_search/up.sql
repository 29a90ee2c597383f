-- Locating a user by any part of their email or name (`GET /v1/users?q=`)
-- is a case-insensitive substring match, which a b-tree cannot serve:
-- trigram indexes can. pg_trgm ships with PostgreSQL and is a trusted
-- extension (PostgreSQL 13+), so the database's owner may create it.
-- SQLite has no counterpart; there the search scans the partner's users.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- Emails are stored lowercase, so the email index needs no lower().
CREATE INDEX users_email_trgm ON users USING gin (email gin_trgm_ops);
CREATE INDEX users_name_trgm ON users USING gin (lower(name) gin_trgm_ops);

-- Text with an `@` after its first character is the start of an email, and
-- matches by prefix: a b-tree in byte order serves LIKE 'dana@%'.
CREATE INDEX users_email_prefix ON users (email text_pattern_ops);

-- A partner's users in id order: lists and searches page by id, and walk
-- this index instead of sorting every match.
CREATE INDEX users_partner_id ON users (partner_id, id);
