-- Locating users by any part of their email or name searches one column:
-- the email and the lowercased name, a line apart (see the PostgreSQL
-- tree). SQLite computes it when read: ALTER TABLE cannot add a stored
-- column.
ALTER TABLE users ADD COLUMN search_text TEXT NOT NULL
    GENERATED ALWAYS AS (email || char(10) || lower(name)) VIRTUAL;

-- Nothing reads a partner's users in name order (lists and searches go by
-- id): the index only cost every insert its upkeep and every query on
-- users its planning.
DROP INDEX users_partner_name;
