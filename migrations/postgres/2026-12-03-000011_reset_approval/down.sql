-- Requests that never ran leave as superseded resets that purged nothing
-- (never `expired`, which a re-issue would bring back without approval).
UPDATE master_password_resets
    SET status = 'superseded', secret_expires_at = COALESCE(secret_expires_at, updated_at)
    WHERE status IN ('awaiting_approval', 'rejected') OR secret_expires_at IS NULL;
DROP INDEX master_password_resets_approval_expiry;
DROP INDEX master_password_resets_one_awaiting;
ALTER TABLE master_password_resets
    DROP COLUMN approval_required_by,
    DROP COLUMN approval_expires_at,
    DROP COLUMN supersedes,
    DROP COLUMN decided_by_kind,
    DROP COLUMN decided_by_id,
    DROP COLUMN decided_at,
    DROP COLUMN decision_comment;
ALTER TABLE master_password_resets ALTER COLUMN secret_expires_at SET NOT NULL;
ALTER TABLE master_password_resets DROP CONSTRAINT master_password_resets_status_check;
ALTER TABLE master_password_resets ADD CONSTRAINT master_password_resets_status_check
    CHECK (status IN ('pending_user_action', 'completed', 'superseded', 'expired'));
