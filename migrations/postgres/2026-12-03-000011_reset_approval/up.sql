-- A reset that policy says needs a second admin waits `awaiting_approval`
-- (nothing purged, no secret drawn, so no secret expiry yet) until another
-- admin approves it (it then runs as a direct reset would), rejects it
-- (`rejected`), or its approval expires (`expired`). Who decided and when
-- are kept beside who asked; `approval_required_by` holds the ids of the
-- policies that asked for the approval (a JSON array), and `supersedes`
-- the pending reset an approval replaces.
ALTER TABLE master_password_resets DROP CONSTRAINT master_password_resets_status_check;
ALTER TABLE master_password_resets ADD CONSTRAINT master_password_resets_status_check
    CHECK (status IN ('awaiting_approval', 'pending_user_action', 'completed', 'superseded',
        'expired', 'rejected'));
ALTER TABLE master_password_resets ALTER COLUMN secret_expires_at DROP NOT NULL;
ALTER TABLE master_password_resets
    ADD COLUMN approval_required_by TEXT,
    ADD COLUMN approval_expires_at TIMESTAMP,
    ADD COLUMN supersedes TEXT,
    ADD COLUMN decided_by_kind TEXT CHECK (decided_by_kind IN ('admin', 'api_client')),
    ADD COLUMN decided_by_id TEXT,
    ADD COLUMN decided_at TIMESTAMP,
    ADD COLUMN decision_comment TEXT;
-- At most one request awaiting approval per user.
CREATE UNIQUE INDEX master_password_resets_one_awaiting ON master_password_resets (user_id)
    WHERE status = 'awaiting_approval';
-- The retention sweep finds requests whose approval expired.
CREATE INDEX master_password_resets_approval_expiry
    ON master_password_resets (approval_expires_at);
