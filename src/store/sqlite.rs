//! The SQLite store: the embedded default, so that `cargo run` works with
//! nothing else installed. One file, WAL journal, `synchronous = FULL` (an
//! acknowledged write survives power loss). SQLite admits one writer at a
//! time, so every write goes through a pool of exactly one connection:
//! concurrent writers queue in-process (fairly, bounded by the acquire
//! timeout) instead of sleeping in SQLite's busy handler or failing with
//! `database is locked`, while reads run in parallel on the other pool.
//! Write transactions still say `BEGIN IMMEDIATE`, so that another process
//! on the same file (`statusgate migrate`) cannot upgrade-deadlock them.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

use super::rows::{ChangeTokenRow, EventRow, RequestRow};
use super::sql::{self, impl_store_with_shared_sql, request_columns};
use super::{Availability, CreateOutcome, Decide, ListQuery, ListedRequest, StoreError};
use crate::domain::change_token::{ChangeTokenScope, ChangeTokenStatus};
use crate::domain::resource_request::{
    Decision, NewResourceRequest, Operation, OperationStatus, ProgressEvent, StoredResourceRequest,
};
use crate::domain::values::{ChangeDescription, ChangeToken, RequestToken};
use crate::domain::{AccountId, Timestamp};

type Backend = Sqlite;

/// How long a writer waits for the write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct SqliteStore {
    /// Readers.
    pool: SqlitePool,
    /// The one writer connection.
    writer: SqlitePool,
    availability: Availability,
}

impl SqliteStore {
    /// Opens (creating the file if needed) and applies `migrations/sqlite`.
    pub async fn connect_and_migrate(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|error| StoreError::Internal(error.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(Self::classify)?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(Self::classify)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|error| StoreError::Internal(format!("migration failed: {error}")))?;
        Ok(Self {
            pool,
            writer,
            availability: Availability::default(),
        })
    }

    /// Stores one request with its first event in one transaction.
    async fn create(&self, request: &NewResourceRequest) -> Result<CreateOutcome, StoreError> {
        let input = &request.input;
        let first = request.first_event();
        let mut transaction = self.begin_write().await.map_err(Self::classify)?;
        let inserted: Option<RequestRow> = sqlx::query_as(sql::INSERT_REQUEST)
            .bind(request.request_token.as_str())
            .bind(request.account.as_str())
            .bind(request.client_token.as_ref().map(|token| token.as_str()))
            .bind(request.created_at.as_micros())
            .bind(input.operation.as_str())
            .bind(input.type_name.as_str())
            .bind(input.identifier.as_ref().map(|value| value.as_str()))
            .bind(input.desired_state.as_ref().map(|value| value.as_str()))
            .bind(input.patch_document.as_ref().map(|value| value.as_str()))
            .bind(input.role_arn.as_ref().map(|value| value.as_str()))
            .bind(input.type_version_id.as_ref().map(|value| value.as_str()))
            .fetch_optional(&mut *transaction)
            .await
            .map_err(Self::classify)?;
        let Some(inserted) = inserted else {
            transaction.rollback().await.map_err(Self::classify)?;
            let existing: RequestRow = sqlx::query_as(sql::SELECT_REQUEST_BY_CLIENT_TOKEN)
                .bind(request.account.as_str())
                .bind(request.client_token.as_ref().map(|token| token.as_str()))
                .fetch_optional(&self.pool)
                .await
                .map_err(Self::classify)?
                .ok_or_else(|| {
                    StoreError::Unavailable("client token owner vanished; retry".into())
                })?;
            return Ok(CreateOutcome::ClientTokenTaken(existing.into_stored()?));
        };
        insert_event(&mut transaction, &first, 1)
            .await
            .map_err(Self::classify)?;
        transaction.commit().await.map_err(Self::classify)?;
        Ok(CreateOutcome::Created(inserted.into_stored()?))
    }

    async fn provision(
        &self,
        scope: &ChangeTokenScope,
        candidate: &ChangeToken,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        sqlx::query_scalar(sql::PROVISION_CHANGE_TOKEN)
            .bind(candidate.as_str())
            .bind(scope.account().as_str())
            .bind(scope.endpoint().as_str())
            .bind(scope.region_key())
            .bind(now.as_micros())
            .fetch_one(&self.writer)
            .await
            .map_err(Self::classify)
    }

    async fn find_change_token(
        &self,
        token: &ChangeToken,
    ) -> Result<Option<ChangeTokenRow>, StoreError> {
        sqlx::query_as(sql::SELECT_CHANGE_TOKEN)
            .bind(token.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(Self::classify)
    }

    async fn find_request(&self, token: &RequestToken) -> Result<Option<RequestRow>, StoreError> {
        sqlx::query_as(sql::SELECT_REQUEST_BY_TOKEN)
            .bind(token.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(Self::classify)
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    /// `BEGIN IMMEDIATE` already holds the write lock; no row lock needed.
    const SELECT_REQUEST_FOR_UPDATE: &'static str = sql::SELECT_REQUEST;

    /// `$4`/`$5` are JSON arrays of the allowed operations and statuses.
    const LIST_REQUESTS: &'static str = concat!(
        "SELECT ",
        request_columns!(),
        " FROM resource_requests \
         WHERE account_id = $1 AND created_at >= $2 AND seq < $3 \
           AND operation IN (SELECT value FROM json_each($4)) \
           AND operation_status IN (SELECT value FROM json_each($5)) \
         ORDER BY seq DESC LIMIT $6"
    );

    fn filter_param(values: &[&'static str]) -> String {
        serde_json::to_string(values).expect("a list of strings serialises")
    }

    /// `SQLITE_BUSY` and `SQLITE_LOCKED` (with their extended codes) are retryable.
    fn classify(error: sqlx::Error) -> StoreError {
        match &error {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
            sqlx::Error::Database(database_error) => {
                let primary_code = database_error
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .map(|code| code & 0xff);
                match primary_code {
                    Some(5 | 6) => StoreError::Unavailable(error.to_string()),
                    _ => StoreError::Internal(error.to_string()),
                }
            }
            _ => StoreError::Internal(error.to_string()),
        }
    }
}

impl_store_with_shared_sql!(SqliteStore, "sqlite", "sqlite");
