//! What workers call: claim requests under leases, renew a lease, record
//! progress (under the lease when the request has one), and record hook
//! invocations. The lease rules are
//! the domain's (`domain::lease`); who gets a request is settled by the store
//! (`ResourceRequestLeases`); this module turns a call into a claim query or
//! a locked decision and reports the lease that resulted.
//!
//! Every write runs to completion on its own task (`run_to_completion`): a
//! worker that disconnects mid-claim must not leave a half-claimed batch,
//! and its retry finds the claim either made or not.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::resource_requests::ResourceRequestService;
use super::{run_to_completion, unexpected};
use crate::domain::hooks::{HookProgressEvent, HookReportInput, decide_hook};
use crate::domain::lease::{
    Lease, LeaseDuration, MaxClaims, MinEventAge, decide_claim, decide_leased_progress,
    decide_renew,
};
use crate::domain::resource::AccountRegion;
use crate::domain::resource_request::{
    Decision, OperationStatus, ProgressEvent, ProgressReport, StoredResourceRequest,
};
use crate::domain::values::{LeaseToken, Region, RequestToken, TypeNamePrefix, WorkerId};
use crate::domain::{AccountId, Clock, Error, Timestamp};
use crate::store::{ClaimQuery, Store};

/// A `ClaimResourceRequests` call.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub worker_id: WorkerId,
    pub max_requests: MaxClaims,
    pub lease_duration: LeaseDuration,
    pub type_name_prefix: Option<TypeNamePrefix>,
    /// `None`: every account.
    pub account: Option<AccountId>,
    /// `None`: every region.
    pub region: Option<Region>,
    pub min_event_age: MinEventAge,
}

/// A request handed to a worker, as it is after the claim.
#[derive(Debug, Clone)]
pub struct ClaimedRequest {
    pub request: StoredResourceRequest,
    pub lease: Lease,
}

impl ClaimedRequest {
    /// The worker must finish a cancellation rather than the operation.
    pub fn cancel_requested(&self) -> bool {
        self.request.current.operation_status == OperationStatus::CancelInProgress
    }
}

/// What a worker's write left: the request's current event, and the lease
/// when the write renewed it (`None` when it carried no lease token, or
/// released the lease with a terminal event).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub event: ProgressEvent,
    pub lease: Option<Lease>,
}

impl Recorded {
    /// A caller cancelled the request: the worker must finish the cancellation.
    pub fn cancel_requested(&self) -> bool {
        self.event.operation_status == OperationStatus::CancelInProgress
    }
}

#[derive(Clone)]
pub struct WorkerService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// What a hook write answers with: the request's status and hooks.
    requests: ResourceRequestService,
    retention: Duration,
}

impl WorkerService {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        requests: ResourceRequestService,
        retention: Duration,
    ) -> Self {
        Self {
            store,
            clock,
            requests,
            retention,
        }
    }

    fn visible_since(&self, now: Timestamp) -> Timestamp {
        now.minus(self.retention)
    }

    /// Claims up to `request.max_requests` of the oldest claimable requests,
    /// each under a fresh lease for `request.lease_duration`; `PENDING` ones
    /// get their `IN_PROGRESS` event. Empty when nothing is claimable.
    pub async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedRequest>, Error> {
        let now = self.clock.now();
        let query = ClaimQuery {
            account: request.account.clone(),
            region: request.region.clone(),
            type_name_prefix: request.type_name_prefix.clone(),
            now,
            last_event_at_or_before: now.minus(request.min_event_age.get()),
            visible_since: self.visible_since(now),
            limit: request.max_requests.get(),
        };
        let (store, worker_id, duration) = (
            self.store.clone(),
            request.worker_id.clone(),
            request.lease_duration.get(),
        );
        let claimed = run_to_completion(async move {
            let decide = |claimable: &StoredResourceRequest| {
                let token = LeaseToken::parse(uuid::Uuid::new_v4().to_string())
                    .expect("a UUID is a valid lease token");
                decide_claim(
                    claimable,
                    Lease::new(token, worker_id.clone(), now, duration),
                    now,
                )
            };
            store.claim_resource_requests(&query, &decide).await
        })
        .await
        .map_err(|error| unexpected("ClaimResourceRequests", error))?;
        claimed
            .into_iter()
            .map(|request| match request.lease.clone() {
                Some(lease) => Ok(ClaimedRequest { request, lease }),
                None => Err(unexpected(
                    "ClaimResourceRequests",
                    crate::store::StoreError::Internal("a claimed request has no lease".into()),
                )),
            })
            .collect()
    }

    /// Appends a worker's progress report: under the lease rules (the current
    /// lease token renews the lease; another, or none while the lease is
    /// live, is `LeaseLost` and writes nothing), then the state machine.
    pub async fn record_progress(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        report: &ProgressReport,
        lease_token: Option<&LeaseToken>,
    ) -> Result<Recorded, Error> {
        let now = self.clock.now();
        let report = report.clone();
        let lease_token = lease_token.cloned();
        self.locked_write(scope, token, "RecordProgressEvent", move |request| {
            decide_leased_progress(request, &report, lease_token.as_ref(), now)
        })
        .await
    }

    /// Extends the caller's lease from now by `duration` (by the lease's own
    /// duration when `None`); `LeaseLost` when the caller does not hold it.
    pub async fn renew_lease(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        lease_token: &LeaseToken,
        duration: Option<LeaseDuration>,
    ) -> Result<Recorded, Error> {
        let now = self.clock.now();
        let lease_token = lease_token.clone();
        self.locked_write(scope, token, "RenewLease", move |request| {
            decide_renew(request, &lease_token, duration, now)
        })
        .await
    }

    /// Records a hook invocation on a request that is not finished, under
    /// the lease rules (the current lease token, or none while no lease is
    /// live); the first one gives the request its hooks request token.
    /// Answers with the request's current event and every hook event.
    pub async fn record_hook(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        report: HookReportInput,
        lease_token: Option<&LeaseToken>,
    ) -> Result<(ProgressEvent, Vec<HookProgressEvent>), Error> {
        let now = self.clock.now();
        let hook = report.into_event(now).map_err(Error::invalid_input)?;
        let visible_since = self.visible_since(now);
        let (store, owned_scope, owned_token) = (self.store.clone(), scope.clone(), token.clone());
        let lease_token = lease_token.cloned();
        let candidate = uuid::Uuid::new_v4().to_string();
        run_to_completion(async move {
            let decide =
                |request: &StoredResourceRequest| decide_hook(request, lease_token.as_ref(), now);
            store
                .record_hook_progress_event(
                    &owned_scope,
                    &owned_token,
                    visible_since,
                    &decide,
                    &candidate,
                    &hook,
                )
                .await
        })
        .await
        .map_err(|error| {
            ResourceRequestService::map_lookup_error(token, "RecordHookProgressEvent", error)
        })?;
        self.requests.get_status_with_hooks(scope, token).await
    }

    /// Runs `decide` on the locked request and reports the lease a
    /// `Decision::Leased` left (none when its event released it).
    async fn locked_write<Decide>(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        operation: &'static str,
        decide: Decide,
    ) -> Result<Recorded, Error>
    where
        Decide: Fn(&StoredResourceRequest) -> Result<Decision, Error> + Send + Sync + 'static,
    {
        let visible_since = self.visible_since(self.clock.now());
        let (store, owned_scope, owned_token) = (self.store.clone(), scope.clone(), token.clone());
        let written = run_to_completion(async move {
            // The decision is made inside the store's transaction; keep the
            // lease it chose to report it.
            let chosen_lease = Mutex::new(None);
            let remembering = |request: &StoredResourceRequest| {
                let decision = decide(request)?;
                if let Decision::Leased { lease, .. } = &decision {
                    *chosen_lease.lock().unwrap_or_else(|p| p.into_inner()) = Some(lease.clone());
                }
                Ok(decision)
            };
            let event = store
                .update_resource_request(&owned_scope, &owned_token, visible_since, &remembering)
                .await?;
            let lease = chosen_lease
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            Ok((event, lease))
        })
        .await;
        let (event, lease) = written
            .map_err(|error| ResourceRequestService::map_lookup_error(token, operation, error))?;
        let released = event.operation_status.is_terminal();
        Ok(Recorded {
            lease: if released { None } else { lease },
            event,
        })
    }
}
