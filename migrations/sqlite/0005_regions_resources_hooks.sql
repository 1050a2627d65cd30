-- The same as the Postgres migration. SQLite cannot drop a column default,
-- so region keeps 'us-east-1' as its default; statusgate always writes it.
-- Requests recorded before this migration belong to us-east-1.
ALTER TABLE resource_requests ADD COLUMN region TEXT NOT NULL DEFAULT 'us-east-1';

DROP INDEX resource_requests_client_token;
CREATE UNIQUE INDEX resource_requests_client_token
    ON resource_requests (account_id, region, client_token)
    WHERE client_token IS NOT NULL;

DROP INDEX resource_requests_account_seq;
CREATE INDEX resource_requests_account_seq ON resource_requests (account_id, region, seq DESC);

DROP INDEX resource_requests_account_status_seq;
CREATE INDEX resource_requests_account_status_seq
    ON resource_requests (account_id, region, operation_status, seq DESC);

CREATE UNIQUE INDEX resource_requests_one_change_per_resource
    ON resource_requests (account_id, region, type_name, requested_identifier)
    WHERE operation IN ('UPDATE', 'DELETE')
      AND operation_status IN ('PENDING', 'IN_PROGRESS', 'CANCEL_IN_PROGRESS');

CREATE TABLE resources (
    account_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    type_name   TEXT NOT NULL,
    identifier  TEXT NOT NULL,
    properties  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, region, type_name, identifier)
) WITHOUT ROWID;

ALTER TABLE resource_requests ADD COLUMN hooks_request_token TEXT;

CREATE TABLE hook_progress_events (
    request_token        TEXT NOT NULL REFERENCES resource_requests (request_token) ON DELETE CASCADE,
    seq                  INTEGER NOT NULL,
    hook_type_name       TEXT NOT NULL,
    hook_type_version_id TEXT,
    hook_type_arn        TEXT,
    invocation_point     TEXT NOT NULL,
    hook_status          TEXT NOT NULL,
    hook_event_time      INTEGER NOT NULL,
    hook_status_message  TEXT,
    failure_mode         TEXT,
    PRIMARY KEY (request_token, seq)
) WITHOUT ROWID;

CREATE TABLE simulation_rules (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    rules      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
