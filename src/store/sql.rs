//! The SQL both backends share, and the one [`Store`](super::Store)
//! implementation built from it. Postgres and SQLite agree on `$N`
//! parameters, partial unique indexes, `INSERT ... ON CONFLICT` and
//! `RETURNING`; each backend supplies only what differs: how a write
//! transaction starts, how a request row is locked, and how a list filter is
//! bound.

/// The columns of [`RequestRow`](super::rows::RequestRow), in order.
macro_rules! request_columns {
    () => {
        "seq, request_token, account_id, client_token, operation, type_name, \
         requested_identifier, desired_state, patch_document, role_arn, type_version_id, \
         operation_status, identifier, resource_model, status_message, error_code, \
         retry_after, event_time, event_count, created_at"
    };
}
pub(super) use request_columns;

/// Returns the scope's `PROVISIONED` token, inserting `$1` when there is none.
/// The no-op update makes `RETURNING` yield the existing row on conflict.
pub const PROVISION_CHANGE_TOKEN: &str = "\
    INSERT INTO change_tokens (change_token, account_id, endpoint, region, status, created_at) \
    VALUES ($1, $2, $3, $4, 'PROVISIONED', $5) \
    ON CONFLICT (account_id, endpoint, region) WHERE status = 'PROVISIONED' \
    DO UPDATE SET status = change_tokens.status \
    RETURNING change_token";

/// The columns of [`ChangeTokenRow`](super::rows::ChangeTokenRow).
macro_rules! change_token_columns {
    () => {
        "change_token, account_id, endpoint, region, status, insync_at"
    };
}
pub(super) use change_token_columns;

/// One token by key; the caller checks its scope and visibility.
pub const SELECT_CHANGE_TOKEN: &str = concat!(
    "SELECT ",
    change_token_columns!(),
    " FROM change_tokens WHERE change_token = $1"
);

/// One request by key; the caller checks its account and visibility.
pub const SELECT_REQUEST_BY_TOKEN: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM resource_requests WHERE request_token = $1"
);

pub const CONSUME_CHANGE_TOKEN: &str = "\
    UPDATE change_tokens SET status = 'PENDING', change_description = $5, consumed_at = $6 \
    WHERE change_token = $1 AND account_id = $2 AND endpoint = $3 AND region = $4 \
      AND status = 'PROVISIONED'";

pub const MARK_CHANGE_TOKEN_IN_SYNC: &str = "\
    UPDATE change_tokens SET status = 'INSYNC', insync_at = $5 \
    WHERE change_token = $1 AND account_id = $2 AND endpoint = $3 AND region = $4 \
      AND status = 'PENDING'";

pub const PURGE_CHANGE_TOKENS: &str = "\
    DELETE FROM change_tokens WHERE change_token IN ( \
      SELECT change_token FROM change_tokens \
      WHERE status = 'INSYNC' AND insync_at < $1 ORDER BY insync_at LIMIT $2)";

/// Simulated propagation: `PENDING -> INSYNC` for up to `$3` tokens used at
/// or before `$1`, oldest first, with `insync_at = $2`. The outer
/// `status = 'PENDING'` is what makes concurrent runs safe: on Postgres a
/// statement that waited for another one's row lock re-evaluates its WHERE
/// clause against the committed row and skips tokens already `INSYNC`; SQLite
/// runs one writer at a time. Two such statements lock their rows in the same
/// (plan) order; were they ever to deadlock, Postgres aborts one with 40P01,
/// which is `Unavailable` and retried by the caller's next tick.
pub const MARK_DUE_CHANGE_TOKENS_IN_SYNC: &str = "\
    UPDATE change_tokens SET status = 'INSYNC', insync_at = $2 \
    WHERE status = 'PENDING' AND change_token IN ( \
      SELECT change_token FROM change_tokens \
      WHERE status = 'PENDING' AND consumed_at <= $1 ORDER BY consumed_at LIMIT $3)";

/// Inserts a request in `PENDING`; on a taken client token inserts nothing.
pub const INSERT_REQUEST: &str = concat!(
    "INSERT INTO resource_requests (request_token, account_id, client_token, created_at, \
       operation, type_name, requested_identifier, desired_state, patch_document, role_arn, \
       type_version_id, operation_status, identifier, event_time, event_count) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'PENDING', $7, $4, 1) \
     ON CONFLICT (account_id, client_token) WHERE client_token IS NOT NULL DO NOTHING \
     RETURNING ",
    request_columns!()
);

pub const SELECT_REQUEST_BY_CLIENT_TOKEN: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM resource_requests WHERE account_id = $1 AND client_token = $2"
);

/// `$3`: requests created before this time are invisible.
pub const SELECT_REQUEST: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM resource_requests WHERE request_token = $1 AND account_id = $2 AND created_at >= $3"
);

/// Requests not in a terminal status whose latest event is at or before
/// `$1`, created at or after `$2`, oldest latest event first, at most `$3`.
/// The status list is written exactly as in the partial index
/// `resource_requests_unfinished_event_time`, which SQLite needs to use it.
/// A plain read: it locks nothing (see `Store::list_unfinished_resource_requests`).
pub const LIST_UNFINISHED_REQUESTS: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM resource_requests \
     WHERE operation_status IN ('PENDING', 'IN_PROGRESS', 'CANCEL_IN_PROGRESS') \
       AND event_time <= $1 AND created_at >= $2 \
     ORDER BY event_time LIMIT $3"
);

pub const INSERT_EVENT: &str = "\
    INSERT INTO progress_events (request_token, seq, operation_status, identifier, \
      resource_model, status_message, error_code, retry_after, event_time) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

pub const UPDATE_REQUEST_STATE: &str = "\
    UPDATE resource_requests SET operation_status = $2, identifier = $3, resource_model = $4, \
      status_message = $5, error_code = $6, retry_after = $7, event_time = $8, event_count = $9 \
    WHERE request_token = $1";

pub const LIST_PROGRESS_EVENTS: &str = "\
    SELECT r.request_token, r.type_name, r.operation, e.operation_status, e.identifier, \
      e.resource_model, e.status_message, e.error_code, e.retry_after, e.event_time \
    FROM resource_requests r JOIN progress_events e ON e.request_token = r.request_token \
    WHERE r.request_token = $1 AND r.account_id = $2 AND r.created_at >= $3 \
    ORDER BY e.seq";

pub const PURGE_REQUESTS: &str = "\
    DELETE FROM resource_requests WHERE request_token IN ( \
      SELECT request_token FROM resource_requests WHERE created_at < $1 \
      ORDER BY created_at LIMIT $2)";

/// Writes `impl Store for $store` from the shared SQL. The backend type
/// provides what differs between the dialects: `pool` (reads), `writer`
/// (single-statement writes), `begin_write`, `provision` and `create` (the
/// Postgres ones coalesce), `find_change_token` and `find_request` (lookups
/// by key), `SELECT_REQUEST_FOR_UPDATE`, `LIST_REQUESTS`, `filter_param`
/// and `classify`.
///
/// A macro rather than a function generic over `sqlx::Database`: the generic
/// version needs a wall of higher-ranked executor bounds that obscure the
/// SQL, which is the part worth reading.
macro_rules! impl_store_with_shared_sql {
    ($store:ty, $backend:literal, $db_system:literal) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self, within: std::time::Duration) -> Result<(), StoreError> {
                let query = sqlx::query("SELECT 1").execute(&self.pool);
                let answered = match tokio::time::timeout(within, query).await {
                    Ok(executed) => executed.map(|_| ()).map_err(Self::classify),
                    Err(_) => Err(StoreError::Unavailable(format!(
                        "no answer within {within:?}"
                    ))),
                };
                self.availability.record_ping(answered.is_ok());
                answered
            }

            fn pool_connections(&self) -> $crate::store::PoolConnections {
                let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
                $crate::store::PoolConnections {
                    in_use: self.pool.size().saturating_sub(idle),
                    idle,
                }
            }

            async fn close(&self) {
                self.pool.close().await;
                self.writer().close().await;
            }

            #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = $db_system))]
            async fn provision_change_token(
                &self,
                scope: &ChangeTokenScope,
                candidate: &ChangeToken,
                now: Timestamp,
            ) -> Result<ChangeToken, StoreError> {
                self.availability.check()?;
                let token = self.provision(scope, candidate, now).await?;
                ChangeToken::parse(token.as_str()).map_err(|_| {
                    StoreError::Internal(format!("stored change token {token:?} is not valid"))
                })
            }

            #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = $db_system))]
            async fn change_token_status(
                &self,
                scope: &ChangeTokenScope,
                token: &ChangeToken,
                in_sync_visible_since: Timestamp,
            ) -> Result<ChangeTokenStatus, StoreError> {
                self.availability.check()?;
                let row = self
                    .find_change_token(token)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                row.status_seen_from(scope, in_sync_visible_since)?
                    .ok_or(StoreError::NotFound)
            }

            #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = $db_system))]
            async fn consume_change_token(
                &self,
                scope: &ChangeTokenScope,
                token: &ChangeToken,
                description: &ChangeDescription,
                now: Timestamp,
                in_sync_visible_since: Timestamp,
            ) -> Result<(), StoreError> {
                self.availability.check()?;
                let consumed = sqlx::query(sql::CONSUME_CHANGE_TOKEN)
                    .bind(token.as_str())
                    .bind(scope.account().as_str())
                    .bind(scope.endpoint().as_str())
                    .bind(scope.region_key())
                    .bind(description.as_str())
                    .bind(now.as_micros())
                    .execute(self.writer())
                    .await
                    .map_err(Self::classify)?
                    .rows_affected();
                if consumed == 1 {
                    return Ok(());
                }
                // Either the token is unknown or somebody used it first.
                self.change_token_status(scope, token, in_sync_visible_since)
                    .await?;
                Err(StoreError::Conflict)
            }

            #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = $db_system))]
            async fn mark_change_token_in_sync(
                &self,
                scope: &ChangeTokenScope,
                token: &ChangeToken,
                now: Timestamp,
                in_sync_visible_since: Timestamp,
            ) -> Result<(), StoreError> {
                self.availability.check()?;
                let marked = sqlx::query(sql::MARK_CHANGE_TOKEN_IN_SYNC)
                    .bind(token.as_str())
                    .bind(scope.account().as_str())
                    .bind(scope.endpoint().as_str())
                    .bind(scope.region_key())
                    .bind(now.as_micros())
                    .execute(self.writer())
                    .await
                    .map_err(Self::classify)?
                    .rows_affected();
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

            #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = $db_system))]
            async fn purge_change_tokens(
                &self,
                cutoff: Timestamp,
                batch_size: u32,
            ) -> Result<u64, StoreError> {
                self.availability.check()?;
                let deleted = sqlx::query(sql::PURGE_CHANGE_TOKENS)
                    .bind(cutoff.as_micros())
                    .bind(i64::from(batch_size))
                    .execute(self.writer())
                    .await
                    .map_err(Self::classify)?
                    .rows_affected();
                Ok(deleted)
            }

            #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = $db_system))]
            async fn mark_change_tokens_in_sync_consumed_before(
                &self,
                consumed_at_or_before: Timestamp,
                now: Timestamp,
                batch_size: u32,
            ) -> Result<u64, StoreError> {
                self.availability.check()?;
                let marked = sqlx::query(sql::MARK_DUE_CHANGE_TOKENS_IN_SYNC)
                    .bind(consumed_at_or_before.as_micros())
                    .bind(now.as_micros())
                    .bind(i64::from(batch_size))
                    .execute(self.writer())
                    .await
                    .map_err(Self::classify)?
                    .rows_affected();
                Ok(marked)
            }

            #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = $db_system))]
            async fn create_resource_request(
                &self,
                request: &NewResourceRequest,
            ) -> Result<CreateOutcome, StoreError> {
                self.availability.check()?;
                self.create(request).await
            }

            #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = $db_system))]
            async fn get_resource_request(
                &self,
                account: &AccountId,
                token: &RequestToken,
                visible_since: Timestamp,
            ) -> Result<StoredResourceRequest, StoreError> {
                self.availability.check()?;
                match self.find_request(token).await? {
                    Some(row) if row.is_visible_to(account, visible_since) => row.into_stored(),
                    Some(_) | None => Err(StoreError::NotFound),
                }
            }

            #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = $db_system))]
            async fn list_resource_requests(
                &self,
                query: &ListQuery,
            ) -> Result<Vec<ListedRequest>, StoreError> {
                self.availability.check()?;
                let operations: Vec<&'static str> = if query.operations.is_empty() {
                    Operation::ALL
                        .iter()
                        .map(|operation| operation.as_str())
                        .collect()
                } else {
                    query
                        .operations
                        .iter()
                        .map(|operation| operation.as_str())
                        .collect()
                };
                let statuses: Vec<&'static str> = if query.statuses.is_empty() {
                    OperationStatus::ALL
                        .iter()
                        .map(|status| status.as_str())
                        .collect()
                } else {
                    query
                        .statuses
                        .iter()
                        .map(|status| status.as_str())
                        .collect()
                };
                let rows: Vec<RequestRow> = sqlx::query_as(Self::LIST_REQUESTS)
                    .bind(query.account.as_str())
                    .bind(query.visible_since.as_micros())
                    .bind(query.after.unwrap_or(i64::MAX))
                    .bind(Self::filter_param(&operations))
                    .bind(Self::filter_param(&statuses))
                    .bind(i64::from(query.limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(Self::classify)?;
                rows.into_iter()
                    .map(|row| {
                        Ok(ListedRequest {
                            cursor: row.seq,
                            event: row.current_event()?,
                        })
                    })
                    .collect()
            }

            #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = $db_system))]
            async fn list_unfinished_resource_requests(
                &self,
                last_event_at_or_before: Timestamp,
                visible_since: Timestamp,
                limit: u32,
            ) -> Result<Vec<StoredResourceRequest>, StoreError> {
                self.availability.check()?;
                let rows: Vec<RequestRow> = sqlx::query_as(sql::LIST_UNFINISHED_REQUESTS)
                    .bind(last_event_at_or_before.as_micros())
                    .bind(visible_since.as_micros())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(Self::classify)?;
                rows.into_iter().map(RequestRow::into_stored).collect()
            }

            #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = $db_system))]
            async fn update_resource_request(
                &self,
                account: &AccountId,
                token: &RequestToken,
                visible_since: Timestamp,
                decide: &Decide<'_>,
            ) -> Result<ProgressEvent, StoreError> {
                self.availability.check()?;
                let mut transaction = self.begin_write().await.map_err(Self::classify)?;
                let row: Option<RequestRow> = sqlx::query_as(Self::SELECT_REQUEST_FOR_UPDATE)
                    .bind(token.as_str())
                    .bind(account.as_str())
                    .bind(visible_since.as_micros())
                    .fetch_optional(&mut *transaction)
                    .await
                    .map_err(Self::classify)?;
                let stored = row.ok_or(StoreError::NotFound)?.into_stored()?;
                let event = match decide(&stored).map_err(StoreError::Rejected)? {
                    Decision::Unchanged => {
                        transaction.rollback().await.map_err(Self::classify)?;
                        return Ok(stored.current);
                    }
                    Decision::Append(event) => event,
                };
                let seq = stored.event_count + 1;
                sqlx::query(sql::UPDATE_REQUEST_STATE)
                    .bind(token.as_str())
                    .bind(event.operation_status.as_str())
                    .bind(event.identifier.as_deref())
                    .bind(event.resource_model.as_deref())
                    .bind(event.status_message.as_deref())
                    .bind(event.error_code.map(|code| code.as_str()))
                    .bind(event.retry_after.map(Timestamp::as_micros))
                    .bind(event.event_time.as_micros())
                    .bind(seq)
                    .execute(&mut *transaction)
                    .await
                    .map_err(Self::classify)?;
                insert_event(&mut transaction, &event, seq)
                    .await
                    .map_err(Self::classify)?;
                transaction.commit().await.map_err(Self::classify)?;
                Ok(event)
            }

            #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = $db_system))]
            async fn list_progress_events(
                &self,
                account: &AccountId,
                token: &RequestToken,
                visible_since: Timestamp,
            ) -> Result<Vec<ProgressEvent>, StoreError> {
                self.availability.check()?;
                let rows: Vec<EventRow> = sqlx::query_as(sql::LIST_PROGRESS_EVENTS)
                    .bind(token.as_str())
                    .bind(account.as_str())
                    .bind(visible_since.as_micros())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(Self::classify)?;
                if rows.is_empty() {
                    // Every stored request has at least its first event.
                    return Err(StoreError::NotFound);
                }
                rows.into_iter().map(EventRow::into_event).collect()
            }

            #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = $db_system))]
            async fn purge_resource_requests(
                &self,
                cutoff: Timestamp,
                batch_size: u32,
            ) -> Result<u64, StoreError> {
                self.availability.check()?;
                let deleted = sqlx::query(sql::PURGE_REQUESTS)
                    .bind(cutoff.as_micros())
                    .bind(i64::from(batch_size))
                    .execute(self.writer())
                    .await
                    .map_err(Self::classify)?
                    .rows_affected();
                Ok(deleted)
            }
        }

        async fn insert_event(
            transaction: &mut sqlx::Transaction<'static, Backend>,
            event: &ProgressEvent,
            seq: i64,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(sql::INSERT_EVENT)
                .bind(event.request_token.as_str())
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
    };
}
pub(super) use impl_store_with_shared_sql;
