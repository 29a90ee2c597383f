-- Whether an API client is limited to some companies is a fact of the
-- client, not of the rows that list them: those rows go with their
-- company, and a limited client whose companies are all gone must see
-- nothing (fail closed), not everything. Existing limits are carried over.
ALTER TABLE api_clients ADD COLUMN limited BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE api_clients SET limited = TRUE
    WHERE id IN (SELECT api_client_id FROM api_client_companies);
