-- Background change tokens (:rows of them, accounts 300000000000..), as
-- statusgate leaves them: mostly INSYNC, some PENDING, one PROVISIONED per
-- scope at most (none here). The benchmark's own hot token is made through
-- the API.
INSERT INTO change_tokens (change_token, account_id, endpoint, region, status,
                           change_description, created_at, consumed_at, insync_at)
SELECT gen_random_uuid(),
       lpad((300000000000 + i % 1000)::text, 12, '0'),
       CASE WHEN i % 2 = 0 THEN 'GLOBAL' ELSE 'REGIONAL' END,
       CASE WHEN i % 2 = 0 THEN '' ELSE 'eu-west-1' END,
       CASE WHEN i % 10 = 0 THEN 'PENDING' ELSE 'INSYNC' END,
       'UpdateIPSet seed-' || i,
       t, t + 1000000,
       CASE WHEN i % 10 = 0 THEN NULL ELSE t + 2000000 END
FROM (SELECT i, :now_us::bigint - (:rows::bigint - i) * 1000000 AS t
      FROM generate_series(1, :rows::bigint) AS i) AS seed;
