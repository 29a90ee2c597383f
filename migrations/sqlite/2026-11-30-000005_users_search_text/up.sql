-- Locating users by any part of their email or name searches one column:
-- the email and the lowercased name, a line apart (see the PostgreSQL
-- tree). SQLite computes it when read: ALTER TABLE cannot add a stored
-- column.
ALTER TABLE users ADD COLUMN search_text TEXT NOT NULL
    GENERATED ALWAYS AS (email || char(10) || lower(name)) VIRTUAL;
