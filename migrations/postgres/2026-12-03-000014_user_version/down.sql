DROP INDEX users_company_primary;
ALTER TABLE users DROP COLUMN version;
