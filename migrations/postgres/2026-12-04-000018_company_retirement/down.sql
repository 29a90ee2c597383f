-- Fails when a retired company's external id was given to another: the
-- older index holds it unique among retired companies too.
DROP INDEX companies_partner_external_id;
CREATE UNIQUE INDEX companies_partner_external_id ON companies (partner_id, external_id)
    WHERE external_id IS NOT NULL;
ALTER TABLE companies DROP COLUMN retired_at;
