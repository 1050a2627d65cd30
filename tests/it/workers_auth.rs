//! The worker, wait and watch calls and google.longrunning with
//! `--auth sigv4`: workers claim and renew, clients wait, watch and poll
//! operations, each within the account its credential is bound to.

use std::time::Duration;

use googleapis_tonic_google_longrunning::google::longrunning::GetOperationRequest;
use googleapis_tonic_google_longrunning::google::longrunning::operations_client::OperationsClient;
use statusgate::domain::credential::Role;
use statusgate::grpc::proto::{
    ClaimResourceRequestsRequest, CreateResourceRequestRequest, RenewLeaseRequest,
    WaitResourceRequestRequest, WatchChangeTokenRequest, WatchResourceRequestRequest,
};
use tonic::Code;

use crate::backend_tests;
use crate::common::auth::{Bearer, change_tokens_as, issue, resource_requests_as, spawn_sigv4};
use crate::common::change_tokens::global;
use crate::common::grpc_errors::assert_error;
use crate::common::resource_requests::create_request;
use crate::common::workers::claim_request;
use crate::common::{ACCOUNT, Backend, OTHER_ACCOUNT};

async fn roles_and_accounts_apply_to_claims_waits_and_watches(backend: Backend) {
    let app = spawn_sigv4(backend).await;
    let client_key = issue(&app, Some(ACCOUNT), Role::Client).await.bearer();
    let other_client = issue(&app, Some(OTHER_ACCOUNT), Role::Client)
        .await
        .bearer();
    let bound_worker = issue(&app, Some(ACCOUNT), Role::Worker).await.bearer();
    let any_worker = issue(&app, None, Role::Worker).await.bearer();

    let mut caller = resource_requests_as(&app, client_key.clone()).await;
    let create = |account: &str| CreateResourceRequestRequest {
        account_id: account.into(),
        ..create_request(None)
    };
    let mine = caller
        .create_resource_request(create(""))
        .await
        .unwrap()
        .into_inner()
        .progress_event
        .unwrap()
        .request_token;
    let mut other_caller = resource_requests_as(&app, other_client).await;
    let theirs = other_caller
        .create_resource_request(create(""))
        .await
        .unwrap()
        .into_inner()
        .progress_event
        .unwrap()
        .request_token;

    // A client may not claim or renew.
    let refused = caller
        .claim_resource_requests(claim_request("c", 1))
        .await
        .unwrap_err();
    assert_error(&refused, Code::PermissionDenied, "AccessDeniedException");
    let refused = caller
        .renew_lease(RenewLeaseRequest {
            request_token: mine.clone(),
            lease_token: "abc".into(),
            ..RenewLeaseRequest::default()
        })
        .await
        .unwrap_err();
    assert_error(&refused, Code::PermissionDenied, "AccessDeniedException");

    // A worker bound to one account claims there only, and may not name another.
    let mut bound = resource_requests_as(&app, bound_worker).await;
    let denied = bound
        .claim_resource_requests(ClaimResourceRequestsRequest {
            account_id: Some(OTHER_ACCOUNT.into()),
            ..claim_request("w", 10)
        })
        .await
        .unwrap_err();
    assert_error(&denied, Code::PermissionDenied, "AccessDeniedException");
    let claims = bound
        .claim_resource_requests(claim_request("w", 10))
        .await
        .unwrap()
        .into_inner()
        .claims;
    let claimed: Vec<_> = claims
        .iter()
        .map(|claim| claim.progress_event.as_ref().unwrap().request_token.clone())
        .collect();
    assert_eq!(claimed, std::slice::from_ref(&mine));
    // One bound to every account claims across them.
    let mut any = resource_requests_as(&app, any_worker).await;
    let claims = any
        .claim_resource_requests(claim_request("w", 10))
        .await
        .unwrap()
        .into_inner()
        .claims;
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].account_id, OTHER_ACCOUNT);
    assert_eq!(
        claims[0].progress_event.as_ref().unwrap().request_token,
        theirs
    );

    // Clients wait for and watch their own requests, not another account's.
    let waited = caller
        .wait_resource_request(WaitResourceRequestRequest {
            request_token: mine.clone(),
            timeout: Some(prost_types::Duration {
                seconds: 0,
                nanos: 50_000_000,
            }),
            ..WaitResourceRequestRequest::default()
        })
        .await;
    assert!(waited.is_ok(), "{waited:?}");
    let watched = caller
        .watch_resource_request(WatchResourceRequestRequest {
            request_token: mine.clone(),
            ..WatchResourceRequestRequest::default()
        })
        .await;
    assert!(watched.is_ok(), "{:?}", watched.err());
    let foreign = caller
        .watch_resource_request(WatchResourceRequestRequest {
            request_token: theirs.clone(),
            ..WatchResourceRequestRequest::default()
        })
        .await
        .unwrap_err();
    assert_error(&foreign, Code::NotFound, "RequestTokenNotFoundException");
    let mut tokens = change_tokens_as(&app, client_key.clone()).await;
    let token = tokens
        .get_change_token(statusgate::grpc::proto::GetChangeTokenRequest { scope: global("") })
        .await
        .unwrap()
        .into_inner()
        .change_token;
    assert!(
        tokens
            .watch_change_token(WatchChangeTokenRequest {
                scope: global(""),
                change_token: token,
            })
            .await
            .is_ok()
    );

    // google.longrunning acts on the credential's account.
    let mut operations = OperationsClient::with_interceptor(app.channel().await, client_key);
    let operation = operations
        .get_operation(GetOperationRequest {
            name: format!("operations/{mine}"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(operation.name, format!("operations/{mine}"));
    let mut anonymous = OperationsClient::with_interceptor(app.channel().await, Bearer::none());
    let unauthenticated = anonymous
        .get_operation(GetOperationRequest {
            name: format!("operations/{mine}"),
        })
        .await
        .unwrap_err();
    assert_error(
        &unauthenticated,
        Code::Unauthenticated,
        "UnrecognizedClientException",
    );
}

backend_tests!(roles_and_accounts_apply_to_claims_waits_and_watches);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1alpha_needs_no_credentials() {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;

    let app = spawn_sigv4(Backend::Sqlite).await;
    let mut client = ServerReflectionClient::new(app.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = tokio::time::timeout(
        Duration::from_secs(10),
        client.server_reflection_info(futures::stream::iter([request])),
    )
    .await
    .unwrap()
    .expect("reflection is public")
    .into_inner();
    assert!(responses.message().await.unwrap().is_some());
}
