//! [`HookProgressStore`] on Postgres: a hook event is recorded under the
//! request's lock (as an update is), numbered after the request's last one.

use async_trait::async_trait;

use super::PostgresStore;
use super::errors::classify;
use super::resource_requests::{SELECT_REQUEST_FOR_UPDATE, request_in_scope};
use crate::domain::Timestamp;
use crate::domain::hooks::HookProgressEvent;
use crate::domain::resource::AccountRegion;
use crate::domain::values::RequestToken;
use crate::store::error::StoreError;
use crate::store::hooks::{DecideHook, HookProgressStore};
use crate::store::rows::{HookRow, RequestRow};
use crate::store::token_key::TokenKey;

/// Gives the request its hooks request token (`$2`) unless it has one.
const SET_HOOKS_REQUEST_TOKEN: &str = "\
    UPDATE resource_requests SET hooks_request_token = COALESCE(hooks_request_token, $2) \
    WHERE request_token = $1 RETURNING hooks_request_token";

const INSERT_HOOK_EVENT: &str = "\
    INSERT INTO hook_progress_events (request_token, seq, hook_type_name, hook_type_version_id, \
      hook_type_arn, invocation_point, hook_status, hook_event_time, hook_status_message, \
      failure_mode) \
    SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9 \
    FROM hook_progress_events WHERE request_token = $1";

const LIST_HOOK_EVENTS: &str = "\
    SELECT hook_type_name, hook_type_version_id, hook_type_arn, invocation_point, hook_status, \
      hook_event_time, hook_status_message, failure_mode \
    FROM hook_progress_events WHERE request_token = $1 ORDER BY seq";

#[async_trait]
impl HookProgressStore for PostgresStore {
    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
    async fn record_hook_progress_event(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        visible_since: Timestamp,
        decide: &DecideHook<'_>,
        hooks_request_token: &str,
        hook: &HookProgressEvent,
    ) -> Result<String, StoreError> {
        self.availability.check()?;
        let mut transaction = self.pool.begin().await.map_err(classify)?;
        let row: Option<RequestRow> =
            request_in_scope(SELECT_REQUEST_FOR_UPDATE, token, scope, visible_since)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(classify)?;
        let stored = row.ok_or(StoreError::NotFound)?.into_stored()?;
        decide(&stored).map_err(StoreError::Rejected)?;
        let hooks_request_token: String = sqlx::query_scalar(SET_HOOKS_REQUEST_TOKEN)
            .bind(TokenKey::of(token.as_str()))
            .bind(hooks_request_token)
            .fetch_one(&mut *transaction)
            .await
            .map_err(classify)?;
        sqlx::query(INSERT_HOOK_EVENT)
            .bind(TokenKey::of(token.as_str()))
            .bind(hook.hook_type_name.as_str())
            .bind(hook.hook_type_version_id.as_deref())
            .bind(hook.hook_type_arn.as_deref())
            .bind(hook.invocation_point.as_str())
            .bind(hook.hook_status.as_str())
            .bind(hook.hook_event_time.as_micros())
            .bind(hook.hook_status_message.as_deref())
            .bind(hook.failure_mode.as_deref())
            .execute(&mut *transaction)
            .await
            .map_err(classify)?;
        transaction.commit().await.map_err(classify)?;
        Ok(hooks_request_token)
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
    async fn list_hook_progress_events(
        &self,
        token: &RequestToken,
    ) -> Result<Vec<HookProgressEvent>, StoreError> {
        self.availability.check()?;
        let rows: Vec<HookRow> = sqlx::query_as(LIST_HOOK_EVENTS)
            .bind(TokenKey::of(token.as_str()))
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        Ok(rows.into_iter().map(HookRow::into_event).collect())
    }
}
