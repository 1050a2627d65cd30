//! The AWS facade driven by the real AWS SDK for Rust (WAF, WAF Regional,
//! Cloud Control) over plain HTTP, on both backends, with gRPC playing the
//! worker where a request or token has to move on.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudcontrol::client::Waiters;
use aws_sdk_cloudcontrol::error::ProvideErrorMetadata;
use aws_sdk_cloudcontrol::types::{
    Operation as SdkOperation, OperationStatus as SdkStatus, ProgressEvent as SdkProgressEvent,
    ResourceRequestStatusFilter,
};
use aws_sdk_waf::types::ChangeTokenStatus as WafStatus;
use aws_sdk_wafregional::types::ChangeTokenStatus as WafRegionalStatus;
use statusgate::grpc::proto::OperationStatus as GrpcStatus;

use crate::backend_tests;
use crate::common::{ACCOUNT, Backend, OTHER_ACCOUNT, TYPE_NAME, TestApp, wait_until};
use crate::common::{change_tokens, resource_requests};

/// Not 12 digits: such callers act as the server's default account.
const NON_NUMERIC_KEY: &str = "AKIDEXAMPLE";
const DEFAULT_ACCOUNT: &str = "000000000000";
const DESIRED_STATE: &str = r#"{"LogGroupName":"app-logs"}"#;
/// Where the Cloud Control clients call from (it does not matter).
const CLOUD_CONTROL_REGION: &str = "eu-west-1";

async fn global_token(client: &aws_sdk_waf::Client) -> String {
    client
        .get_change_token()
        .send()
        .await
        .expect("GetChangeToken")
        .change_token
        .expect("a change token")
}

async fn regional_token(client: &aws_sdk_wafregional::Client) -> String {
    client
        .get_change_token()
        .send()
        .await
        .expect("GetChangeToken")
        .change_token
        .expect("a change token")
}

async fn regional_status(client: &aws_sdk_wafregional::Client, token: &str) -> WafRegionalStatus {
    client
        .get_change_token_status()
        .change_token(token)
        .send()
        .await
        .expect("GetChangeTokenStatus")
        .change_token_status
        .expect("a status")
}

/// Asserts that a WAF Regional token is unknown to this client's scope.
#[track_caller]
fn assert_regional_nonexistent(
    outcome: Result<
        aws_sdk_wafregional::operation::get_change_token_status::GetChangeTokenStatusOutput,
        aws_sdk_wafregional::error::SdkError<
            aws_sdk_wafregional::operation::get_change_token_status::GetChangeTokenStatusError,
        >,
    >,
) {
    let error = outcome
        .expect_err("the token must not be visible")
        .into_service_error();
    assert!(error.is_waf_nonexistent_item_exception(), "{error:?}");
}

#[track_caller]
fn assert_global_nonexistent(
    outcome: Result<
        aws_sdk_waf::operation::get_change_token_status::GetChangeTokenStatusOutput,
        aws_sdk_waf::error::SdkError<
            aws_sdk_waf::operation::get_change_token_status::GetChangeTokenStatusError,
        >,
    >,
) {
    let error = outcome
        .expect_err("the token must not be visible")
        .into_service_error();
    assert!(error.is_waf_nonexistent_item_exception(), "{error:?}");
}

async fn create(client: &aws_sdk_cloudcontrol::Client, desired_state: &str) -> SdkProgressEvent {
    client
        .create_resource()
        .type_name(TYPE_NAME)
        .desired_state(desired_state)
        .send()
        .await
        .expect("CreateResource")
        .progress_event
        .expect("a progress event")
}

async fn status_of(client: &aws_sdk_cloudcontrol::Client, request_token: &str) -> SdkProgressEvent {
    client
        .get_resource_request_status()
        .request_token(request_token)
        .send()
        .await
        .expect("GetResourceRequestStatus")
        .progress_event
        .expect("a progress event")
}

/// What a worker reports over gRPC for a request of [`ACCOUNT`] in
/// [`CLOUD_CONTROL_REGION`].
async fn report(app: &TestApp, request_token: &str, status: GrpcStatus) {
    let mut worker = app.resource_requests().await;
    let mut report = resource_requests::report(request_token, status);
    report.region = CLOUD_CONTROL_REGION.into();
    resource_requests::record(&mut worker, report)
        .await
        .expect("RecordProgressEvent");
}

fn token_of(event: &SdkProgressEvent) -> String {
    event.request_token().expect("a request token").to_owned()
}

async fn waf_tokens_are_provisioned_once_per_scope_and_follow_grpc_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let global_us = app.sdk(ACCOUNT, "us-east-1").waf();
    let first = global_token(&global_us).await;
    assert_eq!(
        global_token(&global_us).await,
        first,
        "the outstanding token is returned again"
    );
    let status = global_us
        .get_change_token_status()
        .change_token(&first)
        .send()
        .await
        .expect("GetChangeTokenStatus");
    assert_eq!(status.change_token_status, Some(WafStatus::Provisioned));
    // boto3 signs WAF global with the client's region: it must not matter.
    let global_eu = app.sdk(ACCOUNT, "eu-west-1").waf();
    assert_eq!(global_token(&global_eu).await, first);

    let regional_eu = app.sdk(ACCOUNT, "eu-west-1").waf_regional();
    let regional = regional_token(&regional_eu).await;
    assert_ne!(regional, first, "WAF Regional has tokens of its own");
    assert_eq!(regional_token(&regional_eu).await, regional);
    assert_eq!(
        regional_status(&regional_eu, &regional).await,
        WafRegionalStatus::Provisioned
    );
    let regional_us = app.sdk(ACCOUNT, "us-west-2").waf_regional();
    assert_ne!(
        regional_token(&regional_us).await,
        regional,
        "one per region"
    );

    // A change uses the token over gRPC; the facade sees it move on.
    let scope = change_tokens::regional(ACCOUNT, "eu-west-1");
    let mut grpc = app.change_tokens().await;
    change_tokens::consume(&mut grpc, scope.clone(), &regional)
        .await
        .expect("ConsumeChangeToken");
    assert_eq!(
        regional_status(&regional_eu, &regional).await,
        WafRegionalStatus::Pending
    );
    change_tokens::mark_in_sync(&mut grpc, scope, &regional)
        .await
        .expect("MarkChangeTokenInSync");
    assert_eq!(
        regional_status(&regional_eu, &regional).await,
        WafRegionalStatus::Insync
    );
    assert_ne!(
        regional_token(&regional_eu).await,
        regional,
        "a used token is not handed out again"
    );
}

async fn waf_errors_reach_the_sdk_as_aws_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let global = app.sdk(ACCOUNT, "us-east-1").waf();
    let unknown = "abcd12f2-46da-4fdb-b8d5-fbd4c466928f";
    let error = global
        .get_change_token_status()
        .change_token(unknown)
        .send()
        .await
        .expect_err("unknown token")
        .into_service_error();
    assert!(error.is_waf_nonexistent_item_exception(), "{error:?}");
    assert_eq!(error.code(), Some("WAFNonexistentItemException"));
    assert_eq!(
        error.message(),
        Some("The referenced item abcd12f2-46da-4fdb-b8d5-fbd4c466928f does not exist")
    );

    // (change token, message): invalid tokens are WAFInvalidParameterException,
    // which GetChangeTokenStatus does not model, so the SDK surfaces its code.
    let too_long = "a".repeat(129);
    let table = [
        (
            Some("   "),
            "1 validation error detected: Value '   ' at 'changeToken' failed to satisfy constraint: Member must satisfy regular expression pattern: .*\\S.*".to_owned(),
        ),
        (
            Some(too_long.as_str()),
            format!(
                "1 validation error detected: Value '{too_long}' at 'changeToken' failed to satisfy constraint: Member must have length less than or equal to 128"
            ),
        ),
        (
            None,
            "1 validation error detected: Value null at 'changeToken' failed to satisfy constraint: Member must not be null".to_owned(),
        ),
    ];
    for (token, message) in table {
        let error = global
            .get_change_token_status()
            .set_change_token(token.map(str::to_owned))
            .send()
            .await
            .expect_err("invalid token")
            .into_service_error();
        assert_eq!(
            error.code(),
            Some("WAFInvalidParameterException"),
            "{token:?}"
        );
        assert_eq!(error.message(), Some(message.as_str()), "{token:?}");
    }

    let regional = app.sdk(ACCOUNT, "eu-west-1").waf_regional();
    let error = regional
        .get_change_token_status()
        .change_token(unknown)
        .send()
        .await
        .expect_err("unknown token")
        .into_service_error();
    assert!(error.is_waf_nonexistent_item_exception(), "{error:?}");
    let error = regional
        .get_change_token_status()
        .change_token("")
        .send()
        .await
        .expect_err("empty token")
        .into_service_error();
    assert_eq!(error.code(), Some("WAFInvalidParameterException"));
}

async fn waf_tokens_are_isolated_by_account_endpoint_and_region(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let regional_eu = app.sdk(ACCOUNT, "eu-west-1").waf_regional();
    let regional = regional_token(&regional_eu).await;
    let get_regional_status = |client: aws_sdk_wafregional::Client| {
        let regional = regional.clone();
        async move {
            client
                .get_change_token_status()
                .change_token(regional)
                .send()
                .await
        }
    };
    assert_regional_nonexistent(
        get_regional_status(app.sdk(ACCOUNT, "us-west-2").waf_regional()).await,
    );
    assert_regional_nonexistent(
        get_regional_status(app.sdk(OTHER_ACCOUNT, "eu-west-1").waf_regional()).await,
    );
    assert_global_nonexistent(
        app.sdk(ACCOUNT, "eu-west-1")
            .waf()
            .get_change_token_status()
            .change_token(&regional)
            .send()
            .await,
    );

    let global = global_token(&app.sdk(ACCOUNT, "us-east-1").waf()).await;
    assert_global_nonexistent(
        app.sdk(OTHER_ACCOUNT, "us-east-1")
            .waf()
            .get_change_token_status()
            .change_token(&global)
            .send()
            .await,
    );
    assert_regional_nonexistent(
        app.sdk(ACCOUNT, "us-east-1")
            .waf_regional()
            .get_change_token_status()
            .change_token(&global)
            .send()
            .await,
    );
    assert_ne!(
        global_token(&app.sdk(OTHER_ACCOUNT, "us-east-1").waf()).await,
        global
    );

    // Keys that are not account ids all act as the default account.
    let default_token = global_token(&app.sdk(NON_NUMERIC_KEY, "us-east-1").waf()).await;
    assert_eq!(
        global_token(&app.sdk(DEFAULT_ACCOUNT, "us-east-1").waf()).await,
        default_token
    );
    assert_eq!(
        global_token(&app.sdk("ANOTHERKEY", "us-east-1").waf()).await,
        default_token
    );
    assert_ne!(default_token, global);
}

async fn cloudcontrol_operations_round_trip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.sdk(ACCOUNT, CLOUD_CONTROL_REGION).cloudcontrol();
    let before = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;

    let created = create(&client, DESIRED_STATE).await;
    assert_eq!(created.type_name(), Some(TYPE_NAME));
    assert_eq!(created.operation(), Some(&SdkOperation::Create));
    assert_eq!(created.operation_status(), Some(&SdkStatus::Pending));
    assert_eq!(created.identifier(), None);
    let event_time = created.event_time().expect("an event time").secs();
    assert!(
        (before - 1..=before + 60).contains(&event_time),
        "{event_time} vs {before}"
    );
    let created_token = token_of(&created);

    let status = client
        .get_resource_request_status()
        .request_token(&created_token)
        .send()
        .await
        .expect("GetResourceRequestStatus");
    assert!(status.hooks_progress_event().is_empty());
    let polled = status.progress_event.expect("a progress event");
    assert_eq!(polled, created, "polling returns the request as created");

    let updated = client
        .update_resource()
        .type_name(TYPE_NAME)
        .identifier("app-logs")
        .patch_document(r#"[{"op":"replace","path":"/RetentionInDays","value":7}]"#)
        .send()
        .await
        .expect("UpdateResource")
        .progress_event
        .expect("a progress event");
    assert_eq!(updated.operation(), Some(&SdkOperation::Update));
    assert_eq!(updated.operation_status(), Some(&SdkStatus::Pending));
    assert_eq!(updated.identifier(), Some("app-logs"));

    // Another resource: app-logs has an update in progress.
    let deleted = client
        .delete_resource()
        .type_name(TYPE_NAME)
        .identifier("old-logs")
        .send()
        .await
        .expect("DeleteResource")
        .progress_event
        .expect("a progress event");
    assert_eq!(deleted.operation(), Some(&SdkOperation::Delete));
    assert_eq!(deleted.identifier(), Some("old-logs"));
    let tokens: HashSet<String> = [&created, &updated, &deleted].map(token_of).into();
    assert_eq!(tokens.len(), 3, "every request has its own token");

    // Nobody started the create: cancelling completes at once, and again echoes it.
    for _ in 0..2 {
        let cancelled = client
            .cancel_resource_request()
            .request_token(&created_token)
            .send()
            .await
            .expect("CancelResourceRequest")
            .progress_event
            .expect("a progress event");
        assert_eq!(
            cancelled.operation_status(),
            Some(&SdkStatus::CancelComplete)
        );
    }
    assert_eq!(
        status_of(&client, &created_token).await.operation_status(),
        Some(&SdkStatus::CancelComplete)
    );

    // A worker took the update: cancelling has to wait for it.
    let updated_token = token_of(&updated);
    report(&app, &updated_token, GrpcStatus::InProgress).await;
    let cancelling = client
        .cancel_resource_request()
        .request_token(&updated_token)
        .send()
        .await
        .expect("CancelResourceRequest")
        .progress_event
        .expect("a progress event");
    assert_eq!(
        cancelling.operation_status(),
        Some(&SdkStatus::CancelInProgress)
    );

    // A request recorded over gRPC in the same region is the same request
    // on the facade.
    let mut in_region = resource_requests::create_request(None);
    in_region.region = CLOUD_CONTROL_REGION.into();
    let recorded = resource_requests::create(&mut app.resource_requests().await, in_region).await;
    let seen = status_of(&client, &recorded.request_token).await;
    assert_eq!(seen.operation_status(), Some(&SdkStatus::Pending));
    assert_eq!(seen.type_name(), Some(TYPE_NAME));
}

async fn cloudcontrol_errors_reach_the_sdk_as_aws_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.sdk(ACCOUNT, CLOUD_CONTROL_REGION).cloudcontrol();
    let unknown = "b4a1cc5a-a2ae-4dec-9e1e-150123456789";

    let error = client
        .get_resource_request_status()
        .request_token(unknown)
        .send()
        .await
        .expect_err("unknown request")
        .into_service_error();
    assert!(error.is_request_token_not_found_exception(), "{error:?}");
    assert_eq!(
        error.message(),
        Some("Request with token b4a1cc5a-a2ae-4dec-9e1e-150123456789 was not found")
    );
    let error = client
        .cancel_resource_request()
        .request_token(unknown)
        .send()
        .await
        .expect_err("unknown request")
        .into_service_error();
    assert!(error.is_request_token_not_found_exception(), "{error:?}");

    // The same client token with the same input is the same request...
    let client_token = "d1e9f6c0-5f8a-4d7e-9c1b-2a3b4c5d6e7f";
    let create_with = |desired_state: &'static str| {
        client
            .create_resource()
            .type_name(TYPE_NAME)
            .desired_state(desired_state)
            .client_token(client_token)
            .send()
    };
    let first = create_with(DESIRED_STATE).await.expect("CreateResource");
    let first_token = token_of(first.progress_event().expect("a progress event"));
    let again = create_with(DESIRED_STATE)
        .await
        .expect("CreateResource again");
    assert_eq!(
        token_of(again.progress_event().expect("a progress event")),
        first_token
    );
    // ...and with other input a conflict.
    let error = create_with(r#"{"LogGroupName":"other-logs"}"#)
        .await
        .expect_err("conflicting client token")
        .into_service_error();
    assert!(error.is_client_token_conflict_exception(), "{error:?}");
    assert_eq!(
        error.message(),
        Some(
            format!(
                "ClientToken {client_token} is already associated with an existing operation with RequestToken {first_token}"
            )
            .as_str()
        )
    );

    // A finished request cannot be cancelled.
    report(&app, &first_token, GrpcStatus::Success).await;
    let error = client
        .cancel_resource_request()
        .request_token(&first_token)
        .send()
        .await
        .expect_err("cancelling a finished request")
        .into_service_error();
    assert_eq!(error.code(), Some("ValidationException"));
    assert_eq!(
        error.message(),
        Some(format!("Request {first_token} is already in status SUCCESS").as_str())
    );

    // Model constraints are ValidationException naming the member.
    let error = client
        .create_resource()
        .type_name("AWS::Logs")
        .desired_state(DESIRED_STATE)
        .send()
        .await
        .expect_err("short type name")
        .into_service_error();
    assert_eq!(error.code(), Some("ValidationException"));
    assert_eq!(
        error.message(),
        Some(
            "1 validation error detected: Value 'AWS::Logs' at 'typeName' failed to satisfy constraint: Member must have length greater than or equal to 10"
        )
    );
    let error = client
        .create_resource()
        .type_name(TYPE_NAME)
        .send()
        .await
        .expect_err("no desired state")
        .into_service_error();
    assert_eq!(error.code(), Some("ValidationException"));
    assert_eq!(
        error.message(),
        Some(
            "1 validation error detected: Value null at 'desiredState' failed to satisfy constraint: Member must not be null"
        )
    );
    let error = client
        .get_resource_request_status()
        .request_token("a b")
        .send()
        .await
        .expect_err("bad request token")
        .into_service_error();
    assert_eq!(error.code(), Some("ValidationException"));
    assert_eq!(
        error.message(),
        Some(
            "1 validation error detected: Value 'a b' at 'requestToken' failed to satisfy constraint: Member must satisfy regular expression pattern: [-A-Za-z0-9+/=]+"
        )
    );
    let error = client
        .list_resource_requests()
        .max_results(101)
        .send()
        .await
        .expect_err("too many results")
        .into_service_error();
    assert_eq!(error.code(), Some("ValidationException"));
    assert_eq!(
        error.message(),
        Some(
            "1 validation error detected: Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"
        )
    );
}

async fn cloudcontrol_requests_are_isolated_by_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.sdk(ACCOUNT, CLOUD_CONTROL_REGION).cloudcontrol();
    let request_token = token_of(&create(&owner, DESIRED_STATE).await);
    let default_caller = app
        .sdk(NON_NUMERIC_KEY, CLOUD_CONTROL_REGION)
        .cloudcontrol();
    for stranger in [
        app.sdk(OTHER_ACCOUNT, CLOUD_CONTROL_REGION).cloudcontrol(),
        default_caller.clone(),
    ] {
        let error = stranger
            .get_resource_request_status()
            .request_token(&request_token)
            .send()
            .await
            .expect_err("another account's request")
            .into_service_error();
        assert!(error.is_request_token_not_found_exception(), "{error:?}");
        let error = stranger
            .cancel_resource_request()
            .request_token(&request_token)
            .send()
            .await
            .expect_err("another account's request")
            .into_service_error();
        assert!(error.is_request_token_not_found_exception(), "{error:?}");
        let listed = stranger
            .list_resource_requests()
            .send()
            .await
            .expect("ListResourceRequests");
        assert!(listed.resource_request_status_summaries().is_empty());
    }
    // Non-numeric keys share the default account.
    let default_token = token_of(&create(&default_caller, DESIRED_STATE).await);
    let seen = status_of(
        &app.sdk(DEFAULT_ACCOUNT, CLOUD_CONTROL_REGION)
            .cloudcontrol(),
        &default_token,
    )
    .await;
    assert_eq!(seen.operation_status(), Some(&SdkStatus::Pending));
    assert_eq!(
        status_of(&owner, &request_token).await.operation_status(),
        Some(&SdkStatus::Pending),
        "the owner still sees it"
    );
}

async fn list_paginates_newest_first_and_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.sdk(ACCOUNT, CLOUD_CONTROL_REGION).cloudcontrol();
    let mut created = Vec::new();
    for index in 0..45 {
        let state = format!(r#"{{"LogGroupName":"group-{index}"}}"#);
        created.push(token_of(&create(&client, &state).await));
    }
    let mut deleted = Vec::new();
    for index in 0..3 {
        let event = client
            .delete_resource()
            .type_name(TYPE_NAME)
            .identifier(format!("group-{index}"))
            .send()
            .await
            .expect("DeleteResource")
            .progress_event
            .expect("a progress event");
        deleted.push(token_of(&event));
    }
    let cancelled: Vec<String> = created.iter().step_by(9).cloned().collect();
    for request_token in &cancelled {
        client
            .cancel_resource_request()
            .request_token(request_token)
            .send()
            .await
            .expect("CancelResourceRequest");
    }

    let pages = client
        .list_resource_requests()
        .max_results(10)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .expect("every page");
    let page_sizes: Vec<usize> = pages
        .iter()
        .map(|page| page.resource_request_status_summaries().len())
        .collect();
    assert_eq!(page_sizes, [10, 10, 10, 10, 8]);
    assert!(pages.last().unwrap().next_token().is_none());
    let listed: Vec<String> = pages
        .iter()
        .flat_map(|page| page.resource_request_status_summaries())
        .map(token_of)
        .collect();
    let newest_first: Vec<String> = created.iter().chain(&deleted).rev().cloned().collect();
    assert_eq!(listed, newest_first, "all of them, once each, newest first");

    let only_cancelled = client
        .list_resource_requests()
        .resource_request_status_filter(
            ResourceRequestStatusFilter::builder()
                .operation_statuses(SdkStatus::CancelComplete)
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("cancelled requests");
    let cancelled_newest_first: Vec<String> = cancelled.iter().rev().cloned().collect();
    assert_eq!(
        only_cancelled.iter().map(token_of).collect::<Vec<_>>(),
        cancelled_newest_first
    );
    let only_deletes = client
        .list_resource_requests()
        .resource_request_status_filter(
            ResourceRequestStatusFilter::builder()
                .operations(SdkOperation::Delete)
                .operation_statuses(SdkStatus::Pending)
                .build(),
        )
        .send()
        .await
        .expect("pending deletes");
    let deletes_newest_first: Vec<String> = deleted.iter().rev().cloned().collect();
    assert_eq!(
        only_deletes
            .resource_request_status_summaries()
            .iter()
            .map(token_of)
            .collect::<Vec<_>>(),
        deletes_newest_first
    );
    assert!(only_deletes.next_token().is_none());

    let error = client
        .list_resource_requests()
        .next_token("bm90LWEtY3Vyc29y")
        .send()
        .await
        .expect_err("a token the server never issued")
        .into_service_error();
    assert_eq!(error.code(), Some("ValidationException"));
}

/// How many GetResourceRequestStatus calls the facade has answered, from
/// its metrics.
async fn status_polls_answered(app: &TestApp) -> u64 {
    let metrics = reqwest::get(format!("{}/metrics", app.http_endpoint()))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("the metrics");
    let counter = r#"statusgate_requests_total{transport="http",operation="GetResourceRequestStatus",outcome="ok"} "#;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(counter))
        .map_or(0, |count| count.parse().expect("a count"))
}

async fn waiter_completes_when_a_grpc_worker_reports_success(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.sdk(ACCOUNT, CLOUD_CONTROL_REGION).cloudcontrol();
    let request_token = token_of(&create(&client, DESIRED_STATE).await);
    let started = Instant::now();
    let waiter = client
        .wait_until_resource_request_success()
        .request_token(&request_token)
        .wait(Duration::from_secs(60));
    let worker = async {
        // Report once the waiter has seen the request unfinished.
        wait_until(
            Duration::from_secs(10),
            "the waiter's first GetResourceRequestStatus",
            async || match status_polls_answered(&app).await {
                0 => Err("no poll answered".to_owned()),
                _ => Ok(()),
            },
        )
        .await;
        report(&app, &request_token, GrpcStatus::InProgress).await;
        report(&app, &request_token, GrpcStatus::Success).await;
    };
    let (outcome, ()) = tokio::join!(waiter, worker);
    let final_poll = outcome.expect("the waiter succeeds");
    let output = final_poll.as_result().expect("a successful final poll");
    let event = output.progress_event().expect("a progress event");
    assert_eq!(event.operation_status(), Some(&SdkStatus::Success));
    assert_eq!(event.request_token(), Some(request_token.as_str()));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the waiter polls every 5 s: {:?}",
        started.elapsed()
    );
}

backend_tests!(
    waf_tokens_are_provisioned_once_per_scope_and_follow_grpc_changes,
    waf_errors_reach_the_sdk_as_aws_errors,
    waf_tokens_are_isolated_by_account_endpoint_and_region,
    cloudcontrol_operations_round_trip,
    cloudcontrol_errors_reach_the_sdk_as_aws_errors,
    cloudcontrol_requests_are_isolated_by_account,
    list_paginates_newest_first_and_filters,
    waiter_completes_when_a_grpc_worker_reports_success,
);
