-- An end user's email is unique within their company, not across the
-- partner: whether a technician (or a company's SCIM client) may add a user
-- must never depend on companies outside its reach. Sign-in names the
-- partner and the email, and the company when the email has accounts at
-- several of the partner's companies; this index serves that lookup.
ALTER TABLE users DROP CONSTRAINT users_partner_id_email_key;
ALTER TABLE users ADD CONSTRAINT users_company_id_email_key UNIQUE (company_id, email);
CREATE INDEX users_partner_email ON users (partner_id, email);
