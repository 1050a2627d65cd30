-- Credentials: who may call statusgate with --auth sigv4. The secret is
-- stored sealed (AES-256-GCM under the credentials key, the access key id as
-- associated data: 12-byte nonce followed by the ciphertext and tag), so a
-- copy of this table reveals ids, accounts, roles and times, not secrets.
CREATE TABLE credentials (
    access_key_id TEXT PRIMARY KEY,
    sealed_secret BLOB NOT NULL,
    -- NULL: every account (workers and admins only).
    account_id    TEXT,
    role          TEXT NOT NULL CHECK (role IN ('client', 'worker', 'admin')),
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    CHECK (account_id IS NOT NULL OR role <> 'client')
);
