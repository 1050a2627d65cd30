//! The resource-request contract ([`ResourceRequestStore`]): Cloud Control
//! requests with their current state and event history, and the values its
//! methods take and return. Each backend implements it in its own
//! `resource_requests.rs`.

use async_trait::async_trait;

use super::error::StoreError;
use crate::domain::lease::Lease;
use crate::domain::resource::{AccountRegion, ResourceChange};
use crate::domain::resource_request::{
    Decision, NewResourceRequest, NumberedEvent, Operation, OperationStatus, ProgressEvent,
    StoredResourceRequest,
};
use crate::domain::values::RequestToken;
use crate::domain::{Error, Timestamp};

/// Decides, from a request's locked current state, what an update does.
pub type Decide<'a> = dyn Fn(&StoredResourceRequest) -> Result<Decision, Error> + Send + Sync + 'a;

/// The result of recording a request.
#[derive(Debug, Clone)]
pub enum CreateOutcome {
    Created(StoredResourceRequest),
    /// The client token was already used in the account and region;
    /// nothing was written.
    ClientTokenTaken(StoredResourceRequest),
    /// An `UPDATE` or `DELETE` of the same resource is not finished (the
    /// partial unique index `resource_requests_one_change_per_resource`
    /// refused the row); nothing was written.
    ResourceBusy,
}

/// What a status read returns: the current event, and when the request was
/// recorded (it expires a retention period later). Nothing of the stored
/// input, which a status read does not need.
#[derive(Debug, Clone)]
pub struct RequestStatus {
    /// The latest progress event.
    pub current: ProgressEvent,
    pub created_at: Timestamp,
}

/// One page of `ListResourceRequests`.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub scope: AccountRegion,
    /// Empty means every operation.
    pub operations: Vec<Operation>,
    /// Empty means every status.
    pub statuses: Vec<OperationStatus>,
    /// Only requests listed after this one of the account (older than it):
    /// the last request of the previous page.
    pub after: Option<RequestToken>,
    pub limit: u32,
    pub visible_since: Timestamp,
}

impl ListQuery {
    /// The stored names of the operations to list (all when none is given).
    pub(crate) fn operation_names(&self) -> Vec<&'static str> {
        let operations: &[Operation] = if self.operations.is_empty() {
            &Operation::ALL
        } else {
            &self.operations
        };
        operations
            .iter()
            .map(|operation| operation.as_str())
            .collect()
    }

    /// The stored names of the statuses to list (all when none is given).
    pub(crate) fn status_names(&self) -> Vec<&'static str> {
        let statuses: &[OperationStatus] = if self.statuses.is_empty() {
            &OperationStatus::ALL
        } else {
            &self.statuses
        };
        statuses.iter().map(|status| status.as_str()).collect()
    }
}

/// A listed request, and when it was recorded (what a cursor naming it
/// needs to tell an expired cursor from an unknown one).
#[derive(Debug, Clone)]
pub struct ListedRequest {
    pub created_at: Timestamp,
    pub event: ProgressEvent,
}

#[async_trait]
pub trait ResourceRequestStore: Send + Sync {
    /// Stores the request with its first event in one transaction. When the
    /// account and region already have a request with the same client
    /// token, stores nothing and returns that request; when the request is
    /// an `UPDATE` or `DELETE` of a resource another unfinished `UPDATE` or
    /// `DELETE` is changing, stores nothing and answers `ResourceBusy`
    /// (settled by a unique index, so two replicas cannot both accept).
    /// The request token is a random UUID in lowercase hyphenated form, the
    /// form tokens are keyed by (see `token_key.rs`); any other string is
    /// refused as `Internal`.
    async fn create_resource_request(
        &self,
        request: &NewResourceRequest,
    ) -> Result<CreateOutcome, StoreError>;

    /// The whole request, input included. `NotFound` for a request of
    /// another account or region, or created before `visible_since`.
    async fn get_resource_request(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        visible_since: Timestamp,
    ) -> Result<StoredResourceRequest, StoreError>;

    /// The request's current event and creation time only: the hot
    /// `GetResourceRequestStatus` path, which neither reads nor rebuilds the
    /// stored input. `NotFound` exactly as for `get_resource_request`, and
    /// as fresh: a read that starts after a write was acknowledged sees it.
    async fn get_resource_request_status(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        visible_since: Timestamp,
    ) -> Result<RequestStatus, StoreError>;

    /// Up to `query.limit` requests of the account, newest first, after
    /// `query.after` (a keyset lookup scoped to the account: `O(log n)` per
    /// page). `NotFound` when `query.after` names no request of the account
    /// (never one of another account: cursors reveal nothing across them).
    async fn list_resource_requests(
        &self,
        query: &ListQuery,
    ) -> Result<Vec<ListedRequest>, StoreError>;

    /// Locks the request, lets `decide` choose from its current state, and
    /// writes what it chose in the same transaction: the appended event
    /// (which becomes the current state), the lease (renewed by a
    /// `Decision::Leased`, released by any terminal event), and what a
    /// `SUCCESS` event does to the request's resource
    /// ([`ResourceChange::on_success`]: its model written, or the resource
    /// removed). Nothing is acknowledged before all of it committed. An appended event
    /// is notified to the request's subscribers ([`Topic::RequestEvents`]).
    /// Returns the request's current event afterwards. A refusal from
    /// `decide` comes back as `Rejected`, and nothing is written.
    ///
    /// [`Topic::RequestEvents`]: super::Topic::RequestEvents
    async fn update_resource_request(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        visible_since: Timestamp,
        decide: &Decide<'_>,
    ) -> Result<ProgressEvent, StoreError>;

    /// The request's whole history, oldest first.
    async fn list_progress_events(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        visible_since: Timestamp,
    ) -> Result<Vec<ProgressEvent>, StoreError>;

    /// The request's events numbered after `after_number`, oldest first
    /// (empty when there are none yet). `NotFound` as for
    /// `get_resource_request`. As fresh as a direct read: a read that starts
    /// after a notification was received sees the event it announced.
    async fn list_progress_events_after(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        visible_since: Timestamp,
        after_number: i64,
    ) -> Result<Vec<NumberedEvent>, StoreError>;

    /// Deletes up to `batch_size` requests created before `cutoff`, with their
    /// events; returns how many requests it deleted.
    async fn purge_resource_requests(
        &self,
        cutoff: Timestamp,
        batch_size: u32,
    ) -> Result<u64, StoreError>;
}

/// What an update writes, worked out from the decision and the locked
/// request the same way on both backends.
#[derive(Debug)]
pub(crate) struct PlannedWrite {
    /// The event to append, if any.
    pub event: Option<ProgressEvent>,
    /// The request's lease afterwards.
    pub lease: Option<Lease>,
    /// What the event does to the request's resource.
    pub resource: Option<ResourceChange>,
}

impl PlannedWrite {
    /// `None` when the decision leaves the request unchanged. A terminal
    /// event releases the lease, whoever appends it.
    pub(crate) fn from_decision(
        stored: &StoredResourceRequest,
        decision: Decision,
    ) -> Option<Self> {
        let (event, lease) = match decision {
            Decision::Unchanged => return None,
            Decision::Append(event) => (Some(event), stored.lease.clone()),
            Decision::Leased { event, lease } => (event, Some(lease)),
        };
        let released = event
            .as_ref()
            .is_some_and(|event| event.operation_status.is_terminal());
        let resource = event
            .as_ref()
            .and_then(|event| ResourceChange::on_success(stored, event));
        Some(Self {
            lease: if released { None } else { lease },
            event,
            resource,
        })
    }
}
