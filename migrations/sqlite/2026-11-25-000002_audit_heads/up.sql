-- The head of each partner's audit chain: the last event's sequence number
-- and hash, with a MAC under a server key. Written in the transaction of
-- every append, so removing the newest events (which leaves a shorter chain
-- that is valid in itself) no longer goes unnoticed: verify finds the chain
-- short of its head.
CREATE TABLE audit_heads (
    partner_id TEXT NOT NULL PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash BLOB NOT NULL,
    mac BLOB NOT NULL
);
