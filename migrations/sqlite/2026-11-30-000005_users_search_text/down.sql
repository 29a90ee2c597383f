CREATE INDEX users_partner_name ON users (partner_id, name, id);
ALTER TABLE users DROP COLUMN search_text;
