-- pgbench anchor for GetChangeToken: the single-row upsert statusgate runs
-- against the partial unique index "one PROVISIONED token per scope", on the
-- project's own change_tokens table (created from migrations/postgres).
-- :scopes (pgbench -D scopes=N) WAF global scopes, accounts 200000000000..,
-- picked at random, as the gRPC and facade GetChangeToken runs do.
\set a random(1, :scopes)
INSERT INTO change_tokens (change_token, account_id, endpoint, region, status, created_at)
VALUES (gen_random_uuid(), lpad((199999999999 + :a)::text, 12, '0'), 'GLOBAL', '',
        'PROVISIONED', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
ON CONFLICT (account_id, endpoint, region) WHERE status = 'PROVISIONED'
DO UPDATE SET status = change_tokens.status
RETURNING change_token;
