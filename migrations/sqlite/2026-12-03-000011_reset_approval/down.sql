-- Requests that never ran leave as superseded resets that purged nothing
-- (never `expired`, which a re-issue would bring back without approval).
PRAGMA foreign_keys = OFF;
BEGIN;
UPDATE master_password_resets
    SET status = 'superseded', secret_expires_at = COALESCE(secret_expires_at, updated_at)
    WHERE status IN ('awaiting_approval', 'rejected') OR secret_expires_at IS NULL;
CREATE TABLE master_password_resets_rebuilt (
    id TEXT NOT NULL PRIMARY KEY,
    partner_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    batch_id TEXT REFERENCES reset_batches (id) ON DELETE SET NULL,
    status TEXT NOT NULL
        CHECK (status IN ('pending_user_action', 'completed', 'superseded', 'expired')),
    delivery_kind TEXT NOT NULL CHECK (delivery_kind IN ('temporary_password', 'link')),
    secret_hash BLOB,
    secret_expires_at TIMESTAMP NOT NULL,
    personal_items_purged BIGINT NOT NULL,
    company_items_purged BIGINT NOT NULL,
    company_items_preserved BIGINT NOT NULL,
    acknowledged_company_data_loss BOOLEAN NOT NULL,
    reason TEXT,
    ticket TEXT,
    requested_by_kind TEXT NOT NULL CHECK (requested_by_kind IN ('admin', 'api_client')),
    requested_by_id TEXT NOT NULL,
    outbox_message_id TEXT,
    reissue_count INTEGER NOT NULL DEFAULT 0,
    superseded_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    FOREIGN KEY (user_id, partner_id) REFERENCES users (id, partner_id) ON DELETE CASCADE
);
INSERT INTO master_password_resets_rebuilt (id, partner_id, company_id, user_id, batch_id, status, delivery_kind, secret_hash, secret_expires_at, personal_items_purged, company_items_purged, company_items_preserved, acknowledged_company_data_loss, reason, ticket, requested_by_kind, requested_by_id, outbox_message_id, reissue_count, superseded_by, created_at, updated_at, completed_at)
    SELECT id, partner_id, company_id, user_id, batch_id, status, delivery_kind, secret_hash, secret_expires_at, personal_items_purged, company_items_purged, company_items_preserved, acknowledged_company_data_loss, reason, ticket, requested_by_kind, requested_by_id, outbox_message_id, reissue_count, superseded_by, created_at, updated_at, completed_at
    FROM master_password_resets;
DROP TABLE master_password_resets;
ALTER TABLE master_password_resets_rebuilt RENAME TO master_password_resets;
CREATE INDEX master_password_resets_user ON master_password_resets (user_id, created_at);
CREATE INDEX master_password_resets_partner ON master_password_resets (partner_id, created_at, id);
CREATE INDEX master_password_resets_company ON master_password_resets (company_id, created_at);
CREATE UNIQUE INDEX master_password_resets_one_pending ON master_password_resets (user_id)
    WHERE status = 'pending_user_action';
CREATE INDEX master_password_resets_secret ON master_password_resets (secret_hash);
-- A row pointing nowhere fails the migration (the CHECK) rather than land.
CREATE TEMPORARY TABLE resets_rebuild_check (orphans INTEGER CHECK (orphans = 0));
INSERT INTO resets_rebuild_check SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE resets_rebuild_check;
COMMIT;
PRAGMA foreign_keys = ON;
