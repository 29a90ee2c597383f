CREATE INDEX users_partner_name ON users (partner_id, name, id);
DROP INDEX users_search_trgm;
CREATE INDEX users_email_trgm ON users USING gin (email gin_trgm_ops);
CREATE INDEX users_name_trgm ON users USING gin (lower(name) gin_trgm_ops);
ALTER TABLE users DROP COLUMN search_text;
