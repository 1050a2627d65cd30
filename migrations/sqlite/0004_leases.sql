-- Worker leases on resource requests, as in the Postgres migration: the four
-- lease columns are all set or all NULL.
ALTER TABLE resource_requests ADD COLUMN lease_token TEXT;
ALTER TABLE resource_requests ADD COLUMN lease_worker_id TEXT;
ALTER TABLE resource_requests ADD COLUMN lease_expires_at INTEGER;
ALTER TABLE resource_requests ADD COLUMN lease_duration INTEGER;

-- Claims walk the unfinished requests oldest first. SQLite uses a partial
-- index only when the query repeats its WHERE term as written, so the claim
-- query spells the status list exactly as it is here.
CREATE INDEX resource_requests_claimable_seq
    ON resource_requests (seq)
    WHERE operation_status IN ('PENDING', 'IN_PROGRESS', 'CANCEL_IN_PROGRESS');

DROP INDEX resource_requests_unfinished_event_time;
