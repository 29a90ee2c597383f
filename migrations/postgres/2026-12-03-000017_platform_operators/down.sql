DELETE FROM audit_events WHERE actor_kind = 'operator';
ALTER TABLE audit_events DROP CONSTRAINT audit_events_actor_kind_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_actor_kind_check
    CHECK (actor_kind IN ('admin', 'api_client', 'user', 'system', 'anonymous'));
ALTER TABLE partners DROP COLUMN suspended_at;
DROP TABLE operators;
