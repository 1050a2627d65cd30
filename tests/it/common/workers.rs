//! Calling the worker side of `ResourceRequestService` from tests (claims,
//! lease renewals, progress under a lease) and its wait and watch calls.

use std::time::Duration;

use statusgate::grpc::proto::{
    ClaimResourceRequestsRequest, OperationStatus, RecordProgressEventResponse, RenewLeaseRequest,
    RenewLeaseResponse, ResourceRequestClaim, WaitResourceRequestRequest,
    WatchResourceRequestRequest, WatchResourceRequestResponse,
};
use tonic::Streaming;

use super::ACCOUNT;
use super::resource_requests::{Client, report};

/// A claim of at most `max_requests` by `worker_id`, across every account,
/// with the default lease.
pub fn claim_request(worker_id: &str, max_requests: i32) -> ClaimResourceRequestsRequest {
    ClaimResourceRequestsRequest {
        worker_id: worker_id.into(),
        max_requests: Some(max_requests),
        ..ClaimResourceRequestsRequest::default()
    }
}

/// A protobuf duration.
pub fn duration(duration: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: duration.as_secs() as i64,
        nanos: duration.subsec_nanos() as i32,
    }
}

/// ClaimResourceRequests, which must succeed.
pub async fn claim(
    client: &mut Client,
    request: ClaimResourceRequestsRequest,
) -> Vec<ResourceRequestClaim> {
    client
        .claim_resource_requests(request)
        .await
        .expect("ClaimResourceRequests")
        .into_inner()
        .claims
}

/// RecordProgressEvent as [`ACCOUNT`] with the lease token.
pub async fn record_leased(
    client: &mut Client,
    request_token: &str,
    status: OperationStatus,
    lease_token: Option<&str>,
) -> Result<RecordProgressEventResponse, tonic::Status> {
    let request = statusgate::grpc::proto::RecordProgressEventRequest {
        lease_token: lease_token.map(str::to_owned),
        ..report(request_token, status)
    };
    Ok(client.record_progress_event(request).await?.into_inner())
}

/// RenewLease as [`ACCOUNT`] with the lease's own duration.
pub async fn renew(
    client: &mut Client,
    request_token: &str,
    lease_token: &str,
) -> Result<RenewLeaseResponse, tonic::Status> {
    let request = RenewLeaseRequest {
        region: String::new(),
        account_id: ACCOUNT.into(),
        request_token: request_token.into(),
        lease_token: lease_token.into(),
        lease_duration: None,
    };
    Ok(client.renew_lease(request).await?.into_inner())
}

/// WaitResourceRequest as [`ACCOUNT`]: the request's status when it
/// answered.
pub async fn wait(
    client: &mut Client,
    request_token: &str,
    timeout: Option<Duration>,
) -> Result<OperationStatus, tonic::Status> {
    let response = client
        .wait_resource_request(WaitResourceRequestRequest {
            region: String::new(),
            account_id: ACCOUNT.into(),
            request_token: request_token.into(),
            timeout: timeout.map(duration),
        })
        .await?
        .into_inner();
    Ok(response.progress_event.expect("event").operation_status())
}

/// WatchResourceRequest as [`ACCOUNT`], resuming after `start_after`.
pub async fn watch(
    client: &mut Client,
    request_token: &str,
    start_after: Option<i64>,
) -> Result<Streaming<WatchResourceRequestResponse>, tonic::Status> {
    Ok(client
        .watch_resource_request(WatchResourceRequestRequest {
            region: String::new(),
            account_id: ACCOUNT.into(),
            request_token: request_token.into(),
            start_after_event_number: start_after,
        })
        .await?
        .into_inner())
}

/// The next watched event as (number, status), failing after 10 s.
pub async fn next_watched(
    stream: &mut Streaming<WatchResourceRequestResponse>,
) -> Option<(i64, OperationStatus)> {
    let next = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a watched event within 10 s")
        .expect("the stream does not fail")?;
    let status = next.progress_event.expect("event").operation_status();
    Some((next.event_number, status))
}
