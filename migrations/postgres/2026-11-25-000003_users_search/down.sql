DROP INDEX users_email_prefix;
DROP INDEX users_partner_id;
DROP INDEX users_name_trgm;
DROP INDEX users_email_trgm;
