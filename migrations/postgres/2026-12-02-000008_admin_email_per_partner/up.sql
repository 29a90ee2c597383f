-- An admin's email is unique within their partner, not across partners:
-- whether one MSP may add an admin must never depend on another MSP's
-- admins (that answer was an oracle, and a way to squat sign-in names).
-- Sign-in names the partner with the email.
ALTER TABLE admins DROP CONSTRAINT admins_email_key;
ALTER TABLE admins ADD UNIQUE (partner_id, email);
