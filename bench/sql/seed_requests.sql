-- Seeds requests number :first .. :last of account :account exactly as
-- statusgate's CreateResourceRequest writes a CREATE request: one
-- resource_requests row in PENDING (event_count 1, event_time = created_at)
-- and its first progress_events row (seq 1, PENDING). Times are microseconds
-- since the epoch; request i was created (:last - i) ms before :now_us, so
-- every row is well inside the default 7-day retention. The rows go in in
-- generate_series order (no ORDER BY: sorting 10M rows would spill to disk),
-- so seq grows with i as it would have. They are in us-east-1, the server's
-- default region, which the benchmark's calls (naming no region) use.
--
-- The request token of number i is a UUID-shaped string whose first group is
-- a multiplicative hash of i (keys land all over the index, like random
-- UUIDs) and whose last group is i, so a load generator can name any seeded
-- request at random (bench/facade.lua computes the same token).
INSERT INTO resource_requests (request_token, account_id, region, created_at, operation,
                               type_name, desired_state, operation_status, event_time,
                               event_count)
SELECT token, :'account', 'us-east-1', t, 'CREATE', 'AWS::Logs::LogGroup',
       '{"LogGroupName":"seed-' || i || '"}', 'PENDING', t, 1
FROM (SELECT i,
             (lpad(to_hex((i * 1000003) % 4294967296), 8, '0') || '-0000-4000-8000-'
               || lpad(to_hex(i), 12, '0'))::uuid AS token,
             :now_us::bigint - (:last::bigint - i) * 1000 AS t
      FROM generate_series(:first::bigint, :last::bigint) AS i) AS seed;

INSERT INTO progress_events (request_token, seq, operation_status, event_time)
SELECT (lpad(to_hex((i * 1000003) % 4294967296), 8, '0') || '-0000-4000-8000-'
         || lpad(to_hex(i), 12, '0'))::uuid,
       1, 'PENDING', :now_us::bigint - (:last::bigint - i) * 1000
FROM generate_series(:first::bigint, :last::bigint) AS i;
