-- PostgreSQL adds trigram indexes for locating users by any part of their
-- email or name. SQLite has no counterpart (its b-trees serve prefixes
-- only), so on SQLite the search scans the partner's users. This migration
-- keeps the two trees in step.

-- A partner's users in id order: lists and searches page by id, and walk
-- this index instead of sorting every match.
CREATE INDEX users_partner_id ON users (partner_id, id);
