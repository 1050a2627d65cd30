-- pgbench anchor for CreateResourceRequest / CreateResource: one single-row
-- INSERT with a gen_random_uuid() key into the project's own resource_requests
-- table (created from migrations/postgres, with all its indexes), one commit
-- per row. statusgate does strictly more per call (the request row plus its
-- first progress_events row in one transaction).
INSERT INTO resource_requests (request_token, account_id, region, created_at, operation,
                               type_name, desired_state, operation_status, event_time,
                               event_count)
VALUES (gen_random_uuid(), '123456789012', 'us-east-1',
        (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, 'CREATE',
        'AWS::Logs::LogGroup', '{"LogGroupName":"bench"}', 'PENDING',
        (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, 1);
