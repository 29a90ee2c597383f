-- Refused while the operator's events exist: dropping them would break the
-- partners' audit chains.
CREATE TEMP TABLE operator_events_guard (n INTEGER CHECK (n = 0));
INSERT INTO operator_events_guard SELECT COUNT(*) FROM audit_events WHERE actor_kind = 'operator';
DROP TABLE operator_events_guard;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_actor_kind_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_actor_kind_check
    CHECK (actor_kind IN ('admin', 'api_client', 'user', 'system', 'anonymous'));
ALTER TABLE partners DROP COLUMN suspended_at;
DROP TABLE operators;
