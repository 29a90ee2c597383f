ALTER TABLE admins DROP CONSTRAINT admins_partner_id_email_key;
ALTER TABLE admins ADD CONSTRAINT admins_email_key UNIQUE (email);
