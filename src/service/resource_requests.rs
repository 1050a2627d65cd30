//! Cloud Control resource-operation requests as callers see them: record,
//! poll, list, cancel, history, each in one account and region
//! ([`AccountRegion`]). What workers call (claims, leases, progress, hooks)
//! is in `workers.rs`; waiting and watching in `watch.rs`; resources in
//! `resources.rs`.

use std::sync::Arc;
use std::time::Duration;

use super::cursor::RESOURCE_REQUESTS;
use super::{run_to_completion, unexpected};
use crate::domain::hooks::HookProgressEvent;
use crate::domain::resource::{AccountRegion, ResourcePatch, concurrent_operation};
use crate::domain::resource_request::{
    NewResourceRequest, Operation, OperationStatus, ProgressEvent, ResourceRequestInput,
    decide_cancel,
};
use crate::domain::resource_types::ResourceTypes;
use crate::domain::values::{ClientToken, Identifier, MaxResults, NextToken, Region, RequestToken};
use crate::domain::{AccountId, Clock, Error, ErrorCode, FieldViolation, Timestamp};
use crate::store::{CreateOutcome, ListQuery, Store, StoreError};

/// A request in a terminal status, which can never change again (nor can
/// its hooks: they run before provisioning).
#[derive(Debug, Clone)]
struct FinishedRequest {
    event: ProgressEvent,
    hooks: Vec<HookProgressEvent>,
    created_at: Timestamp,
}

/// Weighs cache entries by their approximate size in bytes.
#[derive(Debug, Clone, Copy)]
struct ApproximateBytes;

impl quick_cache::Weighter<(AccountRegion, RequestToken), FinishedRequest> for ApproximateBytes {
    fn weight(&self, key: &(AccountRegion, RequestToken), finished: &FinishedRequest) -> u64 {
        let event = &finished.event;
        let strings = [
            Some(event.type_name.as_str()),
            event.identifier.as_deref(),
            Some(event.request_token.as_str()),
            event.resource_model.as_deref(),
            event.status_message.as_deref(),
        ];
        let text: usize = strings.iter().flatten().map(|text| text.len()).sum();
        let hooks: usize = finished
            .hooks
            .iter()
            .map(|hook| {
                hook.hook_type_name.len()
                    + hook.hook_status_message.as_deref().map_or(0, str::len)
                    + hook.hook_type_arn.as_deref().map_or(0, str::len)
                    + 120
            })
            .sum();
        let key_bytes = key.0.region.as_str().len() + 12 + key.1.as_str().len();
        (key_bytes + text + hooks + 160) as u64
    }
}

/// Bytes of finished requests kept in memory per process.
const FINISHED_CACHE_BYTES: u64 = 8 * 1024 * 1024;

type FinishedCache =
    quick_cache::sync::Cache<(AccountRegion, RequestToken), FinishedRequest, ApproximateBytes>;

/// The Cloud Control settings of a server.
#[derive(Debug, Clone)]
pub struct CloudControlSettings {
    /// The region of callers that name none (`--default-region`).
    pub default_region: Region,
    /// `--known-types-only`: a type name the resource type table lacks is
    /// `TypeNotFoundException`.
    pub known_types_only: bool,
}

impl Default for CloudControlSettings {
    fn default() -> Self {
        Self {
            default_region: Region::parse(crate::domain::resource::DEFAULT_REGION)
                .expect("the default region is valid"),
            known_types_only: false,
        }
    }
}

#[derive(Clone)]
pub struct ResourceRequestService {
    finished: Arc<FinishedCache>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    default_account: AccountId,
    settings: CloudControlSettings,
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
        settings: CloudControlSettings,
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
            settings,
            retention,
        }
    }

    /// The account a caller without one acts as.
    pub fn default_account(&self) -> &AccountId {
        &self.default_account
    }

    /// The region a caller without one acts in.
    pub fn default_region(&self) -> &Region {
        &self.settings.default_region
    }

    pub fn settings(&self) -> &CloudControlSettings {
        &self.settings
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
    /// the account and region: the same input returns that request, other
    /// input is `ClientTokenConflictException`. An `UPDATE` needs an RFC 6902
    /// patch; an `UPDATE` or `DELETE` of a resource another one is still
    /// changing is `ConcurrentOperationException`.
    pub async fn create(
        &self,
        scope: &AccountRegion,
        client_token: Option<ClientToken>,
        input: ResourceRequestInput,
    ) -> Result<ProgressEvent, Error> {
        check_input_shape(&input).map_err(Error::invalid_input)?;
        ResourceTypes::known().check(&input.type_name, self.settings.known_types_only)?;
        if let Some(patch) = &input.patch_document {
            ResourcePatch::parse(patch).map_err(Error::invalid_input)?;
        }
        let request = NewResourceRequest {
            scope: scope.clone(),
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
            CreateOutcome::ResourceBusy => {
                let identifier = request
                    .input
                    .identifier
                    .clone()
                    .unwrap_or_else(|| Identifier::parse("?").expect("a valid identifier"));
                Err(concurrent_operation(&request.input.type_name, &identifier))
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
        scope: &AccountRegion,
        token: &RequestToken,
    ) -> Result<ProgressEvent, Error> {
        self.get_status_with_hooks(scope, token)
            .await
            .map(|(event, _)| event)
    }

    /// [`get_status`](Self::get_status) and the request's hook events
    /// (read only for a request whose event carries a hooks request token:
    /// the others have none).
    pub async fn get_status_with_hooks(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
    ) -> Result<(ProgressEvent, Vec<HookProgressEvent>), Error> {
        let visible_since = self.visible_since(self.clock.now());
        let key = (scope.clone(), token.clone());
        if let Some(finished) = self.finished.get(&key) {
            if finished.created_at >= visible_since {
                return Ok((finished.event, finished.hooks));
            }
            self.finished.remove(&key);
        }
        let request = self
            .store
            .get_resource_request_status(scope, token, visible_since)
            .await
            .map_err(|error| Self::map_lookup_error(token, "GetResourceRequestStatus", error))?;
        let hooks = if request.current.hooks_request_token.is_some() {
            self.store
                .list_hook_progress_events(token)
                .await
                .map_err(|error| unexpected("GetResourceRequestStatus", error))?
        } else {
            Vec::new()
        };
        if request.current.operation_status.is_terminal() {
            self.finished.insert(
                key,
                FinishedRequest {
                    event: request.current.clone(),
                    hooks: hooks.clone(),
                    created_at: request.created_at,
                },
            );
        }
        Ok((request.current, hooks))
    }

    pub async fn list(
        &self,
        scope: &AccountRegion,
        request: &ListRequest,
    ) -> Result<ListPage, Error> {
        let cursor = request
            .next_token
            .as_ref()
            .map(|token| RESOURCE_REQUESTS.decode(token, RequestToken::parse))
            .transpose()?;
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
            scope: scope.clone(),
            operations: request.operations.clone(),
            statuses: request.statuses.clone(),
            after: cursor.map(|cursor| cursor.key),
            // One extra row tells whether another page exists.
            limit: page_size + 1,
            visible_since,
        };
        let mut listed = match self.store.list_resource_requests(&query).await {
            Ok(listed) => listed,
            // Only a cursor can be not found: one of another account, or none at all.
            Err(StoreError::NotFound) => match &request.next_token {
                Some(token) => return Err(RESOURCE_REQUESTS.not_of_this_account(token)),
                None => return Err(unexpected("ListResourceRequests", StoreError::NotFound)),
            },
            Err(error) => return Err(unexpected("ListResourceRequests", error)),
        };
        let next_token = if listed.len() > page_size as usize {
            listed.truncate(page_size as usize);
            listed
                .last()
                .map(|last| RESOURCE_REQUESTS.encode(last.created_at, &last.event.request_token))
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
        scope: &AccountRegion,
        token: &RequestToken,
    ) -> Result<ProgressEvent, Error> {
        let now = self.clock.now();
        let (store, owned_scope, owned_token) = (self.store.clone(), scope.clone(), token.clone());
        let visible_since = self.visible_since(now);
        run_to_completion(async move {
            let decide = |request: &_| decide_cancel(request, now);
            store
                .update_resource_request(&owned_scope, &owned_token, visible_since, &decide)
                .await
        })
        .await
        .map_err(|error| Self::map_lookup_error(token, "CancelResourceRequest", error))
    }

    pub async fn list_progress_events(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
    ) -> Result<Vec<ProgressEvent>, Error> {
        let visible_since = self.visible_since(self.clock.now());
        self.store
            .list_progress_events(scope, token, visible_since)
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
