-- Cloud Control is regional: requests, client tokens and listings are kept
-- per account and region. Requests recorded before this migration belong to
-- us-east-1 (the default of --default-region): a deployment that ran before
-- it finds them there, whatever --default-region says later. The default is
-- dropped once the rows have it, so no insert can forget the region.
ALTER TABLE resource_requests ADD COLUMN region TEXT NOT NULL DEFAULT 'us-east-1';
ALTER TABLE resource_requests ALTER COLUMN region DROP DEFAULT;

DROP INDEX resource_requests_client_token;
CREATE UNIQUE INDEX resource_requests_client_token
    ON resource_requests (account_id, region, client_token)
    WHERE client_token IS NOT NULL;

DROP INDEX resource_requests_account_seq;
CREATE INDEX resource_requests_account_seq ON resource_requests (account_id, region, seq DESC);

DROP INDEX resource_requests_account_status_seq;
CREATE INDEX resource_requests_account_status_seq
    ON resource_requests (account_id, region, operation_status, seq DESC);

-- One unfinished UPDATE or DELETE per resource: a second one is refused
-- (ConcurrentOperationException) by this index, whichever replica takes it.
-- The status list is written exactly as in the claim index.
CREATE UNIQUE INDEX resource_requests_one_change_per_resource
    ON resource_requests (account_id, region, type_name, requested_identifier)
    WHERE operation IN ('UPDATE', 'DELETE')
      AND operation_status IN ('PENDING', 'IN_PROGRESS', 'CANCEL_IN_PROGRESS');

-- Resources as their requests left them: a CREATE or UPDATE that reaches
-- SUCCESS writes its resource model here, a DELETE that does removes the
-- row, in the transaction that records the SUCCESS event. Identifiers sort
-- bytewise (COLLATE "C"), as on SQLite, for ListResources' keyset.
CREATE TABLE resources (
    account_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    type_name   TEXT NOT NULL,
    identifier  TEXT COLLATE "C" NOT NULL,
    -- JSON text of the resource model, write-only properties included.
    properties  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, region, type_name, identifier)
);

-- Hooks: set with the first hook event a worker records for the request.
ALTER TABLE resource_requests ADD COLUMN hooks_request_token TEXT;

CREATE TABLE hook_progress_events (
    request_token        TEXT NOT NULL REFERENCES resource_requests (request_token) ON DELETE CASCADE,
    seq                  BIGINT NOT NULL,
    hook_type_name       TEXT NOT NULL,
    hook_type_version_id TEXT,
    hook_type_arn        TEXT,
    invocation_point     TEXT NOT NULL,
    hook_status          TEXT NOT NULL,
    hook_event_time      BIGINT NOT NULL,
    hook_status_message  TEXT,
    failure_mode         TEXT,
    PRIMARY KEY (request_token, seq)
);

-- The simulation's rules (--simulation-rules, SetSimulationRules): one
-- JSON document, shared by every replica.
CREATE TABLE simulation_rules (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    rules      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
