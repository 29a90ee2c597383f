ALTER TABLE api_clients DROP COLUMN limited;
