-- The id a PSA or a directory gives a company or a user, so that a sync
-- finds what it made before (`?external_id=`). A company's is unique in its
-- partner; a user's in their company, as emails are: whether a technician
-- may add a user must never depend on companies outside their reach.
ALTER TABLE companies ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX companies_partner_external_id ON companies (partner_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX users_company_external_id ON users (company_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX users_partner_external_id ON users (partner_id, external_id)
    WHERE external_id IS NOT NULL;
