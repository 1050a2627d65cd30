//! [`ChangeTokenStore`] on Postgres. Provisioning and status lookups go
//! through the coalescers (`coalesced.rs`); the state changes are single
//! `UPDATE ... WHERE status = ...` statements, so that of concurrent callers
//! exactly one moves a token. Each of them sends `NOTIFY` for the tokens it
//! moved, in the same statement (`pg_notify` over its `RETURNING` rows), so
//! watchers hear of a change exactly when it commits.

use async_trait::async_trait;
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;

use super::PostgresStore;
use super::errors::classify;
use super::listener::CHANGE_TOKENS_CHANNEL;
use crate::domain::Timestamp;
use crate::domain::change_token::{ChangeTokenScope, ChangeTokenStatus, ChangeTokenSummary};
use crate::domain::values::{ChangeDescription, ChangeToken};
use crate::store::change_tokens::{ChangeTokenListQuery, ChangeTokenStore};
use crate::store::error::StoreError;
use crate::store::rows::{ListedChangeTokenRow, stored_change_token};
use crate::store::token_key::TokenKey;

/// `$7` is the notification channel.
const CONSUME_CHANGE_TOKEN: &str = "\
    WITH consumed AS ( \
      UPDATE change_tokens SET status = 'PENDING', change_description = $5, consumed_at = $6 \
      WHERE change_token = $1 AND account_id = $2 AND endpoint = $3 AND region = $4 \
        AND status = 'PROVISIONED' \
      RETURNING change_token) \
    SELECT pg_notify($7, change_token::text) FROM consumed";

/// `$6` is the notification channel.
const MARK_CHANGE_TOKEN_IN_SYNC: &str = "\
    WITH marked AS ( \
      UPDATE change_tokens SET status = 'INSYNC', insync_at = $5 \
      WHERE change_token = $1 AND account_id = $2 AND endpoint = $3 AND region = $4 \
        AND status = 'PENDING' \
      RETURNING change_token) \
    SELECT pg_notify($6, change_token::text) FROM marked";

/// The columns of [`ListedChangeTokenRow`] for a page of the account `$1`'s
/// tokens on the endpoints `$2`, WAF Regional ones in region `$3` (`''`: any),
/// with the statuses `$4`, not `INSYNC` since before `$5`, newest first,
/// after the position (`$7`, `$8`; see `ChangeTokenListQuery::seek_after`):
/// a keyset seek on `change_tokens_account_created_at`.
const LIST_CHANGE_TOKENS: &str = "\
    SELECT change_token, account_id, endpoint, region, status, change_description, \
      created_at, consumed_at, insync_at \
    FROM change_tokens \
    WHERE account_id = $1 AND endpoint = ANY($2) \
      AND (endpoint = 'GLOBAL' OR $3 = '' OR region = $3) \
      AND status = ANY($4) \
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
/// `status = 'PENDING'` is what makes concurrent runs safe: a statement that
/// waited for another one's row lock re-evaluates its WHERE clause against
/// the committed row and skips tokens already `INSYNC`. Two such statements
/// lock their rows in the same (plan) order; were they ever to deadlock,
/// Postgres aborts one with 40P01, which is `Unavailable` and retried by the
/// caller's next tick.
/// `$4` is the notification channel.
const MARK_DUE_CHANGE_TOKENS_IN_SYNC: &str = "\
    WITH marked AS ( \
      UPDATE change_tokens SET status = 'INSYNC', insync_at = $2 \
      WHERE status = 'PENDING' AND change_token IN ( \
        SELECT change_token FROM change_tokens \
        WHERE status = 'PENDING' AND consumed_at <= $1 ORDER BY consumed_at LIMIT $3) \
      RETURNING change_token) \
    SELECT pg_notify($4, change_token::text) FROM marked";

#[async_trait]
impl ChangeTokenStore for PostgresStore {
    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
    async fn provision_change_token(
        &self,
        scope: &ChangeTokenScope,
        candidate: &ChangeToken,
        now: Timestamp,
    ) -> Result<ChangeToken, StoreError> {
        self.availability.check()?;
        let token = self.coalesced.provision(scope, candidate, now).await?;
        stored_change_token(token)
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
    async fn change_token_status(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
        in_sync_visible_since: Timestamp,
    ) -> Result<ChangeTokenStatus, StoreError> {
        self.availability.check()?;
        let row = self
            .coalesced
            .change_token(token)
            .await?
            .ok_or(StoreError::NotFound)?;
        row.status_seen_from(scope, in_sync_visible_since)?
            .ok_or(StoreError::NotFound)
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
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
            .write_notifying(
                token_in_scope(CONSUME_CHANGE_TOKEN, scope, token)
                    .bind(description.as_str())
                    .bind(now.as_micros())
                    .bind(CHANGE_TOKENS_CHANNEL),
            )
            .await?;
        if consumed == 1 {
            return Ok(());
        }
        // Either the token is unknown or somebody used it first.
        self.change_token_status(scope, token, in_sync_visible_since)
            .await?;
        Err(StoreError::Conflict)
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
    async fn mark_change_token_in_sync(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
        now: Timestamp,
        in_sync_visible_since: Timestamp,
    ) -> Result<(), StoreError> {
        self.availability.check()?;
        let marked = self
            .write_notifying(
                token_in_scope(MARK_CHANGE_TOKEN_IN_SYNC, scope, token)
                    .bind(now.as_micros())
                    .bind(CHANGE_TOKENS_CHANNEL),
            )
            .await?;
        if marked == 1 {
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

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
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
            .bind(query.endpoint_names())
            .bind(query.region_key())
            .bind(query.status_names())
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

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
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

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
    async fn mark_change_tokens_in_sync_consumed_before(
        &self,
        consumed_at_or_before: Timestamp,
        now: Timestamp,
        batch_size: u32,
    ) -> Result<u64, StoreError> {
        self.availability.check()?;
        self.write_notifying(
            sqlx::query(MARK_DUE_CHANGE_TOKENS_IN_SYNC)
                .bind(consumed_at_or_before.as_micros())
                .bind(now.as_micros())
                .bind(i64::from(batch_size))
                .bind(CHANGE_TOKENS_CHANNEL),
        )
        .await
    }
}

impl PostgresStore {
    /// Runs one of the notifying statements above (one row per token it
    /// moved); returns how many tokens it moved.
    async fn write_notifying(
        &self,
        statement: Query<'_, Postgres, PgArguments>,
    ) -> Result<u64, StoreError> {
        let rows = statement.fetch_all(&self.pool).await.map_err(classify)?;
        Ok(rows.len() as u64)
    }
}

/// `sql` with the parameters that name one token in one scope: `$1` the
/// token, `$2` to `$4` the account, endpoint and region.
fn token_in_scope<'q>(
    sql: &'q str,
    scope: &'q ChangeTokenScope,
    token: &'q ChangeToken,
) -> Query<'q, Postgres, PgArguments> {
    sqlx::query(sql)
        .bind(TokenKey::of(token.as_str()))
        .bind(scope.account().as_str())
        .bind(scope.endpoint().as_str())
        .bind(scope.region_key())
}
