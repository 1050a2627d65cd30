-- Worker leases on resource requests (ClaimResourceRequests, RenewLease).
-- The four lease columns are all set (a claimed request; the lease may have
-- expired) or all NULL (never claimed, or released by a terminal event).
ALTER TABLE resource_requests
    ADD COLUMN lease_token      TEXT,
    ADD COLUMN lease_worker_id  TEXT,
    -- Microseconds since the epoch; the lease holds while now < lease_expires_at.
    ADD COLUMN lease_expires_at BIGINT,
    -- Microseconds; what a renewal extends the lease by unless told otherwise.
    ADD COLUMN lease_duration   BIGINT;

-- Claims walk the unfinished requests oldest first (by seq). Partial, so it
-- holds only unfinished requests: finished ones are the bulk of the table
-- and never claimable. The status list is written exactly as in the claim
-- query.
CREATE INDEX resource_requests_claimable_seq
    ON resource_requests (seq)
    WHERE operation_status IN ('PENDING', 'IN_PROGRESS', 'CANCEL_IN_PROGRESS');

-- The simulation mode found its due requests through this index; it claims
-- them now like any worker, so nothing reads it any more.
DROP INDEX resource_requests_unfinished_event_time;
