-- The same partial indexes as the Postgres migration. SQLite uses a partial
-- index only when the query repeats the index's WHERE term as written, so
-- the due-work queries spell the status list exactly as it is here.

CREATE INDEX resource_requests_unfinished_event_time
    ON resource_requests (event_time)
    WHERE operation_status IN ('PENDING', 'IN_PROGRESS', 'CANCEL_IN_PROGRESS');

CREATE INDEX change_tokens_pending_consumed_at
    ON change_tokens (consumed_at)
    WHERE status = 'PENDING';
