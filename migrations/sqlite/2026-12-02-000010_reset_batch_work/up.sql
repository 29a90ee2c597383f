-- Reset batches as work that survives a restart: a batch and one row per
-- user, each user's row claimed by one worker at a time (a lease that a
-- dead worker's successor takes over), its outcome recorded once. The
-- tables the first schema sketched were never written; they are rebuilt
-- with the states batches actually go through.
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
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'cancelled')),
    total INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    cancelled_at TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX reset_batches_partner ON reset_batches (partner_id, id);
-- The batches still running, which idle workers look at to finish those
-- whose last outcome a dying worker left unfinished.
CREATE INDEX reset_batches_unfinished ON reset_batches (id) WHERE finished_at IS NULL;

CREATE TABLE reset_batch_items (
    batch_id TEXT NOT NULL REFERENCES reset_batches (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN (
        'queued', 'running', 'completed', 'awaiting_approval', 'denied',
        'not_backed_up', 'reset_pending', 'not_found', 'failed', 'cancelled'
    )),
    reset_id TEXT,
    problem TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    locked_by TEXT,
    locked_until TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (batch_id, position)
);
-- Claiming: the oldest batch's queued users first, in the order asked; and
-- users whose worker's lease ran out.
CREATE INDEX reset_batch_items_due ON reset_batch_items (status, batch_id, position);
CREATE INDEX reset_batch_items_leases ON reset_batch_items (status, locked_until);
