-- Refused while a SCIM token's events exist: dropping them would break the
-- partners' audit chains.
CREATE TEMP TABLE scim_events_guard (n INTEGER CHECK (n = 0));
INSERT INTO scim_events_guard SELECT COUNT(*) FROM audit_events WHERE actor_kind = 'scim_token';
DROP TABLE scim_events_guard;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_actor_kind_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_actor_kind_check
    CHECK (actor_kind IN ('admin', 'api_client', 'operator', 'user', 'system', 'anonymous'));
DROP TABLE scim_tokens;
