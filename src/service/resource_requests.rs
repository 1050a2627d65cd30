//! Cloud Control resource-operation requests as callers see them: record,
//! poll, list, cancel, history. What workers call (claims, leases, progress)
//! is in `workers.rs`; waiting and watching in `watch.rs`.

use std::sync::Arc;
use std::time::Duration;

use super::cursor::{decode_cursor, encode_cursor, invalid_cursor};
use super::{run_to_completion, unexpected};
use crate::domain::resource_request::{
    NewResourceRequest, Operation, OperationStatus, ProgressEvent, ResourceRequestInput,
    decide_cancel,
};
use crate::domain::values::{ClientToken, MaxResults, NextToken, RequestToken};
use crate::domain::{AccountId, Clock, Error, ErrorCode, FieldViolation, Timestamp};
use crate::store::{CreateOutcome, ListQuery, Store, StoreError};

/// A request in a terminal status, which can never change again.
#[derive(Debug, Clone)]
struct FinishedRequest {
    event: ProgressEvent,
    created_at: Timestamp,
}

/// Weighs cache entries by their approximate size in bytes.
#[derive(Debug, Clone, Copy)]
struct ApproximateBytes;

impl quick_cache::Weighter<(AccountId, RequestToken), FinishedRequest> for ApproximateBytes {
    fn weight(&self, key: &(AccountId, RequestToken), finished: &FinishedRequest) -> u64 {
        let event = &finished.event;
        let strings = [
            Some(event.type_name.as_str()),
            event.identifier.as_deref(),
            Some(event.request_token.as_str()),
            event.resource_model.as_deref(),
            event.status_message.as_deref(),
        ];
        let text: usize = strings.iter().flatten().map(|text| text.len()).sum();
        (key.1.as_str().len() + 12 + text + 160) as u64
    }
}

/// Bytes of finished requests kept in memory per process.
const FINISHED_CACHE_BYTES: u64 = 8 * 1024 * 1024;

type FinishedCache =
    quick_cache::sync::Cache<(AccountId, RequestToken), FinishedRequest, ApproximateBytes>;

#[derive(Clone)]
pub struct ResourceRequestService {
    finished: Arc<FinishedCache>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    default_account: AccountId,
    retention: Duration,
}

/// A `ListResourceRequests` call.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub operations: Vec<Operation>,
    pub statuses: Vec<OperationStatus>,
    pub max_results: MaxResults,
    pub next_token: Option<NextToken>,
}

/// One page of requests, newest first.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub summaries: Vec<ProgressEvent>,
    pub next_token: Option<String>,
}

pub(super) fn not_found(token: &RequestToken) -> Error {
    Error::new(
        ErrorCode::RequestTokenNotFound,
        format!("Request with token {token} was not found"),
    )
}

/// Checks that the members an operation needs are present and the others absent.
fn check_input_shape(input: &ResourceRequestInput) -> Result<(), FieldViolation> {
    let must_be_absent = |member: &'static str, present: bool| {
        if present {
            Err(FieldViolation::invalid(
                member,
                "",
                format!(
                    "Member must be absent for operation {}",
                    input.operation.as_str()
                ),
            ))
        } else {
            Ok(())
        }
    };
    match input.operation {
        Operation::Create => {
            if input.desired_state.is_none() {
                return Err(FieldViolation::missing("DesiredState"));
            }
            must_be_absent("Identifier", input.identifier.is_some())?;
            must_be_absent("PatchDocument", input.patch_document.is_some())
        }
        Operation::Update => {
            if input.identifier.is_none() {
                return Err(FieldViolation::missing("Identifier"));
            }
            if input.patch_document.is_none() {
                return Err(FieldViolation::missing("PatchDocument"));
            }
            must_be_absent("DesiredState", input.desired_state.is_some())
        }
        Operation::Delete => {
            if input.identifier.is_none() {
                return Err(FieldViolation::missing("Identifier"));
            }
            must_be_absent("DesiredState", input.desired_state.is_some())?;
            must_be_absent("PatchDocument", input.patch_document.is_some())
        }
    }
}

impl ResourceRequestService {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        default_account: AccountId,
        retention: Duration,
    ) -> Self {
        Self {
            finished: Arc::new(FinishedCache::with_weighter(
                16_384,
                FINISHED_CACHE_BYTES,
                ApproximateBytes,
            )),
            store,
            clock,
            default_account,
            retention,
        }
    }

    /// The account a caller without one acts as.
    pub fn default_account(&self) -> &AccountId {
        &self.default_account
    }

    /// Requests created before this are expired and invisible.
    fn visible_since(&self, now: Timestamp) -> Timestamp {
        now.minus(self.retention)
    }

    pub(super) fn map_lookup_error(
        token: &RequestToken,
        operation: &'static str,
        error: StoreError,
    ) -> Error {
        match error {
            StoreError::NotFound => not_found(token),
            other => unexpected(operation, other),
        }
    }

    /// Records a new request in `PENDING`. With a client token already used in
    /// the account: the same input returns that request, other input is
    /// `ClientTokenConflictException`.
    pub async fn create(
        &self,
        account: &AccountId,
        client_token: Option<ClientToken>,
        input: ResourceRequestInput,
    ) -> Result<ProgressEvent, Error> {
        check_input_shape(&input).map_err(Error::invalid_input)?;
        let request = NewResourceRequest {
            account: account.clone(),
            request_token: RequestToken::parse(uuid::Uuid::new_v4().to_string())
                .expect("a UUID is a valid request token"),
            client_token,
            input,
            created_at: self.clock.now(),
        };
        let store = self.store.clone();
        let stored = request.clone();
        let outcome =
            run_to_completion(async move { store.create_resource_request(&stored).await })
                .await
                .map_err(|error| unexpected("CreateResourceRequest", error))?;
        match outcome {
            CreateOutcome::Created(created) => Ok(created.current),
            CreateOutcome::ClientTokenTaken(existing) if existing.input == request.input => {
                Ok(existing.current)
            }
            CreateOutcome::ClientTokenTaken(existing) => Err(Error::new(
                ErrorCode::ClientTokenConflict,
                format!(
                    "ClientToken {} is already associated with an existing operation with RequestToken {}",
                    existing
                        .client_token
                        .as_ref()
                        .map_or("", ClientToken::as_str),
                    existing.current.request_token
                ),
            )),
        }
    }

    /// The request's current state. Terminal states never change, so they are
    /// answered from a cache (until the request expires); anything else is
    /// read from the store, as fresh as a direct read.
    pub async fn get_status(
        &self,
        account: &AccountId,
        token: &RequestToken,
    ) -> Result<ProgressEvent, Error> {
        let visible_since = self.visible_since(self.clock.now());
        let key = (account.clone(), token.clone());
        if let Some(finished) = self.finished.get(&key) {
            if finished.created_at >= visible_since {
                return Ok(finished.event);
            }
            self.finished.remove(&key);
        }
        let request = self
            .store
            .get_resource_request_status(account, token, visible_since)
            .await
            .map_err(|error| Self::map_lookup_error(token, "GetResourceRequestStatus", error))?;
        if request.current.operation_status.is_terminal() {
            self.finished.insert(
                key,
                FinishedRequest {
                    event: request.current.clone(),
                    created_at: request.created_at,
                },
            );
        }
        Ok(request.current)
    }

    pub async fn list(
        &self,
        account: &AccountId,
        request: &ListRequest,
    ) -> Result<ListPage, Error> {
        let cursor = request.next_token.as_ref().map(decode_cursor).transpose()?;
        let visible_since = self.visible_since(self.clock.now());
        if cursor
            .as_ref()
            .is_some_and(|cursor| cursor.created_at < visible_since)
        {
            // Everything after an expired request is older still.
            return Ok(ListPage {
                summaries: Vec::new(),
                next_token: None,
            });
        }
        let page_size = request.max_results.get();
        let query = ListQuery {
            account: account.clone(),
            operations: request.operations.clone(),
            statuses: request.statuses.clone(),
            after: cursor.map(|cursor| cursor.request_token),
            // One extra row tells whether another page exists.
            limit: page_size + 1,
            visible_since,
        };
        let mut listed = match self.store.list_resource_requests(&query).await {
            Ok(listed) => listed,
            // Only a cursor can be not found: one of another account, or none at all.
            Err(StoreError::NotFound) => match &request.next_token {
                Some(token) => {
                    return Err(invalid_cursor(
                        token,
                        "Member must be a NextToken returned by ListResourceRequests to this account",
                    ));
                }
                None => return Err(unexpected("ListResourceRequests", StoreError::NotFound)),
            },
            Err(error) => return Err(unexpected("ListResourceRequests", error)),
        };
        let next_token = if listed.len() > page_size as usize {
            listed.truncate(page_size as usize);
            listed.last().and_then(|last| {
                let token = RequestToken::parse(last.event.request_token.as_str()).ok()?;
                Some(encode_cursor(last.created_at, &token))
            })
        } else {
            None
        };
        Ok(ListPage {
            summaries: listed.into_iter().map(|listed| listed.event).collect(),
            next_token,
        })
    }

    pub async fn cancel(
        &self,
        account: &AccountId,
        token: &RequestToken,
    ) -> Result<ProgressEvent, Error> {
        let now = self.clock.now();
        let (store, owned_account, owned_token) =
            (self.store.clone(), account.clone(), token.clone());
        let visible_since = self.visible_since(now);
        run_to_completion(async move {
            let decide = |request: &_| decide_cancel(request, now);
            store
                .update_resource_request(&owned_account, &owned_token, visible_since, &decide)
                .await
        })
        .await
        .map_err(|error| Self::map_lookup_error(token, "CancelResourceRequest", error))
    }

    pub async fn list_progress_events(
        &self,
        account: &AccountId,
        token: &RequestToken,
    ) -> Result<Vec<ProgressEvent>, Error> {
        let visible_since = self.visible_since(self.clock.now());
        self.store
            .list_progress_events(account, token, visible_since)
            .await
            .map_err(|error| Self::map_lookup_error(token, "ListProgressEvents", error))
    }

    /// Deletes one batch of requests past the retention.
    pub async fn purge_expired(&self, batch_size: u32) -> Result<u64, Error> {
        let cutoff = self.visible_since(self.clock.now());
        self.store
            .purge_resource_requests(cutoff, batch_size)
            .await
            .map_err(|error| unexpected("PurgeResourceRequests", error))
    }
}
