-- A user's version, for `ETag` and `If-Match`: every change of a user's row
-- adds one, so a client that changes a user it read earlier is refused
-- (412) when someone changed the user since.
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
-- A company has at most one primary user: the check before a change is
-- not enough when two changes race (PostgreSQL reads committed rows).
CREATE UNIQUE INDEX users_company_primary ON users (company_id) WHERE is_primary;
