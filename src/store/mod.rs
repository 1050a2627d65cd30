//! Storage: the [`Store`] trait the services depend on, and its Postgres and
//! SQLite implementations. Both backends run the same SQL wherever the
//! dialects agree (`sql.rs`), so the conformance suite in `tests/` checks one
//! behaviour twice rather than two behaviours.
//!
//! Races are settled by the database: a partial unique index keeps one
//! outstanding change token per scope, `UPDATE ... WHERE status = ...` lets one
//! consumer win, and resource-request updates run under a row lock
//! (`SELECT ... FOR UPDATE` on Postgres, `BEGIN IMMEDIATE` on SQLite). No sqlx
//! type crosses this trait.

mod coalesce;
mod postgres;
mod rows;
mod sql;
mod sqlite;

use async_trait::async_trait;

use crate::domain::change_token::{ChangeTokenScope, ChangeTokenStatus};
use crate::domain::resource_request::{
    Decision, NewResourceRequest, Operation, OperationStatus, ProgressEvent, StoredResourceRequest,
};
use crate::domain::values::{ChangeDescription, ChangeToken, RequestToken};
use crate::domain::{AccountId, Error, Timestamp};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// What went wrong in the store, in meanings rather than database codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The row exists but is not in the status the operation needs.
    #[error("conflict with the current status")]
    Conflict,
    /// The decision function refused the update; carries its error.
    #[error("rejected: {0}")]
    Rejected(Error),
    /// The database cannot be reached or is shutting down; retryable.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Internal(String),
}

/// Decides, from a request's locked current state, what an update does.
pub type Decide<'a> = dyn Fn(&StoredResourceRequest) -> Result<Decision, Error> + Send + Sync + 'a;

/// The result of recording a request.
#[derive(Debug, Clone)]
pub enum CreateOutcome {
    Created(StoredResourceRequest),
    /// The client token was already used in the account; nothing was written.
    ClientTokenTaken(StoredResourceRequest),
}

/// One page of `ListResourceRequests`.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub account: AccountId,
    /// Empty means every operation.
    pub operations: Vec<Operation>,
    /// Empty means every status.
    pub statuses: Vec<OperationStatus>,
    /// Only requests listed after this cursor (older than it).
    pub after: Option<i64>,
    pub limit: u32,
    pub visible_since: Timestamp,
}

/// A listed request and its cursor.
#[derive(Debug, Clone)]
pub struct ListedRequest {
    pub cursor: i64,
    pub event: ProgressEvent,
}

/// The pool's connections at one moment, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConnections {
    pub in_use: u32,
    pub idle: u32,
}

/// Whether the last health ping reached the database. While it did not,
/// every call fails at once as `Unavailable` instead of waiting out the
/// pool's acquire timeout: callers get a fast, retryable error during an
/// outage, and the pool reconnects by itself once pings succeed again.
#[derive(Debug)]
pub(crate) struct Availability {
    reachable: std::sync::atomic::AtomicBool,
}

impl Default for Availability {
    fn default() -> Self {
        Self {
            reachable: std::sync::atomic::AtomicBool::new(true),
        }
    }
}

impl Availability {
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        if self.reachable.load(std::sync::atomic::Ordering::Relaxed) {
            Ok(())
        } else {
            Err(StoreError::Unavailable(
                "the database did not answer the last health check".into(),
            ))
        }
    }

    pub(crate) fn record_ping(&self, answered: bool) {
        self.reachable
            .store(answered, std::sync::atomic::Ordering::Relaxed);
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `postgres` or `sqlite`, for logs.
    fn backend(&self) -> &'static str;

    /// Succeeds when the database answers a trivial query within `within`.
    /// Never refused by the availability gate: its outcome opens or closes
    /// that gate.
    async fn ping(&self, within: std::time::Duration) -> Result<(), StoreError>;

    /// Connections in use and idle.
    fn pool_connections(&self) -> PoolConnections;

    /// Closes the connection pool, waiting for connections in use.
    async fn close(&self);

    /// Returns the scope's `PROVISIONED` token, or stores `candidate` as that
    /// token when there is none. Atomic across processes: concurrent callers
    /// in one scope all get the same token.
    async fn provision_change_token(
        &self,
        scope: &ChangeTokenScope,
        candidate: &ChangeToken,
        now: Timestamp,
    ) -> Result<ChangeToken, StoreError>;

    /// The token's status. `NotFound` for a token of another scope, or one
    /// that went `INSYNC` before `in_sync_visible_since`.
    async fn change_token_status(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
        in_sync_visible_since: Timestamp,
    ) -> Result<ChangeTokenStatus, StoreError>;

    /// `PROVISIONED -> PENDING`. Exactly one of concurrent callers succeeds;
    /// the others get `Conflict`. `NotFound` as for `change_token_status`.
    async fn consume_change_token(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
        description: &ChangeDescription,
        now: Timestamp,
        in_sync_visible_since: Timestamp,
    ) -> Result<(), StoreError>;

    /// `PENDING -> INSYNC`; an `INSYNC` token stays as it is. `Conflict` for a
    /// token that is still `PROVISIONED`.
    async fn mark_change_token_in_sync(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
        now: Timestamp,
        in_sync_visible_since: Timestamp,
    ) -> Result<(), StoreError>;

    /// Deletes up to `batch_size` tokens that went `INSYNC` before `cutoff`;
    /// returns how many it deleted.
    async fn purge_change_tokens(
        &self,
        cutoff: Timestamp,
        batch_size: u32,
    ) -> Result<u64, StoreError>;

    /// Moves up to `batch_size` `PENDING` tokens used at or before
    /// `consumed_at_or_before` to `INSYNC` (as of `now`), oldest use first, in
    /// one statement; returns how many it moved. Safe to run from several
    /// processes at once: each token is moved exactly once, and a caller that
    /// loses a race for some tokens simply moves fewer. A short count means no
    /// more tokens were due when the statement ran.
    async fn mark_change_tokens_in_sync_consumed_before(
        &self,
        consumed_at_or_before: Timestamp,
        now: Timestamp,
        batch_size: u32,
    ) -> Result<u64, StoreError>;

    /// Stores the request with its first event in one transaction. When the
    /// account already has a request with the same client token, stores
    /// nothing and returns that request.
    async fn create_resource_request(
        &self,
        request: &NewResourceRequest,
    ) -> Result<CreateOutcome, StoreError>;

    /// `NotFound` for a request of another account or created before
    /// `visible_since`.
    async fn get_resource_request(
        &self,
        account: &AccountId,
        token: &RequestToken,
        visible_since: Timestamp,
    ) -> Result<StoredResourceRequest, StoreError>;

    /// Up to `query.limit` requests, newest first, after `query.after`.
    async fn list_resource_requests(
        &self,
        query: &ListQuery,
    ) -> Result<Vec<ListedRequest>, StoreError>;

    /// Up to `limit` requests of any account still waiting for a worker
    /// (`PENDING`, `IN_PROGRESS` or `CANCEL_IN_PROGRESS`) whose latest event is
    /// at or before `last_event_at_or_before`, created at or after
    /// `visible_since`; oldest latest event first. A plain read that locks and
    /// claims nothing: by the time the caller acts, another process may have
    /// moved a request, so the caller must re-check its state inside
    /// `update_resource_request`'s `decide`.
    async fn list_unfinished_resource_requests(
        &self,
        last_event_at_or_before: Timestamp,
        visible_since: Timestamp,
        limit: u32,
    ) -> Result<Vec<StoredResourceRequest>, StoreError>;

    /// Locks the request, lets `decide` choose from its current state, and
    /// appends the chosen event (updating the current state) in the same
    /// transaction. Returns the request's current event afterwards. A refusal
    /// from `decide` comes back as `Rejected`.
    async fn update_resource_request(
        &self,
        account: &AccountId,
        token: &RequestToken,
        visible_since: Timestamp,
        decide: &Decide<'_>,
    ) -> Result<ProgressEvent, StoreError>;

    /// The request's whole history, oldest first.
    async fn list_progress_events(
        &self,
        account: &AccountId,
        token: &RequestToken,
        visible_since: Timestamp,
    ) -> Result<Vec<ProgressEvent>, StoreError>;

    /// Deletes up to `batch_size` requests created before `cutoff`, with their
    /// events; returns how many requests it deleted.
    async fn purge_resource_requests(
        &self,
        cutoff: Timestamp,
        batch_size: u32,
    ) -> Result<u64, StoreError>;
}
