//! [`ResourceRequestStore`] on SQLite. Every write is a transaction on the
//! one writer connection, begun with `BEGIN IMMEDIATE`: that takes the
//! database's write lock at once, so an update's read of the request and its
//! write cannot interleave with another writer's, and no row lock is needed.
//! An appended event is notified in-process once its transaction committed.
//! Reads run on the reader pool. `append_event` and `write_lease` are shared
//! with the claims in `leases.rs`.

use async_trait::async_trait;
use sqlx::query::QueryAs;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Sqlite, Transaction};

use super::errors::classify;
use super::{SqliteStore, json_list};
use crate::domain::Timestamp;
use crate::domain::lease::Lease;
use crate::domain::resource::{AccountRegion, ResourceChange};
use crate::domain::resource_request::{
    NewResourceRequest, NumberedEvent, ProgressEvent, StoredResourceRequest,
};
use crate::domain::values::RequestToken;
use crate::store::error::StoreError;
use crate::store::notifications::Topic;
use crate::store::resource_requests::{
    CreateOutcome, Decide, ListQuery, ListedRequest, PlannedWrite, RequestStatus,
    ResourceRequestStore,
};
use crate::store::rows::{
    EventRow, ListedRow, NumberedEventRow, RequestRow, StatusRow, inserted_request, lease_columns,
};
use crate::store::token_key::TokenKey;

/// `$2`/`$3` the account and region; `$4`: requests created before this
/// time are invisible.
pub(super) const SELECT_REQUEST: &str = "\
    SELECT * FROM resource_requests \
    WHERE request_token = $1 AND account_id = $2 AND region = $3 AND created_at >= $4";

/// The columns of [`StatusRow`]; `$2`..`$4` as for [`SELECT_REQUEST`].
const SELECT_STATUS: &str = "\
    SELECT request_token, type_name, operation, operation_status, identifier, resource_model, \
      status_message, error_code, retry_after, event_time, hooks_request_token, account_id, \
      region, created_at \
    FROM resource_requests \
    WHERE request_token = $1 AND account_id = $2 AND region = $3 AND created_at >= $4";

/// A resource takes the model of a successful `CREATE` or `UPDATE`.
const PUT_RESOURCE: &str = "\
    INSERT INTO resources (account_id, region, type_name, identifier, properties, created_at, \
      updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $6) \
    ON CONFLICT (account_id, region, type_name, identifier) \
    DO UPDATE SET properties = excluded.properties, updated_at = excluded.updated_at";

/// A successful `DELETE` removes its resource.
const REMOVE_RESOURCE: &str = "\
    DELETE FROM resources \
    WHERE account_id = $1 AND region = $2 AND type_name = $3 AND identifier = $4";

/// Inserts a request in `PENDING`; on a taken client token, or a resource
/// another unfinished change holds, inserts nothing (either unique index).
const INSERT_REQUEST: &str = "\
    INSERT INTO resource_requests (request_token, account_id, region, client_token, created_at, \
      operation, type_name, requested_identifier, desired_state, patch_document, role_arn, \
      type_version_id, operation_status, identifier, event_time, event_count) \
    VALUES ($1, $2, $12, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'PENDING', $7, $4, 1) \
    ON CONFLICT DO NOTHING";

const SELECT_REQUEST_BY_CLIENT_TOKEN: &str = "\
    SELECT * FROM resource_requests \
    WHERE account_id = $1 AND region = $2 AND client_token = $3";

/// The columns of [`ListedRow`], newest first: the first page. `$4`/`$5`
/// are the allowed operations and statuses.
const LIST_REQUESTS: &str = "\
    SELECT created_at, request_token, type_name, operation, operation_status, identifier, \
      resource_model, status_message, error_code, retry_after, event_time, hooks_request_token \
    FROM resource_requests \
    WHERE account_id = $1 AND region = $2 AND created_at >= $3 \
      AND operation IN (SELECT value FROM json_each($4)) \
      AND operation_status IN (SELECT value FROM json_each($5)) \
    ORDER BY seq DESC LIMIT $6";

/// [`LIST_REQUESTS`] after the request `$7` of the account and region (the
/// cursor): the keyset subquery is scoped to both, so another account's or
/// region's request names nothing (`seq < NULL` lists no row).
const LIST_REQUESTS_AFTER: &str = "\
    SELECT created_at, request_token, type_name, operation, operation_status, identifier, \
      resource_model, status_message, error_code, retry_after, event_time, hooks_request_token \
    FROM resource_requests \
    WHERE account_id = $1 AND region = $2 AND created_at >= $3 \
      AND operation IN (SELECT value FROM json_each($4)) \
      AND operation_status IN (SELECT value FROM json_each($5)) \
      AND seq < (SELECT seq FROM resource_requests \
        WHERE request_token = $7 AND account_id = $1 AND region = $2) \
    ORDER BY seq DESC LIMIT $6";

/// Whether `$1` is a request of account `$2` in region `$3` (told apart
/// from the end of a listing only when a page after a cursor comes back
/// empty).
const REQUEST_EXISTS: &str = "\
    SELECT 1 FROM resource_requests WHERE request_token = $1 AND account_id = $2 AND region = $3";

/// The request's whole current state: the latest event (`$2`..`$9`) and the
/// lease (`$10`..`$13`, all `NULL` for none).
const UPDATE_REQUEST_STATE: &str = "\
    UPDATE resource_requests SET operation_status = $2, identifier = $3, resource_model = $4, \
      status_message = $5, error_code = $6, retry_after = $7, event_time = $8, event_count = $9, \
      lease_token = $10, lease_worker_id = $11, lease_expires_at = $12, lease_duration = $13 \
    WHERE request_token = $1";

/// The lease alone (`$2`..`$5`, all `NULL` for none).
const UPDATE_LEASE: &str = "\
    UPDATE resource_requests SET lease_token = $2, lease_worker_id = $3, lease_expires_at = $4, \
      lease_duration = $5 \
    WHERE request_token = $1";

const INSERT_EVENT: &str = "\
    INSERT INTO progress_events (request_token, seq, operation_status, identifier, \
      resource_model, status_message, error_code, retry_after, event_time) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// The columns of [`EventRow`], oldest first.
const LIST_PROGRESS_EVENTS: &str = "\
    SELECT r.request_token, r.type_name, r.operation, e.operation_status, e.identifier, \
      e.resource_model, e.status_message, e.error_code, e.retry_after, e.event_time, \
      r.hooks_request_token \
    FROM resource_requests r JOIN progress_events e ON e.request_token = r.request_token \
    WHERE r.request_token = $1 AND r.account_id = $2 AND r.region = $3 AND r.created_at >= $4 \
    ORDER BY e.seq";

/// The columns of [`NumberedEventRow`] for events numbered after `$5`.
const LIST_PROGRESS_EVENTS_AFTER: &str = "\
    SELECT e.seq, r.request_token, r.type_name, r.operation, e.operation_status, e.identifier, \
      e.resource_model, e.status_message, e.error_code, e.retry_after, e.event_time, \
      r.hooks_request_token \
    FROM resource_requests r JOIN progress_events e ON e.request_token = r.request_token \
    WHERE r.request_token = $1 AND r.account_id = $2 AND r.region = $3 AND r.created_at >= $4 \
      AND e.seq > $5 \
    ORDER BY e.seq";

const PURGE_REQUESTS: &str = "\
    DELETE FROM resource_requests WHERE request_token IN ( \
      SELECT request_token FROM resource_requests WHERE created_at < $1 \
      ORDER BY created_at LIMIT $2)";

#[async_trait]
impl ResourceRequestStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn create_resource_request(
        &self,
        request: &NewResourceRequest,
    ) -> Result<CreateOutcome, StoreError> {
        self.availability.check()?;
        let input = &request.input;
        let mut transaction = self.begin_write().await?;
        let inserted = sqlx::query(INSERT_REQUEST)
            .bind(TokenKey::of_new(request.request_token.as_str())?)
            .bind(request.scope.account.as_str())
            .bind(request.client_token.as_ref().map(|token| token.as_str()))
            .bind(request.created_at.as_micros())
            .bind(input.operation.as_str())
            .bind(input.type_name.as_str())
            .bind(input.identifier.as_ref().map(|value| value.as_str()))
            .bind(input.desired_state.as_ref().map(|value| value.as_str()))
            .bind(input.patch_document.as_ref().map(|value| value.as_str()))
            .bind(input.role_arn.as_ref().map(|value| value.as_str()))
            .bind(input.type_version_id.as_ref().map(|value| value.as_str()))
            .bind(request.scope.region.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(classify)?
            .rows_affected();
        if inserted == 0 {
            // Within the write lock: the row that refused this one is there.
            let holder: Option<RequestRow> = match &request.client_token {
                Some(client_token) => sqlx::query_as(SELECT_REQUEST_BY_CLIENT_TOKEN)
                    .bind(request.scope.account.as_str())
                    .bind(request.scope.region.as_str())
                    .bind(client_token.as_str())
                    .fetch_optional(&mut *transaction)
                    .await
                    .map_err(classify)?,
                None => None,
            };
            transaction.rollback().await.map_err(classify)?;
            return match holder {
                Some(holder) => Ok(CreateOutcome::ClientTokenTaken(holder.into_stored()?)),
                None => Ok(CreateOutcome::ResourceBusy),
            };
        }
        insert_event(&mut transaction, &request.first_event(), 1)
            .await
            .map_err(classify)?;
        transaction.commit().await.map_err(classify)?;
        Ok(CreateOutcome::Created(inserted_request(request.clone())))
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn get_resource_request(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        visible_since: Timestamp,
    ) -> Result<StoredResourceRequest, StoreError> {
        self.availability.check()?;
        let row: Option<RequestRow> = request_in_scope(SELECT_REQUEST, token, scope, visible_since)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.ok_or(StoreError::NotFound)?.into_stored()
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn get_resource_request_status(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        visible_since: Timestamp,
    ) -> Result<RequestStatus, StoreError> {
        self.availability.check()?;
        let row: Option<StatusRow> = request_in_scope(SELECT_STATUS, token, scope, visible_since)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.ok_or(StoreError::NotFound)?.into_status()
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn list_resource_requests(
        &self,
        query: &ListQuery,
    ) -> Result<Vec<ListedRequest>, StoreError> {
        self.availability.check()?;
        let sql = if query.after.is_some() {
            LIST_REQUESTS_AFTER
        } else {
            LIST_REQUESTS
        };
        let mut list = sqlx::query_as(sql)
            .bind(query.scope.account.as_str())
            .bind(query.scope.region.as_str())
            .bind(query.visible_since.as_micros())
            .bind(json_list(&query.operation_names()))
            .bind(json_list(&query.status_names()))
            .bind(i64::from(query.limit));
        if let Some(after) = &query.after {
            list = list.bind(TokenKey::of(after.as_str()));
        }
        let rows: Vec<ListedRow> = list.fetch_all(&self.pool).await.map_err(classify)?;
        if let (true, Some(after)) = (rows.is_empty(), &query.after) {
            let exists: Option<i32> = sqlx::query_scalar(REQUEST_EXISTS)
                .bind(TokenKey::of(after.as_str()))
                .bind(query.scope.account.as_str())
                .bind(query.scope.region.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(classify)?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
        }
        rows.into_iter().map(ListedRow::into_listed).collect()
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn update_resource_request(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        visible_since: Timestamp,
        decide: &Decide<'_>,
    ) -> Result<ProgressEvent, StoreError> {
        self.availability.check()?;
        let mut transaction = self.begin_write().await?;
        // `BEGIN IMMEDIATE` already holds the write lock; no row lock needed.
        let row: Option<RequestRow> = request_in_scope(SELECT_REQUEST, token, scope, visible_since)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(classify)?;
        let stored = row.ok_or(StoreError::NotFound)?.into_stored()?;
        let decision = decide(&stored).map_err(StoreError::Rejected)?;
        let Some(write) = PlannedWrite::from_decision(&stored, decision) else {
            transaction.rollback().await.map_err(classify)?;
            return Ok(stored.current);
        };
        let Some(event) = write.event else {
            write_lease(&mut transaction, token, write.lease.as_ref())
                .await
                .map_err(classify)?;
            transaction.commit().await.map_err(classify)?;
            return Ok(stored.current);
        };
        let seq = stored.event_count + 1;
        append_event(&mut transaction, token, &event, seq, write.lease.as_ref())
            .await
            .map_err(classify)?;
        if let Some(change) = &write.resource {
            change_resource(&mut transaction, scope, change, event.event_time)
                .await
                .map_err(classify)?;
        }
        transaction.commit().await.map_err(classify)?;
        self.announce_request_event(token.as_str());
        Ok(event)
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn list_progress_events(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        visible_since: Timestamp,
    ) -> Result<Vec<ProgressEvent>, StoreError> {
        self.availability.check()?;
        let rows: Vec<EventRow> =
            request_in_scope(LIST_PROGRESS_EVENTS, token, scope, visible_since)
                .fetch_all(&self.pool)
                .await
                .map_err(classify)?;
        if rows.is_empty() {
            // Every stored request has at least its first event.
            return Err(StoreError::NotFound);
        }
        rows.into_iter().map(EventRow::into_event).collect()
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn list_progress_events_after(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        visible_since: Timestamp,
        after_number: i64,
    ) -> Result<Vec<NumberedEvent>, StoreError> {
        self.availability.check()?;
        let rows: Vec<NumberedEventRow> =
            request_in_scope(LIST_PROGRESS_EVENTS_AFTER, token, scope, visible_since)
                .bind(after_number)
                .fetch_all(&self.pool)
                .await
                .map_err(classify)?;
        if rows.is_empty() {
            // Nothing new, or no such request: the status read tells which.
            self.get_resource_request_status(scope, token, visible_since)
                .await?;
        }
        rows.into_iter()
            .map(NumberedEventRow::into_numbered)
            .collect()
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn purge_resource_requests(
        &self,
        cutoff: Timestamp,
        batch_size: u32,
    ) -> Result<u64, StoreError> {
        self.availability.check()?;
        self.write(
            sqlx::query(PURGE_REQUESTS)
                .bind(cutoff.as_micros())
                .bind(i64::from(batch_size)),
        )
        .await
    }
}

/// `sql` with the parameters that name one request as its account and
/// region see it: `$1` the token, `$2` the account, `$3` the region, `$4`
/// the creation time before which requests are invisible.
pub(super) fn request_in_scope<'q, Row>(
    sql: &'q str,
    token: &'q RequestToken,
    scope: &'q AccountRegion,
    visible_since: Timestamp,
) -> QueryAs<'q, Sqlite, Row, SqliteArguments<'q>>
where
    Row: for<'row> sqlx::FromRow<'row, SqliteRow>,
{
    sqlx::query_as(sql)
        .bind(TokenKey::of(token.as_str()))
        .bind(scope.account.as_str())
        .bind(scope.region.as_str())
        .bind(visible_since.as_micros())
}

impl SqliteStore {
    /// Wakes the watchers of a request whose new event has committed.
    pub(super) fn announce_request_event(&self, token: &str) {
        self.fan_out.notify(&Topic::RequestEvents(token.to_owned()));
    }
}

/// Replaces the lease of request `token` (`None` releases it).
pub(super) async fn write_lease(
    transaction: &mut Transaction<'static, Sqlite>,
    token: &RequestToken,
    lease: Option<&Lease>,
) -> Result<(), sqlx::Error> {
    let (lease_token, worker_id, expires_at, duration) = lease_columns(lease);
    sqlx::query(UPDATE_LEASE)
        .bind(TokenKey::of(token.as_str()))
        .bind(lease_token)
        .bind(worker_id)
        .bind(expires_at)
        .bind(duration)
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

/// Makes `event` (with `lease`) the current state of request `token` and
/// appends it to the history as event number `seq`.
pub(super) async fn append_event(
    transaction: &mut Transaction<'static, Sqlite>,
    token: &RequestToken,
    event: &ProgressEvent,
    seq: i64,
    lease: Option<&Lease>,
) -> Result<(), sqlx::Error> {
    let (lease_token, worker_id, expires_at, duration) = lease_columns(lease);
    sqlx::query(UPDATE_REQUEST_STATE)
        .bind(TokenKey::of(token.as_str()))
        .bind(event.operation_status.as_str())
        .bind(event.identifier.as_deref())
        .bind(event.resource_model.as_deref())
        .bind(event.status_message.as_deref())
        .bind(event.error_code.map(|code| code.as_str()))
        .bind(event.retry_after.map(Timestamp::as_micros))
        .bind(event.event_time.as_micros())
        .bind(seq)
        .bind(lease_token)
        .bind(worker_id)
        .bind(expires_at)
        .bind(duration)
        .execute(&mut **transaction)
        .await?;
    insert_event(transaction, event, seq).await
}

/// Appends `event` to its request's history as event number `seq`.
async fn insert_event(
    transaction: &mut Transaction<'static, Sqlite>,
    event: &ProgressEvent,
    seq: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(INSERT_EVENT)
        .bind(TokenKey::of(&event.request_token))
        .bind(seq)
        .bind(event.operation_status.as_str())
        .bind(event.identifier.as_deref())
        .bind(event.resource_model.as_deref())
        .bind(event.status_message.as_deref())
        .bind(event.error_code.map(|code| code.as_str()))
        .bind(event.retry_after.map(Timestamp::as_micros))
        .bind(event.event_time.as_micros())
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

/// Writes what a request's `SUCCESS` does to its resource, at `now`.
async fn change_resource(
    transaction: &mut Transaction<'static, Sqlite>,
    scope: &AccountRegion,
    change: &ResourceChange,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let statement = match change {
        ResourceChange::Put {
            type_name,
            identifier,
            properties,
        } => sqlx::query(PUT_RESOURCE)
            .bind(scope.account.as_str())
            .bind(scope.region.as_str())
            .bind(type_name.as_str())
            .bind(identifier.as_str())
            .bind(properties.as_str())
            .bind(now.as_micros()),
        ResourceChange::Remove {
            type_name,
            identifier,
        } => sqlx::query(REMOVE_RESOURCE)
            .bind(scope.account.as_str())
            .bind(scope.region.as_str())
            .bind(type_name.as_str())
            .bind(identifier.as_str()),
    };
    statement.execute(&mut **transaction).await?;
    Ok(())
}
