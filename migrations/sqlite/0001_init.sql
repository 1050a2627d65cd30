-- statusgate schema for SQLite: the same tables and indexes as the Postgres
-- schema; times are microseconds since the Unix epoch.

CREATE TABLE change_tokens (
    change_token       TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL,
    endpoint           TEXT NOT NULL CHECK (endpoint IN ('GLOBAL', 'REGIONAL')),
    region             TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('PROVISIONED', 'PENDING', 'INSYNC')),
    change_description TEXT,
    created_at         INTEGER NOT NULL,
    consumed_at        INTEGER,
    insync_at          INTEGER
);

CREATE UNIQUE INDEX change_tokens_one_provisioned_per_scope
    ON change_tokens (account_id, endpoint, region)
    WHERE status = 'PROVISIONED';

CREATE INDEX change_tokens_insync_at ON change_tokens (insync_at) WHERE status = 'INSYNC';

CREATE TABLE resource_requests (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    request_token        TEXT NOT NULL UNIQUE,
    account_id           TEXT NOT NULL,
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
    event_count          INTEGER NOT NULL
);

CREATE UNIQUE INDEX resource_requests_client_token
    ON resource_requests (account_id, client_token)
    WHERE client_token IS NOT NULL;

CREATE INDEX resource_requests_account_seq ON resource_requests (account_id, seq DESC);

CREATE INDEX resource_requests_account_status_seq
    ON resource_requests (account_id, operation_status, seq DESC);

CREATE INDEX resource_requests_created_at ON resource_requests (created_at);

CREATE TABLE progress_events (
    request_token    TEXT NOT NULL REFERENCES resource_requests (request_token) ON DELETE CASCADE,
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
