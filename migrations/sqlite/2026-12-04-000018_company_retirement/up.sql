-- A retired company keeps its row, out of the default lists and closed to
-- changes, while backup copies of its items are within their retention;
-- the retention sweep removes it with its last copy. Its external id is
-- free at once for a company the PSA makes anew.
ALTER TABLE companies ADD COLUMN retired_at TIMESTAMP;
DROP INDEX companies_partner_external_id;
CREATE UNIQUE INDEX companies_partner_external_id ON companies (partner_id, external_id)
    WHERE external_id IS NOT NULL AND retired_at IS NULL;
