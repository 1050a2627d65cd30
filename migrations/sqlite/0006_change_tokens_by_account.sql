-- ListChangeTokens pages through an account's tokens newest first, with a
-- keyset seek on (created_at, change_token) after the account.
CREATE INDEX change_tokens_account_created_at
    ON change_tokens (account_id, created_at, change_token);
