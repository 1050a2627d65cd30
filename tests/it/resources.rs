//! Cloud Control resources through the real AWS SDK for Rust (and gRPC, the
//! worker's side and the second transport), on both backends: a resource
//! exists once its request succeeds, `GetResource` leaves write-only
//! properties out, `ListResources` pages without duplicates or gaps, one
//! change per resource at a time across replicas, regions kept apart,
//! `--known-types-only`, the simulation's rules of every kind, RFC 6902
//! patches, and hook progress in AWS's shape.
//!
//! The simulated worker runs on a `ManualClock`: a test moves time by one
//! delay and then waits (bounded) for the step it made due.

use std::time::Duration;

use aws_sdk_cloudcontrol::client::Waiters;
use aws_sdk_cloudcontrol::error::ProvideErrorMetadata;
use aws_sdk_cloudcontrol::types::{
    HandlerErrorCode as SdkErrorCode, OperationStatus as SdkStatus,
    ProgressEvent as SdkProgressEvent,
};
use serde_json::{Value, json};
use statusgate::config::Config;
use statusgate::grpc::proto::{self, OperationStatus as GrpcStatus};
use tonic::Code;

use crate::backend_tests;
use crate::common::clock::ManualClock;
use crate::common::grpc_errors::{assert_error, assert_invalid_field};
use crate::common::resource_requests::{self, record};
use crate::common::{
    ACCOUNT, Backend, OTHER_ACCOUNT, TYPE_NAME, TestApp, TestDatabase, wait_until,
};

type CloudControl = aws_sdk_cloudcontrol::Client;

/// Where the SDK clients call from: not the default region.
const REGION: &str = "eu-west-1";
/// A type with write-only (`Code/ZipFile`) and create-only
/// (`FunctionName`) properties.
const FUNCTION: &str = "AWS::Lambda::Function";
/// The simulated delay, on the manual clock.
const DELAY: Duration = Duration::from_millis(100);
const WAIT_LIMIT: Duration = Duration::from_secs(10);

fn simulate(config: &mut Config) {
    config.simulate_provisioning = Some(DELAY);
}

async fn status(client: &CloudControl, request_token: &str) -> SdkProgressEvent {
    client
        .get_resource_request_status()
        .request_token(request_token)
        .send()
        .await
        .expect("GetResourceRequestStatus")
        .progress_event
        .expect("a progress event")
}

/// Polls until the request is in one of `wanted`, for at most [`WAIT_LIMIT`].
async fn wait_for(
    client: &CloudControl,
    request_token: &str,
    wanted: &[SdkStatus],
) -> SdkProgressEvent {
    wait_until(
        WAIT_LIMIT,
        &format!("request {request_token} to be one of {wanted:?}"),
        async || {
            let event = status(client, request_token).await;
            match event.operation_status() {
                Some(status) if wanted.contains(status) => Ok(event),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
}

/// Moves the simulation through both steps of a request: `IN_PROGRESS`
/// one delay after it was created, finished one delay later.
async fn simulate_to_the_end(
    clock: &ManualClock,
    client: &CloudControl,
    request_token: &str,
) -> SdkProgressEvent {
    clock.advance(DELAY);
    wait_for(client, request_token, &[SdkStatus::InProgress]).await;
    clock.advance(DELAY);
    wait_for(
        client,
        request_token,
        &[SdkStatus::Success, SdkStatus::Failed],
    )
    .await
}

fn token_of(event: &SdkProgressEvent) -> String {
    event.request_token().expect("a request token").to_owned()
}

async fn create(client: &CloudControl, type_name: &str, desired_state: &str) -> String {
    let created = client
        .create_resource()
        .type_name(type_name)
        .desired_state(desired_state)
        .send()
        .await
        .expect("CreateResource")
        .progress_event
        .expect("a progress event");
    token_of(&created)
}

async fn update(client: &CloudControl, type_name: &str, identifier: &str, patch: &str) -> String {
    let updated = client
        .update_resource()
        .type_name(type_name)
        .identifier(identifier)
        .patch_document(patch)
        .send()
        .await
        .expect("UpdateResource")
        .progress_event
        .expect("a progress event");
    token_of(&updated)
}

async fn delete(client: &CloudControl, type_name: &str, identifier: &str) -> String {
    let deleted = client
        .delete_resource()
        .type_name(type_name)
        .identifier(identifier)
        .send()
        .await
        .expect("DeleteResource")
        .progress_event
        .expect("a progress event");
    token_of(&deleted)
}

async fn properties_of(client: &CloudControl, type_name: &str, identifier: &str) -> Value {
    let output = client
        .get_resource()
        .type_name(type_name)
        .identifier(identifier)
        .send()
        .await
        .expect("GetResource");
    assert_eq!(output.type_name(), Some(type_name));
    let description = output.resource_description().expect("a description");
    assert_eq!(description.identifier(), Some(identifier));
    serde_json::from_str(description.properties().expect("properties")).expect("JSON properties")
}

fn assert_resource_not_found(
    error: aws_sdk_cloudcontrol::error::SdkError<
        aws_sdk_cloudcontrol::operation::get_resource::GetResourceError,
        aws_sdk_cloudcontrol::config::http::HttpResponse,
    >,
    type_name: &str,
    identifier: &str,
) {
    let status = error.raw_response().map(|raw| raw.status().as_u16());
    let error = error.into_service_error();
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    assert_eq!(status, Some(400));
    assert_eq!(
        error.message(),
        Some(
            format!("Resource of type '{type_name}' with identifier '{identifier}' was not found.")
                .as_str()
        )
    );
}

/// A worker (over gRPC) finishes a request of [`ACCOUNT`] in [`REGION`]
/// with `identifier` and `resource_model`.
async fn succeed(app: &TestApp, request_token: &str, identifier: &str, resource_model: &str) {
    let mut worker = app.resource_requests().await;
    let mut started = resource_requests::report(request_token, GrpcStatus::InProgress);
    started.region = REGION.into();
    record(&mut worker, started).await.expect("IN_PROGRESS");
    let mut finished = resource_requests::report(request_token, GrpcStatus::Success);
    finished.region = REGION.into();
    finished.identifier = Some(identifier.into());
    finished.resource_model = Some(resource_model.into());
    record(&mut worker, finished).await.expect("SUCCESS");
}

/// A log group `identifier` that exists (created, and reported done by a
/// worker over gRPC), with `retention` days.
async fn provision_log_group(
    app: &TestApp,
    client: &CloudControl,
    identifier: &str,
    retention: u32,
) {
    let model = json!({"LogGroupName": identifier, "RetentionInDays": retention}).to_string();
    let token = create(client, TYPE_NAME, &model).await;
    succeed(app, &token, identifier, &model).await;
}

async fn create_wait_get_update_and_delete_through_the_sdk(backend: Backend) {
    let (app, clock) = TestApp::spawn_on_manual_clock(backend, simulate).await;
    let client = app.sdk(ACCOUNT, REGION).cloudcontrol();
    let desired_state = json!({
        "FunctionName": "resize",
        "Role": "arn:aws:iam::123456789012:role/lambda",
        "Runtime": "python3.12",
        "Handler": "index.handler",
        "Code": {"ZipFile": "def handler(event, context): pass"},
        "Timeout": 3
    });
    let created = create(&client, FUNCTION, &desired_state.to_string()).await;
    simulate_to_the_end(&clock, &client, &created).await;
    let final_poll = client
        .wait_until_resource_request_success()
        .request_token(&created)
        .wait(Duration::from_secs(60))
        .await
        .expect("the ResourceRequestSuccess waiter succeeds");
    let output = final_poll.as_result().expect("a successful final poll");
    let event = output.progress_event().expect("a progress event");
    assert_eq!(event.operation_status(), Some(&SdkStatus::Success));
    assert_eq!(
        event.identifier(),
        Some("resize"),
        "the primary identifier of the type table"
    );

    // Write-only properties are left out, as AWS does.
    let mut expected = desired_state.clone();
    expected["Code"] = json!({});
    assert_eq!(properties_of(&client, FUNCTION, "resize").await, expected);

    // An update applies its patch to the resource.
    let updated = update(
        &client,
        FUNCTION,
        "resize",
        r#"[{"op":"replace","path":"/Timeout","value":30},{"op":"add","path":"/MemorySize","value":256}]"#,
    )
    .await;
    let finished = simulate_to_the_end(&clock, &client, &updated).await;
    assert_eq!(finished.operation_status(), Some(&SdkStatus::Success));
    expected["Timeout"] = json!(30);
    expected["MemorySize"] = json!(256);
    assert_eq!(properties_of(&client, FUNCTION, "resize").await, expected);

    // A delete removes it.
    let deleted = delete(&client, FUNCTION, "resize").await;
    let finished = simulate_to_the_end(&clock, &client, &deleted).await;
    assert_eq!(finished.operation_status(), Some(&SdkStatus::Success));
    let error = client
        .get_resource()
        .type_name(FUNCTION)
        .identifier("resize")
        .send()
        .await
        .expect_err("a deleted resource");
    assert_resource_not_found(error, FUNCTION, "resize");

    // gRPC says the same: NOT_FOUND with the AWS name.
    let mut resources = app.resources().await;
    let status = resources
        .get_resource(proto::GetResourceRequest {
            account_id: ACCOUNT.into(),
            region: REGION.into(),
            type_name: FUNCTION.into(),
            identifier: "resize".into(),
            ..Default::default()
        })
        .await
        .expect_err("a deleted resource over gRPC");
    assert_error(&status, Code::NotFound, "ResourceNotFoundException");
}

async fn the_simulation_refuses_what_aws_refuses(backend: Backend) {
    let (app, clock) = TestApp::spawn_on_manual_clock(backend, simulate).await;
    let client = app.sdk(ACCOUNT, REGION).cloudcontrol();
    let created = create(&client, TYPE_NAME, r#"{"LogGroupName":"app-logs"}"#).await;
    simulate_to_the_end(&clock, &client, &created).await;

    let failures = [
        (
            create(&client, TYPE_NAME, r#"{"LogGroupName":"app-logs"}"#).await,
            SdkErrorCode::AlreadyExists,
            "Resource of type 'AWS::Logs::LogGroup' with identifier 'app-logs' already exists.",
        ),
        (
            update(
                &client,
                TYPE_NAME,
                "no-such-logs",
                r#"[{"op":"add","path":"/RetentionInDays","value":7}]"#,
            )
            .await,
            SdkErrorCode::NotFound,
            "Resource of type 'AWS::Logs::LogGroup' with identifier 'no-such-logs' was not found.",
        ),
        (
            delete(&client, TYPE_NAME, "gone-logs").await,
            SdkErrorCode::NotFound,
            "Resource of type 'AWS::Logs::LogGroup' with identifier 'gone-logs' was not found.",
        ),
    ];
    clock.advance(DELAY);
    for (token, _, _) in &failures {
        wait_for(&client, token, &[SdkStatus::InProgress]).await;
    }
    clock.advance(DELAY);
    for (token, code, message) in &failures {
        let failed = wait_for(&client, token, &[SdkStatus::Success, SdkStatus::Failed]).await;
        assert_eq!(failed.operation_status(), Some(&SdkStatus::Failed));
        assert_eq!(failed.error_code(), Some(code), "{failed:?}");
        assert_eq!(failed.status_message(), Some(*message));
    }

    // LogGroupName is create-only: a patch that touches it is NotUpdatable.
    let renamed = update(
        &client,
        TYPE_NAME,
        "app-logs",
        r#"[{"op":"replace","path":"/LogGroupName","value":"new-name"}]"#,
    )
    .await;
    let failed = simulate_to_the_end(&clock, &client, &renamed).await;
    assert_eq!(failed.error_code(), Some(&SdkErrorCode::NotUpdatable));
    assert!(
        failed
            .status_message()
            .is_some_and(|message| message.contains("LogGroupName")),
        "{failed:?}"
    );
    assert_eq!(
        properties_of(&client, TYPE_NAME, "app-logs").await,
        json!({"LogGroupName": "app-logs"}),
        "a failed update changes nothing"
    );

    // A patch that is not RFC 6902 is refused at once, naming the member.
    for invalid in [
        r#"{"op":"add","path":"/RetentionInDays","value":7}"#,
        r#"[{"op":"frobnicate","path":"/RetentionInDays"}]"#,
        r#"[{"op":"add","path":"RetentionInDays","value":7}]"#,
        r#"[{"op":"add","value":7}]"#,
        r#"[{"op":"move","path":"/A"}]"#,
    ] {
        let error = client
            .update_resource()
            .type_name(TYPE_NAME)
            .identifier("app-logs")
            .patch_document(invalid)
            .send()
            .await
            .expect_err(invalid)
            .into_service_error();
        assert_eq!(error.code(), Some("ValidationException"), "{invalid}");
        assert!(
            error
                .message()
                .is_some_and(|message| message.contains("'patchDocument'")),
            "{invalid}: {error:?}"
        );
        let mut grpc = app.resource_requests().await;
        let refused = grpc
            .create_resource_request(proto::CreateResourceRequestRequest {
                account_id: ACCOUNT.into(),
                region: REGION.into(),
                operation: proto::Operation::Update as i32,
                type_name: TYPE_NAME.into(),
                identifier: Some("app-logs".into()),
                patch_document: Some(invalid.into()),
                ..Default::default()
            })
            .await
            .expect_err(invalid);
        assert_invalid_field(&refused, "ValidationException", "patch_document");
    }
}

async fn list_resources_pages_without_duplicates_or_gaps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.sdk(ACCOUNT, REGION).cloudcontrol();
    let mut expected = Vec::new();
    for index in 0..45 {
        let identifier = format!("logs-{index:02}");
        let retention = if index % 3 == 0 { 7 } else { 30 };
        provision_log_group(&app, &client, &identifier, retention).await;
        expected.push(identifier);
    }
    // Another account's and another region's resources are not listed.
    provision_log_group_elsewhere(&app).await;

    let mut listed = Vec::new();
    let mut next_token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = client
            .list_resources()
            .type_name(TYPE_NAME)
            .max_results(10)
            .set_next_token(next_token.clone())
            .send()
            .await
            .expect("ListResources");
        assert_eq!(page.type_name(), Some(TYPE_NAME));
        pages += 1;
        for description in page.resource_descriptions() {
            let identifier = description.identifier().expect("an identifier").to_owned();
            let properties: Value =
                serde_json::from_str(description.properties().expect("properties")).unwrap();
            assert_eq!(properties["LogGroupName"], json!(identifier));
            listed.push(identifier);
        }
        match page.next_token() {
            Some(token) => next_token = Some(token.to_owned()),
            None => break,
        }
    }
    assert_eq!(listed, expected, "every resource once, by identifier");
    assert_eq!(pages, 5);

    // The SDK's paginator sees the same, 20 a page by default.
    let pages: Vec<_> = client
        .list_resources()
        .type_name(TYPE_NAME)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    let sizes: Vec<usize> = pages
        .iter()
        .map(|page| page.as_ref().expect("a page").resource_descriptions().len())
        .collect();
    assert_eq!(sizes, [20, 20, 5]);

    // ResourceModel keeps only resources whose properties contain it.
    let filtered = client
        .list_resources()
        .type_name(TYPE_NAME)
        .resource_model(r#"{"RetentionInDays":7}"#)
        .max_results(100)
        .send()
        .await
        .expect("ListResources with a ResourceModel");
    let identifiers: Vec<&str> = filtered
        .resource_descriptions()
        .iter()
        .filter_map(|description| description.identifier())
        .collect();
    let wanted: Vec<&str> = expected.iter().step_by(3).map(String::as_str).collect();
    assert_eq!(identifiers, wanted);
    assert_eq!(filtered.next_token(), None);

    // Another type has none. A cursor names an identifier only: another
    // account going on from it sees its own resources after that name.
    let none = client
        .list_resources()
        .type_name("AWS::SQS::Queue")
        .send()
        .await
        .expect("ListResources of another type");
    assert!(none.resource_descriptions().is_empty());
    let first = client
        .list_resources()
        .type_name(TYPE_NAME)
        .max_results(1)
        .send()
        .await
        .expect("a first page");
    let other = app.sdk(OTHER_ACCOUNT, REGION).cloudcontrol();
    let page = other
        .list_resources()
        .type_name(TYPE_NAME)
        .set_next_token(first.next_token().map(str::to_owned))
        .send()
        .await
        .expect("a cursor lists the caller's own resources only");
    let identifiers: Vec<&str> = page
        .resource_descriptions()
        .iter()
        .filter_map(|description| description.identifier())
        .collect();
    assert_eq!(identifiers, ["logs-elsewhere"]);

    // The same pages over gRPC.
    let mut resources = app.resources().await;
    let page = resources
        .list_resources(proto::ListResourcesRequest {
            account_id: ACCOUNT.into(),
            region: REGION.into(),
            type_name: TYPE_NAME.into(),
            max_results: Some(40),
            ..Default::default()
        })
        .await
        .expect("ListResources over gRPC")
        .into_inner();
    assert_eq!(page.resource_descriptions.len(), 40);
    let rest = resources
        .list_resources(proto::ListResourcesRequest {
            account_id: ACCOUNT.into(),
            region: REGION.into(),
            type_name: TYPE_NAME.into(),
            max_results: Some(40),
            next_token: page.next_token.clone(),
            ..Default::default()
        })
        .await
        .expect("the second page over gRPC")
        .into_inner();
    let over_grpc: Vec<String> = page
        .resource_descriptions
        .into_iter()
        .chain(rest.resource_descriptions)
        .map(|description| description.identifier)
        .collect();
    assert_eq!(over_grpc, expected);
    assert_eq!(rest.next_token, None);
    let refused = resources
        .list_resources(proto::ListResourcesRequest {
            account_id: ACCOUNT.into(),
            region: REGION.into(),
            type_name: TYPE_NAME.into(),
            max_results: Some(101),
            ..Default::default()
        })
        .await
        .expect_err("101 a page");
    assert_invalid_field(&refused, "ValidationException", "max_results");
}

/// A log group of [`OTHER_ACCOUNT`] in [`REGION`] and one of [`ACCOUNT`] in
/// us-west-2, both existing.
async fn provision_log_group_elsewhere(app: &TestApp) {
    let mut worker = app.resource_requests().await;
    for (account, region) in [(OTHER_ACCOUNT, REGION), (ACCOUNT, "us-west-2")] {
        let mut request = resource_requests::create_request(None);
        request.account_id = account.into();
        request.region = region.into();
        request.desired_state = Some(r#"{"LogGroupName":"logs-elsewhere"}"#.into());
        let token = resource_requests::create(&mut worker, request)
            .await
            .request_token;
        for status in [GrpcStatus::InProgress, GrpcStatus::Success] {
            let mut report = resource_requests::report(&token, status);
            report.account_id = account.into();
            report.region = region.into();
            report.identifier = Some("logs-elsewhere".into());
            report.resource_model = Some(r#"{"LogGroupName":"logs-elsewhere"}"#.into());
            record(&mut worker, report).await.expect("a report");
        }
    }
}

async fn one_change_per_resource_across_two_servers(backend: Backend) {
    let database = std::sync::Arc::new(TestDatabase::new(backend).await);
    let replicas = [
        TestApp::spawn_on(database.clone()).await,
        TestApp::spawn_on(database).await,
    ];
    let clients = [
        replicas[0].sdk(ACCOUNT, REGION).cloudcontrol(),
        replicas[1].sdk(ACCOUNT, REGION).cloudcontrol(),
    ];
    for round in 0..10 {
        let identifier = format!("contended-{round}");
        provision_log_group(&replicas[0], &clients[0], &identifier, 7).await;
        let patch = r#"[{"op":"replace","path":"/RetentionInDays","value":14}]"#;
        let send = |client: &CloudControl| {
            client
                .update_resource()
                .type_name(TYPE_NAME)
                .identifier(&identifier)
                .patch_document(patch)
                .send()
        };
        let (first, second) = tokio::join!(send(&clients[0]), send(&clients[1]));
        let (accepted, refused) = match (first, second) {
            (Ok(accepted), Err(refused)) | (Err(refused), Ok(accepted)) => (accepted, refused),
            (Ok(_), Ok(_)) => panic!("round {round}: both servers accepted an update"),
            (Err(first), Err(second)) => {
                panic!("round {round}: both refused: {first:?} / {second:?}")
            }
        };
        let status = refused.raw_response().map(|raw| raw.status().as_u16());
        let refused = refused.into_service_error();
        assert!(refused.is_concurrent_operation_exception(), "{refused:?}");
        assert_eq!(status, Some(400));
        assert_eq!(
            refused.message(),
            Some(
                format!(
                    "Another resource operation is currently being performed on this resource: {TYPE_NAME} with identifier {identifier}"
                )
                .as_str()
            )
        );
        // A delete waits too, on gRPC as FAILED_PRECONDITION; once the
        // update is finished the resource takes changes again.
        let mut grpc = replicas[1].resource_requests().await;
        let delete_request = proto::CreateResourceRequestRequest {
            account_id: ACCOUNT.into(),
            region: REGION.into(),
            operation: proto::Operation::Delete as i32,
            type_name: TYPE_NAME.into(),
            identifier: Some(identifier.clone()),
            ..Default::default()
        };
        let busy = grpc
            .create_resource_request(delete_request.clone())
            .await
            .expect_err("a delete while the update is unfinished");
        assert_error(
            &busy,
            Code::FailedPrecondition,
            "ConcurrentOperationException",
        );
        let update_token = token_of(accepted.progress_event().expect("a progress event"));
        succeed(
            &replicas[0],
            &update_token,
            &identifier,
            &json!({"LogGroupName": identifier, "RetentionInDays": 14}).to_string(),
        )
        .await;
        grpc.create_resource_request(delete_request)
            .await
            .expect("a delete once the update has finished");
    }
}

async fn regions_are_kept_apart(backend: Backend) {
    let database = std::sync::Arc::new(TestDatabase::new(backend).await);
    let app = TestApp::spawn_on(database.clone()).await;
    let europe = app.sdk(ACCOUNT, REGION).cloudcontrol();
    let virginia = app.sdk(ACCOUNT, "us-east-1").cloudcontrol();
    let model = r#"{"LogGroupName":"eu-logs"}"#;
    let token = create(&europe, TYPE_NAME, model).await;
    succeed(&app, &token, "eu-logs", model).await;
    assert_eq!(
        properties_of(&europe, TYPE_NAME, "eu-logs").await,
        json!({"LogGroupName": "eu-logs"})
    );

    // us-east-1 knows neither the request nor the resource.
    let error = virginia
        .get_resource()
        .type_name(TYPE_NAME)
        .identifier("eu-logs")
        .send()
        .await
        .expect_err("a resource of another region");
    assert_resource_not_found(error, TYPE_NAME, "eu-logs");
    let error = virginia
        .get_resource_request_status()
        .request_token(&token)
        .send()
        .await
        .expect_err("a request of another region")
        .into_service_error();
    assert!(error.is_request_token_not_found_exception(), "{error:?}");
    let listed = virginia
        .list_resources()
        .type_name(TYPE_NAME)
        .send()
        .await
        .expect("ListResources");
    assert!(listed.resource_descriptions().is_empty());
    let requests = virginia
        .list_resource_requests()
        .send()
        .await
        .expect("ListResourceRequests");
    assert!(requests.resource_request_status_summaries().is_empty());
    // The same identifier is free in another region.
    let other = create(&virginia, TYPE_NAME, model).await;
    assert_ne!(other, token);

    // gRPC: the region field, empty meaning --default-region.
    let get = |region: &str| proto::GetResourceRequest {
        account_id: ACCOUNT.into(),
        region: region.into(),
        type_name: TYPE_NAME.into(),
        identifier: "eu-logs".into(),
        ..Default::default()
    };
    let mut resources = app.resources().await;
    let found = resources
        .get_resource(get(REGION))
        .await
        .expect("the resource in its region")
        .into_inner();
    assert_eq!(
        found
            .resource_description
            .map(|description| description.properties),
        Some(model.to_owned())
    );
    let status = resources
        .get_resource(get(""))
        .await
        .expect_err("the default region is us-east-1");
    assert_error(&status, Code::NotFound, "ResourceNotFoundException");
    let status = resources
        .get_resource(get("Not A Region"))
        .await
        .expect_err("a malformed region");
    assert_invalid_field(&status, "ValidationException", "region");

    // A server whose default region is eu-west-1 finds it without one.
    let european = TestApp::spawn_with(
        database,
        std::sync::Arc::new(statusgate::domain::SystemClock),
        |config| {
            config.default_region = statusgate::domain::values::Region::parse(REGION).unwrap();
        },
    )
    .await;
    let mut resources = european.resources().await;
    resources
        .get_resource(get(""))
        .await
        .expect("--default-region eu-west-1");
}

async fn known_types_only_refuses_types_the_table_lacks(backend: Backend) {
    let database = std::sync::Arc::new(TestDatabase::new(backend).await);
    let open = TestApp::spawn_on(database.clone()).await;
    let strict = TestApp::spawn_with(
        database,
        std::sync::Arc::new(statusgate::domain::SystemClock),
        |config| config.known_types_only = true,
    )
    .await;
    let private = "Example::Private::Widget";
    // By default a private type is fine.
    create(
        &open.sdk(ACCOUNT, REGION).cloudcontrol(),
        private,
        r#"{"Name":"w"}"#,
    )
    .await;

    let client = strict.sdk(ACCOUNT, REGION).cloudcontrol();
    let message = format!("The type '{private}' cannot be found.");
    let error = client
        .create_resource()
        .type_name(private)
        .desired_state(r#"{"Name":"w"}"#)
        .send()
        .await
        .expect_err("an unknown type")
        .into_service_error();
    assert!(error.is_type_not_found_exception(), "{error:?}");
    assert_eq!(error.message(), Some(message.as_str()));
    let error = client
        .get_resource()
        .type_name(private)
        .identifier("w")
        .send()
        .await
        .expect_err("an unknown type")
        .into_service_error();
    assert!(error.is_type_not_found_exception(), "{error:?}");
    let error = client
        .list_resources()
        .type_name(private)
        .send()
        .await
        .expect_err("an unknown type")
        .into_service_error();
    assert!(error.is_type_not_found_exception(), "{error:?}");
    let mut resources = strict.resources().await;
    let status = resources
        .list_resources(proto::ListResourcesRequest {
            account_id: ACCOUNT.into(),
            type_name: private.into(),
            ..Default::default()
        })
        .await
        .expect_err("an unknown type over gRPC");
    assert_error(&status, Code::NotFound, "TypeNotFoundException");
    // A type of the table is served.
    create(&client, TYPE_NAME, r#"{"LogGroupName":"known"}"#).await;
}

/// The rules file of [`simulation_rules_of_every_kind`]: one rule of each
/// kind, each for its own type.
const RULES_FILE: &str = r#"{"Rules": [
  {"TypeName": "AWS::S3::Bucket", "Operation": "CREATE",
   "DesiredState": {"BucketName": "taken"},
   "Fail": {"ErrorCode": "AlreadyExists", "StatusMessage": "bucket taken exists"}},
  {"TypeName": "AWS::SQS::*", "ExtraDelay": "5s"},
  {"TypeName": "AWS::Logs::LogGroup", "Operation": "CREATE", "RetryAfter": "2s"}
]}"#;

fn event_seconds(event: &SdkProgressEvent) -> f64 {
    event.event_time().expect("an event time").as_secs_f64()
}

async fn simulation_rules_of_every_kind(backend: Backend) {
    let directory = tempfile::tempdir().unwrap();
    let rules_path = directory.path().join("rules.json");
    std::fs::write(&rules_path, RULES_FILE).unwrap();
    let (app, clock) = TestApp::spawn_on_manual_clock(backend, |config| {
        simulate(config);
        config.simulation_rules = Some(rules_path.clone());
    })
    .await;
    let client = app.sdk(ACCOUNT, REGION).cloudcontrol();

    // Fail, when the desired state matches; otherwise the bucket is made.
    let taken = create(&client, "AWS::S3::Bucket", r#"{"BucketName":"taken"}"#).await;
    let free = create(&client, "AWS::S3::Bucket", r#"{"BucketName":"free"}"#).await;
    let failed = simulate_to_the_end(&clock, &client, &taken).await;
    assert_eq!(failed.operation_status(), Some(&SdkStatus::Failed));
    assert_eq!(failed.error_code(), Some(&SdkErrorCode::AlreadyExists));
    assert_eq!(failed.status_message(), Some("bucket taken exists"));
    let made = wait_for(&client, &free, &[SdkStatus::Success, SdkStatus::Failed]).await;
    assert_eq!(made.operation_status(), Some(&SdkStatus::Success));
    // The waiter sees the failure.
    let waited = client
        .wait_until_resource_request_success()
        .request_token(&taken)
        .wait(Duration::from_secs(60))
        .await;
    assert!(
        matches!(
            waited,
            Err(aws_sdk_cloudcontrol::waiters::resource_request_success::WaitUntilResourceRequestSuccessError::FailureState(_))
        ),
        "{waited:?}"
    );

    // ExtraDelay: the queue finishes 5 s later than it would.
    let queue = create(&client, "AWS::SQS::Queue", r#"{"QueueName":"jobs"}"#).await;
    clock.advance(DELAY);
    let started = wait_for(&client, &queue, &[SdkStatus::InProgress]).await;
    clock.advance(DELAY + Duration::from_secs(5));
    let finished = wait_for(&client, &queue, &[SdkStatus::Success, SdkStatus::Failed]).await;
    assert_eq!(finished.operation_status(), Some(&SdkStatus::Success));
    let took = event_seconds(&finished) - event_seconds(&started);
    assert!((took - 5.1).abs() < 0.002, "the step took {took} s");

    // RetryAfter: reported while in progress, and nothing finishes before it.
    let logs = create(&client, TYPE_NAME, r#"{"LogGroupName":"slow-logs"}"#).await;
    clock.advance(DELAY);
    // The claim records IN_PROGRESS, the rule then an IN_PROGRESS event
    // with the RetryAfter.
    let in_progress = wait_until(WAIT_LIMIT, "an event with a RetryAfter", async || {
        let event = status(&client, &logs).await;
        match (event.operation_status(), event.retry_after()) {
            (Some(SdkStatus::InProgress), Some(_)) => Ok(event),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let retry_after = in_progress
        .retry_after()
        .expect("a RetryAfter")
        .as_secs_f64();
    assert!(
        (retry_after - event_seconds(&in_progress) - 2.0).abs() < 0.002,
        "RetryAfter {retry_after} for an event at {}",
        event_seconds(&in_progress)
    );
    clock.advance(Duration::from_secs(2));
    let finished = wait_for(&client, &logs, &[SdkStatus::Success, SdkStatus::Failed]).await;
    assert_eq!(finished.operation_status(), Some(&SdkStatus::Success));
    assert!(event_seconds(&finished) >= retry_after);

    // The rules file is what GetSimulationRules answers; SetSimulationRules
    // replaces it (an invalid document changes nothing).
    let mut simulation = app.simulation().await;
    let stored = simulation
        .get_simulation_rules(proto::GetSimulationRulesRequest {})
        .await
        .expect("GetSimulationRules")
        .into_inner();
    assert_eq!(stored.rules, RULES_FILE);
    let refused = simulation
        .set_simulation_rules(proto::SetSimulationRulesRequest {
            rules: r#"{"Rules": [{"TypeName": "AWS::S3::Bucket", "Fial": {}}]}"#.into(),
        })
        .await
        .expect_err("a misspelt member");
    assert_invalid_field(&refused, "ValidationException", "rules");
    let set = simulation
        .set_simulation_rules(proto::SetSimulationRulesRequest {
            rules: r#"{"Rules": [{"TypeName": "AWS::SQS::Queue", "Operation": "DELETE",
              "Fail": {"ErrorCode": "ResourceConflict", "StatusMessage": "queue in use"}}]}"#
                .into(),
        })
        .await
        .expect("SetSimulationRules")
        .into_inner();
    assert_eq!(set.rule_count, 1);
    let deleted = delete(&client, "AWS::SQS::Queue", "jobs").await;
    let failed = simulate_to_the_end(&clock, &client, &deleted).await;
    assert_eq!(failed.error_code(), Some(&SdkErrorCode::ResourceConflict));
    assert_eq!(failed.status_message(), Some("queue in use"));
    // The RetryAfter rule is gone with the old set.
    let quick = create(&client, TYPE_NAME, r#"{"LogGroupName":"quick-logs"}"#).await;
    clock.advance(DELAY);
    let in_progress = wait_for(&client, &quick, &[SdkStatus::InProgress]).await;
    assert_eq!(in_progress.retry_after(), None);
}

async fn hook_progress_reaches_both_transports_in_aws_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.sdk(ACCOUNT, REGION).cloudcontrol();
    let token = create(&client, TYPE_NAME, r#"{"LogGroupName":"hooked"}"#).await;
    let mut worker = app.resource_requests().await;
    let hook = |status: &str, message: Option<&str>| proto::RecordHookProgressEventRequest {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        request_token: token.clone(),
        hook_type_name: "Private::Guard::Hook".into(),
        hook_type_version_id: Some("00000002".into()),
        hook_type_arn: Some(
            "arn:aws:cloudformation:eu-west-1:123456789012:type/hook/Private-Guard-Hook".into(),
        ),
        invocation_point: "PRE_PROVISION".into(),
        hook_status: status.into(),
        hook_status_message: message.map(str::to_owned),
        failure_mode: Some("FAIL".into()),
        ..Default::default()
    };
    let recorded = worker
        .record_hook_progress_event(hook("HOOK_IN_PROGRESS", None))
        .await
        .expect("RecordHookProgressEvent")
        .into_inner();
    let hooks_request_token = recorded
        .progress_event
        .and_then(|event| event.hooks_request_token)
        .expect("a hooks request token");
    worker
        .record_hook_progress_event(hook("HOOK_COMPLETE_SUCCEEDED", Some("all rules passed")))
        .await
        .expect("RecordHookProgressEvent");

    let output = client
        .get_resource_request_status()
        .request_token(&token)
        .send()
        .await
        .expect("GetResourceRequestStatus");
    assert_eq!(
        output
            .progress_event()
            .and_then(|event| event.hooks_request_token()),
        Some(hooks_request_token.as_str())
    );
    let hooks = output.hooks_progress_event();
    assert_eq!(hooks.len(), 2);
    for (hook, (status, message)) in hooks.iter().zip([
        ("HOOK_IN_PROGRESS", None),
        ("HOOK_COMPLETE_SUCCEEDED", Some("all rules passed")),
    ]) {
        assert_eq!(hook.hook_type_name(), Some("Private::Guard::Hook"));
        assert_eq!(hook.hook_type_version_id(), Some("00000002"));
        assert_eq!(
            hook.hook_type_arn(),
            Some("arn:aws:cloudformation:eu-west-1:123456789012:type/hook/Private-Guard-Hook")
        );
        assert_eq!(hook.invocation_point(), Some("PRE_PROVISION"));
        assert_eq!(hook.hook_status(), Some(status));
        assert_eq!(hook.hook_status_message(), message);
        assert_eq!(hook.failure_mode(), Some("FAIL"));
        assert!(hook.hook_event_time().is_some());
    }

    // gRPC: the same hooks.
    let mut grpc = app.resource_requests().await;
    let over_grpc = grpc
        .get_resource_request_status(proto::GetResourceRequestStatusRequest {
            account_id: ACCOUNT.into(),
            region: REGION.into(),
            request_token: token.clone(),
        })
        .await
        .expect("GetResourceRequestStatus over gRPC")
        .into_inner();
    let statuses: Vec<&str> = over_grpc
        .hooks_progress_event
        .iter()
        .map(|hook| hook.hook_status.as_str())
        .collect();
    assert_eq!(statuses, ["HOOK_IN_PROGRESS", "HOOK_COMPLETE_SUCCEEDED"]);
    assert_eq!(
        over_grpc
            .progress_event
            .and_then(|event| event.hooks_request_token),
        Some(hooks_request_token)
    );

    // Shape and state are checked: a made-up status names the member, and
    // a finished request takes no more hooks.
    let refused = worker
        .record_hook_progress_event(hook("HOOK_DONE", None))
        .await
        .expect_err("a made-up status");
    assert_invalid_field(&refused, "ValidationException", "hook_status");
    succeed(&app, &token, "hooked", r#"{"LogGroupName":"hooked"}"#).await;
    let refused = worker
        .record_hook_progress_event(hook("HOOK_FAILED", None))
        .await
        .expect_err("a finished request");
    assert_error(&refused, Code::FailedPrecondition, "ValidationException");
}

backend_tests!(
    create_wait_get_update_and_delete_through_the_sdk,
    the_simulation_refuses_what_aws_refuses,
    list_resources_pages_without_duplicates_or_gaps,
    one_change_per_resource_across_two_servers,
    regions_are_kept_apart,
    known_types_only_refuses_types_the_table_lacks,
    simulation_rules_of_every_kind,
    hook_progress_reaches_both_transports_in_aws_shape,
);
