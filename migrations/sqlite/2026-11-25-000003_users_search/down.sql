DROP INDEX users_partner_id;
