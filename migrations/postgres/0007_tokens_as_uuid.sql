-- Request and change tokens are stored as `uuid` (16 bytes) instead of
-- their 36-character text: the primary keys, the event tables' keys and
-- the foreign keys between them are less than half the size, so the hot
-- part of the indexes of millions of requests stays in cache. The service
-- converts to and from the lowercase hyphenated form it always wrote.
--
-- Every token statusgate has written is such a UUID. Were a row to hold
-- anything else (written by hand into the database), converting it would
-- change or lose its string, so this migration stops instead and changes
-- nothing (it runs in one transaction).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM resource_requests
               WHERE request_token !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
       OR EXISTS (SELECT 1 FROM change_tokens
               WHERE change_token !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
    THEN
        RAISE EXCEPTION 'a stored request or change token is not a lowercase UUID; '
            'statusgate writes only those, so the row was written by something else: '
            'correct or remove it, then start statusgate again';
    END IF;
END
$$;

ALTER TABLE progress_events DROP CONSTRAINT progress_events_request_token_fkey;
ALTER TABLE hook_progress_events DROP CONSTRAINT hook_progress_events_request_token_fkey;

ALTER TABLE resource_requests ALTER COLUMN request_token TYPE uuid USING request_token::uuid;
ALTER TABLE progress_events ALTER COLUMN request_token TYPE uuid USING request_token::uuid;
ALTER TABLE hook_progress_events ALTER COLUMN request_token TYPE uuid USING request_token::uuid;

ALTER TABLE progress_events ADD CONSTRAINT progress_events_request_token_fkey
    FOREIGN KEY (request_token) REFERENCES resource_requests (request_token) ON DELETE CASCADE;
ALTER TABLE hook_progress_events ADD CONSTRAINT hook_progress_events_request_token_fkey
    FOREIGN KEY (request_token) REFERENCES resource_requests (request_token) ON DELETE CASCADE;

ALTER TABLE change_tokens ALTER COLUMN change_token TYPE uuid USING change_token::uuid;
