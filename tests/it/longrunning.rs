//! `google.longrunning.Operations` over a real gRPC socket, driven by the
//! client generated from googleapis' `operations.proto`
//! (googleapis-tonic-google-longrunning), as a gax-style client would: poll
//! until `done`, list with a filter, cancel, wait. Also the gRPC tools'
//! entry points: reflection in both protocol versions.

use std::time::Duration;

use googleapis_tonic_google_longrunning::google::longrunning::operations_client::OperationsClient;
use googleapis_tonic_google_longrunning::google::longrunning::{
    CancelOperationRequest, DeleteOperationRequest, GetOperationRequest, ListOperationsRequest,
    Operation, WaitOperationRequest, operation,
};
use prost::Message;
use prost_types::value::Kind;
use statusgate::grpc::proto::{self, OperationStatus};
use statusgate::grpc::{ACCOUNT_METADATA, METADATA_TYPE_URL, RESPONSE_TYPE_URL};
use tonic::Code;
use tonic::transport::Channel;

use crate::backend_tests;
use crate::common::grpc_errors::assert_invalid_field;
use crate::common::resource_requests::{cancel, create, create_request, record, report};
use crate::common::workers::duration;
use crate::common::{ACCOUNT, Backend, TestApp, wait_until};

type Operations = OperationsClient<Channel>;

/// A longrunning call as [`ACCOUNT`] (the messages have no account member).
fn as_account<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert(ACCOUNT_METADATA, ACCOUNT.parse().unwrap());
    request
}

async fn get(client: &mut Operations, name: &str) -> Result<Operation, tonic::Status> {
    let request = as_account(GetOperationRequest { name: name.into() });
    Ok(client.get_operation(request).await?.into_inner())
}

fn progress_event(operation: &Operation) -> proto::ProgressEvent {
    let metadata = operation.metadata.as_ref().expect("metadata");
    assert_eq!(metadata.type_url, METADATA_TYPE_URL);
    proto::ProgressEvent::decode(metadata.value.as_slice()).unwrap()
}

async fn a_longrunning_client_polls_an_operation_to_done(backend: Backend) {
    let (app, clock) = TestApp::spawn_on_manual_clock(backend, |config| {
        config.simulate_provisioning = Some(Duration::from_millis(100));
    })
    .await;
    let mut requests = app.resource_requests().await;
    let token = create(&mut requests, create_request(None))
        .await
        .request_token;
    let name = format!("operations/{token}");
    let mut operations = OperationsClient::new(app.channel().await);
    let first = get(&mut operations, &name).await.unwrap();
    assert_eq!(first.name, name);
    assert!(!first.done);
    assert_eq!(
        progress_event(&first).operation_status(),
        OperationStatus::Pending
    );

    // The simulated worker takes a step per 100 ms of the manual clock.
    let done = wait_until(
        Duration::from_secs(10),
        "the operation to be done",
        async || {
            clock.advance(Duration::from_millis(50));
            let polled = get(&mut operations, &name).await.unwrap();
            if polled.done {
                Ok(polled)
            } else {
                Err(format!("{:?}", progress_event(&polled).operation_status()))
            }
        },
    )
    .await;
    assert_eq!(
        progress_event(&done).operation_status(),
        OperationStatus::Success
    );
    let Some(operation::Result::Response(response)) = done.result else {
        panic!("a response: {done:?}");
    };
    assert_eq!(response.type_url, RESPONSE_TYPE_URL);
    let model = prost_types::Value::decode(response.value.as_slice()).unwrap();
    let Some(Kind::StructValue(model)) = model.kind else {
        panic!("the resource model as a struct: {model:?}");
    };
    assert_eq!(
        model.fields["LogGroupName"].kind,
        Some(Kind::StringValue("app-logs".into()))
    );
}

async fn failures_and_cancellations_are_operation_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut requests = app.resource_requests().await;
    let mut operations = OperationsClient::new(app.channel().await);
    let failed = create(&mut requests, create_request(None))
        .await
        .request_token;
    record(
        &mut requests,
        proto::RecordProgressEventRequest {
            status_message: Some("the group exists".into()),
            error_code: proto::HandlerErrorCode::AlreadyExists as i32,
            ..report(&failed, OperationStatus::Failed)
        },
    )
    .await
    .unwrap();
    let operation = get(&mut operations, &format!("operations/{failed}"))
        .await
        .unwrap();
    assert!(operation.done);
    let Some(operation::Result::Error(error)) = operation.result else {
        panic!("an error: {operation:?}");
    };
    assert_eq!(error.code, Code::AlreadyExists as i32);
    assert_eq!(error.message, "the group exists");

    let cancelled = create(&mut requests, create_request(None))
        .await
        .request_token;
    let name = format!("operations/{cancelled}");
    operations
        .cancel_operation(as_account(CancelOperationRequest { name: name.clone() }))
        .await
        .unwrap();
    let operation = get(&mut operations, &name).await.unwrap();
    let Some(operation::Result::Error(error)) = operation.result else {
        panic!("an error: {operation:?}");
    };
    assert_eq!(error.code, Code::Cancelled as i32);
    // Cancelling a finished request is refused as CancelResourceRequest does.
    let refused = operations
        .cancel_operation(as_account(CancelOperationRequest {
            name: format!("operations/{failed}"),
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);

    let delete = operations
        .delete_operation(as_account(DeleteOperationRequest { name }))
        .await
        .unwrap_err();
    assert_eq!(delete.code(), Code::Unimplemented);
    assert!(
        delete.message().contains("retention"),
        "{}",
        delete.message()
    );
}

async fn operations_list_by_status_page_by_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut requests = app.resource_requests().await;
    let mut operations = OperationsClient::new(app.channel().await);
    let mut running = Vec::new();
    for index in 0..5 {
        let token = create(&mut requests, create_request(None))
            .await
            .request_token;
        if index % 2 == 0 {
            record(&mut requests, report(&token, OperationStatus::InProgress))
                .await
                .unwrap();
            running.push(format!("operations/{token}"));
        }
    }
    let list = |page_token: String| {
        as_account(ListOperationsRequest {
            name: "operations".into(),
            filter: "status=IN_PROGRESS".into(),
            page_size: 2,
            page_token,
            return_partial_success: false,
        })
    };
    let mut listed = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = operations
            .list_operations(list(page_token))
            .await
            .unwrap()
            .into_inner();
        assert!(page.operations.len() <= 2);
        listed.extend(page.operations.into_iter().map(|operation| operation.name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    running.reverse();
    assert_eq!(listed, running, "newest first, only IN_PROGRESS");

    let everything = operations
        .list_operations(as_account(ListOperationsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(everything.operations.len(), 5);
    for bad in [
        "status=RUNNING",
        "state=IN_PROGRESS",
        "status=PENDING and done=false",
    ] {
        let status = operations
            .list_operations(as_account(ListOperationsRequest {
                filter: bad.into(),
                ..ListOperationsRequest::default()
            }))
            .await
            .unwrap_err();
        assert_invalid_field(&status, "ValidationException", "filter");
    }
}

async fn wait_operation_answers_when_the_request_finishes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut requests = app.resource_requests().await;
    let mut operations = OperationsClient::new(app.channel().await);
    let token = create(&mut requests, create_request(None))
        .await
        .request_token;
    let name = format!("operations/{token}");
    let timed_out = operations
        .wait_operation(as_account(WaitOperationRequest {
            name: name.clone(),
            timeout: Some(duration(Duration::from_millis(100))),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(!timed_out.done);
    let waiting_name = name.clone();
    let mut waiter = operations.clone();
    let waiting = tokio::spawn(async move {
        waiter
            .wait_operation(as_account(WaitOperationRequest {
                name: waiting_name,
                timeout: Some(duration(Duration::from_secs(20))),
            }))
            .await
    });
    cancel(&mut requests, &token).await.unwrap();
    let finished = waiting.await.unwrap().unwrap().into_inner();
    assert!(finished.done);
    let other_account = operations
        .get_operation(GetOperationRequest { name: name.clone() })
        .await
        .unwrap_err();
    assert_eq!(
        other_account.code(),
        Code::NotFound,
        "without the account entry the caller is the default account"
    );
    let bad_name = get(&mut operations, &token).await.unwrap_err();
    assert_invalid_field(&bad_name, "ValidationException", "name");
}

backend_tests!(
    a_longrunning_client_polls_an_operation_to_done,
    failures_and_cancellations_are_operation_errors,
    operations_list_by_status_page_by_page,
    wait_operation_answers_when_the_request_finishes,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_answers_in_v1alpha_too() {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut client = ServerReflectionClient::new(app.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .expect("v1alpha reflection is served")
        .into_inner();
    let response = responses.message().await.unwrap().expect("a response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection response {response:?}");
    };
    let names: Vec<String> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    for expected in [
        "statusgate.v1.ChangeTokenService",
        "statusgate.v1.ResourceRequestService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} missing from {names:?}"
        );
    }
}
