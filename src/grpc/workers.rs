//! The worker calls of `statusgate.v1.ResourceRequestService`:
//! `ClaimResourceRequests`, `RenewLease`, `RecordProgressEvent` and
//! `RecordHookProgressEvent`. Wire
//! messages to domain values and back; the service does the rest
//! (`service/workers.rs`).

use tonic::Status;

use super::auth::resolve_account;
use super::convert;
use super::proto::{
    ClaimResourceRequestsRequest, ClaimResourceRequestsResponse, RecordHookProgressEventRequest,
    RecordHookProgressEventResponse, RecordProgressEventRequest, RecordProgressEventResponse,
    RenewLeaseRequest, RenewLeaseResponse, ResourceRequestClaim,
};
use super::resource_requests::{invalid, optional, request_token, to_status};
use crate::domain::credential::{AccountBinding, Principal};
use crate::domain::hooks::HookReportInput;
use crate::domain::lease::{LeaseDuration, MaxClaims, MinEventAge};
use crate::domain::resource::AccountRegion;
use crate::domain::resource_request::ProgressReport;
use crate::domain::values::{
    Identifier, JsonDocument, LeaseToken, Region, StatusMessage, TypeNamePrefix, WorkerId,
};
use crate::domain::{AccountId, ApiFamily, FieldViolation};
use crate::service::{ClaimRequest, ClaimedRequest, Recorded, WorkerService};

fn lease_token(value: String) -> Result<LeaseToken, Status> {
    if value.is_empty() {
        return Err(invalid(FieldViolation::missing(LeaseToken::MEMBER)));
    }
    LeaseToken::parse(value).map_err(invalid)
}

fn claim_to_proto(claimed: ClaimedRequest) -> ResourceRequestClaim {
    let cancel_requested = claimed.cancel_requested();
    let ClaimedRequest { request, lease } = claimed;
    ResourceRequestClaim {
        progress_event: Some(convert::progress_event_to_proto(request.current)),
        lease_token: lease.token.into_string(),
        lease_expires_at: Some(convert::timestamp_to_proto(lease.expires_at)),
        cancel_requested,
        account_id: request.scope.account.as_str().to_owned(),
        region: request.scope.region.as_str().to_owned(),
        input: Some(convert::input_to_proto(request.input)),
    }
}

/// The accounts a claim may take requests of (`None`: every account). A
/// caller bound to one account claims in it; one bound to all accounts (or,
/// without credentials, anyone) claims across them unless it names one.
/// Naming an account goes through the same resolution as every request
/// (empty is the default account; another than a bound caller's is denied).
pub(super) fn claim_account(
    principal: Option<&Principal>,
    requested: Option<&str>,
    default: &AccountId,
) -> Result<Option<AccountId>, Status> {
    let bound =
        principal.is_some_and(|principal| matches!(principal.binding, AccountBinding::Account(_)));
    match requested {
        None if !bound => Ok(None),
        requested => resolve_account(
            principal,
            requested.unwrap_or(""),
            default,
            ApiFamily::CloudControl,
        )
        .map(Some),
    }
}

pub(super) async fn claim(
    workers: &WorkerService,
    account: Option<AccountId>,
    region: Option<Region>,
    request: ClaimResourceRequestsRequest,
) -> Result<ClaimResourceRequestsResponse, Status> {
    if request.worker_id.is_empty() {
        return Err(invalid(FieldViolation::missing(WorkerId::MEMBER)));
    }
    let claim = ClaimRequest {
        worker_id: WorkerId::parse(request.worker_id).map_err(invalid)?,
        max_requests: MaxClaims::parse(request.max_requests.map(i64::from)).map_err(invalid)?,
        lease_duration: LeaseDuration::parse(
            convert::optional_duration(LeaseDuration::MEMBER, request.lease_duration)
                .map_err(invalid)?,
        )
        .map_err(invalid)?,
        type_name_prefix: optional(request.type_name_prefix, TypeNamePrefix::parse)?,
        account,
        region,
        min_event_age: MinEventAge::parse(
            convert::optional_duration(MinEventAge::MEMBER, request.min_event_age)
                .map_err(invalid)?,
        )
        .map_err(invalid)?,
    };
    let claimed = workers.claim(&claim).await.map_err(to_status)?;
    Ok(ClaimResourceRequestsResponse {
        claims: claimed.into_iter().map(claim_to_proto).collect(),
    })
}

pub(super) async fn renew(
    workers: &WorkerService,
    scope: &AccountRegion,
    request: RenewLeaseRequest,
) -> Result<RenewLeaseResponse, Status> {
    let token = request_token(request.request_token)?;
    let lease_token = lease_token(request.lease_token)?;
    let duration = LeaseDuration::parse_optional(
        convert::optional_duration(LeaseDuration::MEMBER, request.lease_duration)
            .map_err(invalid)?,
    )
    .map_err(invalid)?;
    let renewed = workers
        .renew_lease(scope, &token, &lease_token, duration)
        .await
        .map_err(to_status)?;
    let cancel_requested = renewed.cancel_requested();
    let Recorded { event, lease } = renewed;
    let lease = lease.ok_or_else(|| Status::internal("a renewed lease is missing"))?;
    Ok(RenewLeaseResponse {
        lease_expires_at: Some(convert::timestamp_to_proto(lease.expires_at)),
        cancel_requested,
        progress_event: Some(convert::progress_event_to_proto(event)),
    })
}

pub(super) async fn record(
    workers: &WorkerService,
    scope: &AccountRegion,
    request: RecordProgressEventRequest,
) -> Result<RecordProgressEventResponse, Status> {
    let token = request_token(request.request_token)?;
    let report = ProgressReport {
        operation_status: convert::status_from_proto("OperationStatus", request.operation_status)
            .map_err(invalid)?,
        identifier: optional(request.identifier, Identifier::parse)?,
        resource_model: optional(request.resource_model, |value| {
            JsonDocument::parse("ResourceModel", value)
        })?,
        status_message: optional(request.status_message, StatusMessage::parse)?,
        error_code: convert::error_code_from_proto(request.error_code).map_err(invalid)?,
        retry_after: request.retry_after.map(convert::timestamp_from_proto),
    };
    let lease_token = request.lease_token.map(lease_token).transpose()?;
    let recorded = workers
        .record_progress(scope, &token, &report, lease_token.as_ref())
        .await
        .map_err(to_status)?;
    let cancel_requested = recorded.cancel_requested();
    Ok(RecordProgressEventResponse {
        progress_event: Some(convert::progress_event_to_proto(recorded.event)),
        cancel_requested,
        lease_expires_at: recorded
            .lease
            .map(|lease| convert::timestamp_to_proto(lease.expires_at)),
    })
}

pub(super) async fn record_hook(
    workers: &WorkerService,
    scope: &AccountRegion,
    request: RecordHookProgressEventRequest,
) -> Result<RecordHookProgressEventResponse, Status> {
    let token = request_token(request.request_token)?;
    let report = HookReportInput {
        hook_type_name: request.hook_type_name,
        hook_type_version_id: request.hook_type_version_id,
        hook_type_arn: request.hook_type_arn,
        invocation_point: request.invocation_point,
        hook_status: request.hook_status,
        hook_status_message: request.hook_status_message,
        failure_mode: request.failure_mode,
        hook_event_time: request.hook_event_time.map(convert::timestamp_from_proto),
    };
    let lease_token = request.lease_token.map(lease_token).transpose()?;
    let (event, hooks) = workers
        .record_hook(scope, &token, report, lease_token.as_ref())
        .await
        .map_err(to_status)?;
    Ok(RecordHookProgressEventResponse {
        progress_event: Some(convert::progress_event_to_proto(event)),
        hooks_progress_event: hooks
            .into_iter()
            .map(convert::hook_event_to_proto)
            .collect(),
    })
}
