-- A result kept under an Idempotency-Key is sealed under the server key
-- (XChaCha20-Poly1305, bound to its partner, caller and key): a creation
-- whose answer carries a secret shown once (an admin's one-time password,
-- an API client's secret) answers a retry with it, and the secret is never
-- in a plaintext column. Rows kept before stay readable as they are.
ALTER TABLE idempotency_keys ADD COLUMN body_sealed BOOLEAN NOT NULL DEFAULT FALSE;
