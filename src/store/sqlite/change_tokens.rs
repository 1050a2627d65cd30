//! [`ChangeTokenStore`] on SQLite. Provisioning is one upsert against the
//! partial unique index; the state changes are single
//! `UPDATE ... WHERE status = ...` statements, so that of concurrent callers
//! exactly one moves a token. Writes go to the writer connection, reads to
//! the reader pool. A token that moved is notified in-process once its
//! statement has committed.

use async_trait::async_trait;
use sqlx::Sqlite;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;

use super::errors::classify;
use super::{SqliteStore, json_list};
use crate::domain::Timestamp;
use crate::domain::change_token::{ChangeTokenScope, ChangeTokenStatus, ChangeTokenSummary};
use crate::domain::values::{ChangeDescription, ChangeToken};
use crate::store::change_tokens::{ChangeTokenListQuery, ChangeTokenStore};
use crate::store::error::StoreError;
use crate::store::notifications::Topic;
use crate::store::rows::{ChangeTokenRow, ListedChangeTokenRow, stored_change_token};
use crate::store::token_key::TokenKey;

/// Returns the scope's `PROVISIONED` token, inserting `$1` when there is none.
/// The no-op update makes `RETURNING` yield the existing row on conflict.
const PROVISION_CHANGE_TOKEN: &str = "\
    INSERT INTO change_tokens (change_token, account_id, endpoint, region, status, created_at) \
    VALUES ($1, $2, $3, $4, 'PROVISIONED', $5) \
    ON CONFLICT (account_id, endpoint, region) WHERE status = 'PROVISIONED' \
    DO UPDATE SET status = change_tokens.status \
    RETURNING change_token";

/// One token by key; the caller checks its scope and visibility.
const SELECT_CHANGE_TOKEN: &str = "\
    SELECT change_token, account_id, endpoint, region, status, insync_at \
    FROM change_tokens WHERE change_token = $1";

const CONSUME_CHANGE_TOKEN: &str = "\
    UPDATE change_tokens SET status = 'PENDING', change_description = $5, consumed_at = $6 \
    WHERE change_token = $1 AND account_id = $2 AND endpoint = $3 AND region = $4 \
      AND status = 'PROVISIONED'";

const MARK_CHANGE_TOKEN_IN_SYNC: &str = "\
    UPDATE change_tokens SET status = 'INSYNC', insync_at = $5 \
    WHERE change_token = $1 AND account_id = $2 AND endpoint = $3 AND region = $4 \
      AND status = 'PENDING'";

/// The columns of [`ListedChangeTokenRow`] for a page of the account `$1`'s
/// tokens on the endpoints `$2`, WAF Regional ones in region `$3` (`''`: any),
/// with the statuses `$4`, not `INSYNC` since before `$5`, newest first,
/// after the position (`$7`, `$8`; see `ChangeTokenListQuery::seek_after`):
/// a keyset seek on `change_tokens_account_created_at`.
const LIST_CHANGE_TOKENS: &str = "\
    SELECT change_token, account_id, endpoint, region, status, change_description, \
      created_at, consumed_at, insync_at \
    FROM change_tokens \
    WHERE account_id = $1 AND endpoint IN (SELECT value FROM json_each($2)) \
      AND (endpoint = 'GLOBAL' OR $3 = '' OR region = $3) \
      AND status IN (SELECT value FROM json_each($4)) \
      AND (status <> 'INSYNC' OR insync_at IS NULL OR insync_at >= $5) \
      AND (created_at, change_token) < ($7, $8) \
    ORDER BY created_at DESC, change_token DESC LIMIT $6";

/// Whether `$1` is a token of account `$2` created at `$3` (a cursor's
/// position).
const CHANGE_TOKEN_EXISTS: &str = "\
    SELECT 1 FROM change_tokens WHERE change_token = $1 AND account_id = $2 AND created_at = $3";

const PURGE_CHANGE_TOKENS: &str = "\
    DELETE FROM change_tokens WHERE change_token IN ( \
      SELECT change_token FROM change_tokens \
      WHERE status = 'INSYNC' AND insync_at < $1 ORDER BY insync_at LIMIT $2)";

/// Simulated propagation: `PENDING -> INSYNC` for up to `$3` tokens used at
/// or before `$1`, oldest first, with `insync_at = $2`. The outer
/// `status = 'PENDING'` keeps a token from being moved twice; SQLite runs one
/// writer at a time, so concurrent runs simply take turns.
const MARK_DUE_CHANGE_TOKENS_IN_SYNC: &str = "\
    UPDATE change_tokens SET status = 'INSYNC', insync_at = $2 \
    WHERE status = 'PENDING' AND change_token IN ( \
      SELECT change_token FROM change_tokens \
      WHERE status = 'PENDING' AND consumed_at <= $1 ORDER BY consumed_at LIMIT $3) \
    RETURNING change_token";

#[async_trait]
impl ChangeTokenStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn provision_change_token(
        &self,
        scope: &ChangeTokenScope,
        candidate: &ChangeToken,
        now: Timestamp,
    ) -> Result<ChangeToken, StoreError> {
        self.availability.check()?;
        let token: TokenKey = sqlx::query_scalar(PROVISION_CHANGE_TOKEN)
            .bind(TokenKey::of_new(candidate.as_str())?)
            .bind(scope.account().as_str())
            .bind(scope.endpoint().as_str())
            .bind(scope.region_key())
            .bind(now.as_micros())
            .fetch_one(&self.writer)
            .await
            .map_err(classify)?;
        stored_change_token(token)
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn change_token_status(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
        in_sync_visible_since: Timestamp,
    ) -> Result<ChangeTokenStatus, StoreError> {
        self.availability.check()?;
        let row: ChangeTokenRow = sqlx::query_as(SELECT_CHANGE_TOKEN)
            .bind(TokenKey::of(token.as_str()))
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?
            .ok_or(StoreError::NotFound)?;
        row.status_seen_from(scope, in_sync_visible_since)?
            .ok_or(StoreError::NotFound)
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn consume_change_token(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
        description: &ChangeDescription,
        now: Timestamp,
        in_sync_visible_since: Timestamp,
    ) -> Result<(), StoreError> {
        self.availability.check()?;
        let consumed = self
            .write(
                token_in_scope(CONSUME_CHANGE_TOKEN, scope, token)
                    .bind(description.as_str())
                    .bind(now.as_micros()),
            )
            .await?;
        if consumed == 1 {
            self.announce_change_token(token.as_str());
            return Ok(());
        }
        // Either the token is unknown or somebody used it first.
        self.change_token_status(scope, token, in_sync_visible_since)
            .await?;
        Err(StoreError::Conflict)
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn mark_change_token_in_sync(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
        now: Timestamp,
        in_sync_visible_since: Timestamp,
    ) -> Result<(), StoreError> {
        self.availability.check()?;
        let marked = self
            .write(token_in_scope(MARK_CHANGE_TOKEN_IN_SYNC, scope, token).bind(now.as_micros()))
            .await?;
        if marked == 1 {
            self.announce_change_token(token.as_str());
            return Ok(());
        }
        match self
            .change_token_status(scope, token, in_sync_visible_since)
            .await?
        {
            ChangeTokenStatus::InSync => Ok(()),
            ChangeTokenStatus::Provisioned | ChangeTokenStatus::Pending => {
                Err(StoreError::Conflict)
            }
        }
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn list_change_tokens(
        &self,
        query: &ChangeTokenListQuery,
    ) -> Result<Vec<ChangeTokenSummary>, StoreError> {
        self.availability.check()?;
        if let Some(position) = query.position_to_check() {
            let exists: Option<i32> = sqlx::query_scalar(CHANGE_TOKEN_EXISTS)
                .bind(TokenKey::of(position.token.as_str()))
                .bind(query.account.as_str())
                .bind(position.created_at.as_micros())
                .fetch_optional(&self.pool)
                .await
                .map_err(classify)?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
        }
        let (after_created_at, after_token) = query.seek_after();
        let rows: Vec<ListedChangeTokenRow> = sqlx::query_as(LIST_CHANGE_TOKENS)
            .bind(query.account.as_str())
            .bind(json_list(&query.endpoint_names()))
            .bind(query.region_key())
            .bind(json_list(&query.status_names()))
            .bind(query.in_sync_visible_since.as_micros())
            .bind(i64::from(query.limit))
            .bind(after_created_at)
            .bind(after_token)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.into_iter()
            .map(ListedChangeTokenRow::into_summary)
            .collect()
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn purge_change_tokens(
        &self,
        cutoff: Timestamp,
        batch_size: u32,
    ) -> Result<u64, StoreError> {
        self.availability.check()?;
        self.write(
            sqlx::query(PURGE_CHANGE_TOKENS)
                .bind(cutoff.as_micros())
                .bind(i64::from(batch_size)),
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn mark_change_tokens_in_sync_consumed_before(
        &self,
        consumed_at_or_before: Timestamp,
        now: Timestamp,
        batch_size: u32,
    ) -> Result<u64, StoreError> {
        self.availability.check()?;
        let marked: Vec<TokenKey> = sqlx::query_scalar(MARK_DUE_CHANGE_TOKENS_IN_SYNC)
            .bind(consumed_at_or_before.as_micros())
            .bind(now.as_micros())
            .bind(i64::from(batch_size))
            .fetch_all(&self.writer)
            .await
            .map_err(classify)?;
        for token in &marked {
            self.announce_change_token(&token.to_token_string());
        }
        Ok(marked.len() as u64)
    }
}

impl SqliteStore {
    /// Wakes the watchers of a change token whose new status has committed.
    fn announce_change_token(&self, token: &str) {
        self.fan_out
            .notify(&Topic::ChangeTokenStatus(token.to_owned()));
    }
}

/// `sql` with the parameters that name one token in one scope: `$1` the
/// token, `$2` to `$4` the account, endpoint and region.
fn token_in_scope<'q>(
    sql: &'q str,
    scope: &'q ChangeTokenScope,
    token: &'q ChangeToken,
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    sqlx::query(sql)
        .bind(TokenKey::of(token.as_str()))
        .bind(scope.account().as_str())
        .bind(scope.endpoint().as_str())
        .bind(scope.region_key())
}
