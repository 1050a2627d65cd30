//! Calling `ResourceRequestService` from tests, as [`ACCOUNT`] unless an
//! account is named: request builders, and one function per RPC that answers
//! with the progress event (or the gRPC error, for the test to check).

use statusgate::grpc::proto::resource_request_service_client::ResourceRequestServiceClient;
use statusgate::grpc::proto::{
    CancelResourceRequestRequest, CreateResourceRequestRequest, GetResourceRequestStatusRequest,
    ListProgressEventsRequest, Operation, OperationStatus, ProgressEvent,
    RecordProgressEventRequest,
};
use tonic::transport::Channel;

use super::{ACCOUNT, TYPE_NAME};

pub type Client = ResourceRequestServiceClient<Channel>;

/// A create of a `AWS::Logs::LogGroup` named `app-logs`.
pub fn create_request(client_token: Option<&str>) -> CreateResourceRequestRequest {
    CreateResourceRequestRequest {
        account_id: ACCOUNT.into(),
        operation: Operation::Create as i32,
        type_name: TYPE_NAME.into(),
        desired_state: Some(r#"{"LogGroupName":"app-logs"}"#.into()),
        client_token: client_token.map(str::to_owned),
        ..CreateResourceRequestRequest::default()
    }
}

/// CreateResourceRequest, which must succeed.
pub async fn create(client: &mut Client, request: CreateResourceRequestRequest) -> ProgressEvent {
    client
        .create_resource_request(request)
        .await
        .expect("CreateResourceRequest")
        .into_inner()
        .progress_event
        .expect("a progress event")
}

/// What a worker reports: the request moved to `status`.
pub fn report(request_token: &str, status: OperationStatus) -> RecordProgressEventRequest {
    RecordProgressEventRequest {
        account_id: ACCOUNT.into(),
        request_token: request_token.into(),
        operation_status: status as i32,
        ..RecordProgressEventRequest::default()
    }
}

/// [`report`] with a status message, to tell the reports apart.
pub fn report_with_message(
    request_token: &str,
    status: OperationStatus,
    message: &str,
) -> RecordProgressEventRequest {
    RecordProgressEventRequest {
        status_message: Some(message.to_owned()),
        ..report(request_token, status)
    }
}

pub async fn record(
    client: &mut Client,
    request: RecordProgressEventRequest,
) -> Result<ProgressEvent, tonic::Status> {
    Ok(client
        .record_progress_event(request)
        .await?
        .into_inner()
        .progress_event
        .expect("event"))
}

pub async fn cancel(
    client: &mut Client,
    request_token: &str,
) -> Result<ProgressEvent, tonic::Status> {
    let response = client
        .cancel_resource_request(CancelResourceRequestRequest {
            region: String::new(),
            account_id: ACCOUNT.into(),
            request_token: request_token.into(),
        })
        .await?;
    Ok(response.into_inner().progress_event.expect("event"))
}

/// GetResourceRequestStatus as `account`; it never carries hook events.
pub async fn status_of(
    client: &mut Client,
    account: &str,
    request_token: &str,
) -> Result<ProgressEvent, tonic::Status> {
    let response = client
        .get_resource_request_status(GetResourceRequestStatusRequest {
            region: String::new(),
            account_id: account.into(),
            request_token: request_token.into(),
        })
        .await?
        .into_inner();
    assert!(response.hooks_progress_event.is_empty());
    Ok(response.progress_event.expect("event"))
}

/// ListProgressEvents, which must succeed: the request's events, oldest first.
pub async fn history(client: &mut Client, request_token: &str) -> Vec<ProgressEvent> {
    client
        .list_progress_events(ListProgressEventsRequest {
            region: String::new(),
            account_id: ACCOUNT.into(),
            request_token: request_token.into(),
        })
        .await
        .expect("ListProgressEvents")
        .into_inner()
        .progress_events
}
