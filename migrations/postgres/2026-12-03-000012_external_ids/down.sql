DROP INDEX users_partner_external_id;
DROP INDEX users_company_external_id;
DROP INDEX companies_partner_external_id;
ALTER TABLE users DROP COLUMN external_id;
ALTER TABLE companies DROP COLUMN external_id;
