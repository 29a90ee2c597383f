-- Fails, as it should, while an email has accounts at two companies.
DROP INDEX users_partner_email;
ALTER TABLE users DROP CONSTRAINT users_company_id_email_key;
ALTER TABLE users ADD CONSTRAINT users_partner_id_email_key UNIQUE (partner_id, email);
