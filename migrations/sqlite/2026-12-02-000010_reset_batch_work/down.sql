-- Resets keep no reference to a batch that goes.
UPDATE master_password_resets SET batch_id = NULL WHERE batch_id IS NOT NULL;
DROP TABLE reset_batch_items;
DROP TABLE reset_batches;
CREATE TABLE reset_batches (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    requested_by_kind TEXT NOT NULL CHECK (requested_by_kind IN ('admin', 'api_client')),
    requested_by_id TEXT NOT NULL,
    acknowledge_company_data_loss BOOLEAN NOT NULL,
    reason TEXT,
    ticket TEXT,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed')),
    total INTEGER NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP
);
CREATE INDEX reset_batches_partner ON reset_batches (partner_id, created_at);

-- The per-user results of a batch.
CREATE TABLE reset_batch_items (
    batch_id TEXT NOT NULL REFERENCES reset_batches (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'succeeded', 'failed')),
    reset_id TEXT REFERENCES master_password_resets (id) ON DELETE SET NULL,
    error_code TEXT,
    error_detail TEXT,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (batch_id, user_id)
);
