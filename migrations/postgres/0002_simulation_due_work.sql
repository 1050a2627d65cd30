-- Indexes for the simulation mode's due-work queries (and for any worker
-- that looks for unfinished work the same way). Both are partial, so they
-- hold only rows still waiting for something and stay small: finished
-- requests and INSYNC tokens are the bulk of each table.

-- Requests not yet in a terminal status, oldest latest event first.
CREATE INDEX resource_requests_unfinished_event_time
    ON resource_requests (event_time)
    WHERE operation_status IN ('PENDING', 'IN_PROGRESS', 'CANCEL_IN_PROGRESS');

-- Used tokens waiting to go INSYNC, oldest use first.
CREATE INDEX change_tokens_pending_consumed_at
    ON change_tokens (consumed_at)
    WHERE status = 'PENDING';
