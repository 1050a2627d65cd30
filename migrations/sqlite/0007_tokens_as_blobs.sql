-- Request and change tokens are stored as 16-byte BLOBs (the UUID's bytes)
-- instead of their 36-character text: the keys of requests, of their events
-- and of change tokens are less than half the size. The service converts to
-- and from the lowercase hyphenated form it always wrote.
--
-- SQLite cannot change a column's type in place, so each table is copied
-- into a new one, the old one dropped (children first, so that no
-- ON DELETE CASCADE fires) and the new one renamed, which also renames the
-- references of the new child tables. Every token statusgate has written is
-- a lowercase UUID; a row holding anything else (written by hand) converts
-- to NULL, which the NOT NULL of the new key refuses, so the migration stops
-- and, running in one transaction, changes nothing.

CREATE TABLE resource_requests_new (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    request_token        BLOB NOT NULL UNIQUE,
    account_id           TEXT NOT NULL,
    region               TEXT NOT NULL,
    client_token         TEXT,
    created_at           INTEGER NOT NULL,
    operation            TEXT NOT NULL,
    type_name            TEXT NOT NULL,
    requested_identifier TEXT,
    desired_state        TEXT,
    patch_document       TEXT,
    role_arn             TEXT,
    type_version_id      TEXT,
    operation_status     TEXT NOT NULL,
    identifier           TEXT,
    resource_model       TEXT,
    status_message       TEXT,
    error_code           TEXT,
    retry_after          INTEGER,
    event_time           INTEGER NOT NULL,
    event_count          INTEGER NOT NULL,
    lease_token          TEXT,
    lease_worker_id      TEXT,
    lease_expires_at     INTEGER,
    lease_duration       INTEGER,
    hooks_request_token  TEXT
);

INSERT INTO resource_requests_new (seq, request_token, account_id, region, client_token,
    created_at, operation, type_name, requested_identifier, desired_state, patch_document,
    role_arn, type_version_id, operation_status, identifier, resource_model, status_message,
    error_code, retry_after, event_time, event_count, lease_token, lease_worker_id,
    lease_expires_at, lease_duration, hooks_request_token)
SELECT seq,
       CASE WHEN request_token GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'
            THEN unhex(replace(request_token, '-', '')) END,
       account_id, region, client_token, created_at, operation, type_name,
       requested_identifier, desired_state, patch_document, role_arn, type_version_id,
       operation_status, identifier, resource_model, status_message, error_code, retry_after,
       event_time, event_count, lease_token, lease_worker_id, lease_expires_at, lease_duration,
       hooks_request_token
FROM resource_requests;

-- Sequence numbers (the listing cursors) go on from where they were.
DELETE FROM sqlite_sequence WHERE name = 'resource_requests_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'resource_requests_new', seq FROM sqlite_sequence WHERE name = 'resource_requests';

CREATE TABLE progress_events_new (
    request_token    BLOB NOT NULL REFERENCES resource_requests_new (request_token) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    operation_status TEXT NOT NULL,
    identifier       TEXT,
    resource_model   TEXT,
    status_message   TEXT,
    error_code       TEXT,
    retry_after      INTEGER,
    event_time       INTEGER NOT NULL,
    PRIMARY KEY (request_token, seq)
) WITHOUT ROWID;

INSERT INTO progress_events_new (request_token, seq, operation_status, identifier,
    resource_model, status_message, error_code, retry_after, event_time)
SELECT unhex(replace(request_token, '-', '')), seq, operation_status, identifier,
       resource_model, status_message, error_code, retry_after, event_time
FROM progress_events;

CREATE TABLE hook_progress_events_new (
    request_token        BLOB NOT NULL REFERENCES resource_requests_new (request_token) ON DELETE CASCADE,
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

INSERT INTO hook_progress_events_new (request_token, seq, hook_type_name, hook_type_version_id,
    hook_type_arn, invocation_point, hook_status, hook_event_time, hook_status_message,
    failure_mode)
SELECT unhex(replace(request_token, '-', '')), seq, hook_type_name, hook_type_version_id,
       hook_type_arn, invocation_point, hook_status, hook_event_time, hook_status_message,
       failure_mode
FROM hook_progress_events;

DROP TABLE hook_progress_events;
DROP TABLE progress_events;
DROP TABLE resource_requests;
ALTER TABLE resource_requests_new RENAME TO resource_requests;
ALTER TABLE progress_events_new RENAME TO progress_events;
ALTER TABLE hook_progress_events_new RENAME TO hook_progress_events;

CREATE UNIQUE INDEX resource_requests_client_token
    ON resource_requests (account_id, region, client_token)
    WHERE client_token IS NOT NULL;
CREATE INDEX resource_requests_account_seq ON resource_requests (account_id, region, seq DESC);
CREATE INDEX resource_requests_account_status_seq
    ON resource_requests (account_id, region, operation_status, seq DESC);
CREATE INDEX resource_requests_created_at ON resource_requests (created_at);
CREATE INDEX resource_requests_claimable_seq
    ON resource_requests (seq)
    WHERE operation_status IN ('PENDING', 'IN_PROGRESS', 'CANCEL_IN_PROGRESS');
CREATE UNIQUE INDEX resource_requests_one_change_per_resource
    ON resource_requests (account_id, region, type_name, requested_identifier)
    WHERE operation IN ('UPDATE', 'DELETE')
      AND operation_status IN ('PENDING', 'IN_PROGRESS', 'CANCEL_IN_PROGRESS');

CREATE TABLE change_tokens_new (
    change_token       BLOB PRIMARY KEY NOT NULL,
    account_id         TEXT NOT NULL,
    endpoint           TEXT NOT NULL CHECK (endpoint IN ('GLOBAL', 'REGIONAL')),
    -- '' for WAF global
    region             TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('PROVISIONED', 'PENDING', 'INSYNC')),
    change_description TEXT,
    created_at         INTEGER NOT NULL,
    consumed_at        INTEGER,
    insync_at          INTEGER
);

INSERT INTO change_tokens_new (change_token, account_id, endpoint, region, status,
    change_description, created_at, consumed_at, insync_at)
SELECT CASE WHEN change_token GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'
            THEN unhex(replace(change_token, '-', '')) END,
       account_id, endpoint, region, status, change_description, created_at, consumed_at,
       insync_at
FROM change_tokens;

DROP TABLE change_tokens;
ALTER TABLE change_tokens_new RENAME TO change_tokens;

CREATE UNIQUE INDEX change_tokens_one_provisioned_per_scope
    ON change_tokens (account_id, endpoint, region)
    WHERE status = 'PROVISIONED';
CREATE INDEX change_tokens_insync_at ON change_tokens (insync_at) WHERE status = 'INSYNC';
CREATE INDEX change_tokens_pending_consumed_at
    ON change_tokens (consumed_at)
    WHERE status = 'PENDING';
CREATE INDEX change_tokens_account_created_at
    ON change_tokens (account_id, created_at, change_token);
