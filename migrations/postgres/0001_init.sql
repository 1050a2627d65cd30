-- statusgate schema for Postgres. Times are microseconds since the Unix epoch
-- (BIGINT), the same representation as the SQLite schema.

CREATE TABLE change_tokens (
    change_token       TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL,
    endpoint           TEXT NOT NULL CHECK (endpoint IN ('GLOBAL', 'REGIONAL')),
    -- '' for WAF global
    region             TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('PROVISIONED', 'PENDING', 'INSYNC')),
    change_description TEXT,
    created_at         BIGINT NOT NULL,
    consumed_at        BIGINT,
    insync_at          BIGINT
);

-- At most one outstanding token per scope; GetChangeToken upserts against it.
CREATE UNIQUE INDEX change_tokens_one_provisioned_per_scope
    ON change_tokens (account_id, endpoint, region)
    WHERE status = 'PROVISIONED';

-- The purge walks INSYNC tokens oldest first.
CREATE INDEX change_tokens_insync_at ON change_tokens (insync_at) WHERE status = 'INSYNC';

CREATE TABLE resource_requests (
    -- Listing order and pagination cursor (newest first).
    seq                  BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    request_token        TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL,
    client_token         TEXT,
    created_at           BIGINT NOT NULL,
    -- What the caller asked for.
    operation            TEXT NOT NULL,
    type_name            TEXT NOT NULL,
    requested_identifier TEXT,
    desired_state        TEXT,
    patch_document       TEXT,
    role_arn             TEXT,
    type_version_id      TEXT,
    -- The current state: a copy of the latest progress event.
    operation_status     TEXT NOT NULL,
    identifier           TEXT,
    resource_model       TEXT,
    status_message       TEXT,
    error_code           TEXT,
    retry_after          BIGINT,
    event_time           BIGINT NOT NULL,
    event_count          BIGINT NOT NULL
);

CREATE UNIQUE INDEX resource_requests_client_token
    ON resource_requests (account_id, client_token)
    WHERE client_token IS NOT NULL;

-- ListResourceRequests: one account, newest first, keyset on seq.
CREATE INDEX resource_requests_account_seq ON resource_requests (account_id, seq DESC);

-- ListResourceRequests filtered by status.
CREATE INDEX resource_requests_account_status_seq
    ON resource_requests (account_id, operation_status, seq DESC);

-- The purge walks requests oldest first.
CREATE INDEX resource_requests_created_at ON resource_requests (created_at);

CREATE TABLE progress_events (
    request_token    TEXT NOT NULL REFERENCES resource_requests (request_token) ON DELETE CASCADE,
    seq              BIGINT NOT NULL,
    operation_status TEXT NOT NULL,
    identifier       TEXT,
    resource_model   TEXT,
    status_message   TEXT,
    error_code       TEXT,
    retry_after      BIGINT,
    event_time       BIGINT NOT NULL,
    PRIMARY KEY (request_token, seq)
);
