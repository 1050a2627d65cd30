//! `ResourceRequestService` over a real gRPC socket.

use std::collections::HashSet;
use std::time::Duration;

use statusgate::grpc::proto::{
    CreateResourceRequestRequest, HandlerErrorCode, ListProgressEventsRequest,
    ListResourceRequestsRequest, Operation, OperationStatus, ProgressEvent,
    RecordProgressEventRequest, ResourceRequestStatusFilter,
};
use tokio_util::sync::CancellationToken;
use tonic::Code;

use crate::backend_tests;
use crate::common::grpc_errors::{assert_error, assert_invalid_field};
use crate::common::resource_requests::{
    Client, cancel, create, create_request, history, record, report, status_of,
};
use crate::common::{ACCOUNT, Backend, OTHER_ACCOUNT, TYPE_NAME, TestApp};

async fn list_page(
    client: &mut Client,
    max_results: Option<i32>,
    next_token: Option<String>,
    filter: Option<ResourceRequestStatusFilter>,
) -> Result<(Vec<ProgressEvent>, Option<String>), tonic::Status> {
    let response = client
        .list_resource_requests(ListResourceRequestsRequest {
            region: String::new(),
            account_id: ACCOUNT.into(),
            max_results,
            next_token,
            resource_request_status_filter: filter,
        })
        .await?
        .into_inner();
    Ok((
        response.resource_request_status_summaries,
        response.next_token,
    ))
}

/// Every request token of the account, page by page.
async fn list_all(client: &mut Client, page_size: i32) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut next_token = None;
    loop {
        let (page, next) = list_page(client, Some(page_size), next_token, None)
            .await
            .unwrap();
        assert!(page.len() <= page_size as usize);
        tokens.extend(page.into_iter().map(|event| event.request_token));
        match next {
            Some(next) => next_token = Some(next),
            None => return tokens,
        }
    }
}

async fn created_requests_start_pending(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let before = std::time::SystemTime::now();
    let event = create(&mut client, create_request(None)).await;
    assert!(uuid::Uuid::parse_str(&event.request_token).is_ok());
    assert_eq!(event.type_name, TYPE_NAME);
    assert_eq!(event.operation(), Operation::Create);
    assert_eq!(event.operation_status(), OperationStatus::Pending);
    assert_eq!(event.identifier, None);
    assert_eq!(event.error_code(), HandlerErrorCode::Unspecified);
    let event_time = event.event_time.expect("event time");
    let event_time =
        std::time::UNIX_EPOCH + Duration::new(event_time.seconds as u64, event_time.nanos as u32);
    assert!(
        event_time >= before - Duration::from_secs(1) && event_time <= std::time::SystemTime::now()
    );

    assert_eq!(
        status_of(&mut client, ACCOUNT, &event.request_token)
            .await
            .unwrap(),
        event
    );
    assert_eq!(
        history(&mut client, &event.request_token).await,
        vec![event.clone()]
    );

    let update = create(
        &mut client,
        CreateResourceRequestRequest {
            operation: Operation::Update as i32,
            identifier: Some("app-logs".into()),
            desired_state: None,
            patch_document: Some(
                r#"[{"op":"replace","path":"/RetentionInDays","value":7}]"#.into(),
            ),
            role_arn: Some("arn:aws:iam::123456789012:role/deployer".into()),
            type_version_id: Some("00000001".into()),
            ..create_request(None)
        },
    )
    .await;
    assert_eq!(update.operation(), Operation::Update);
    assert_eq!(update.identifier.as_deref(), Some("app-logs"));
    // Another resource: app-logs has an update in progress.
    let delete = create(
        &mut client,
        CreateResourceRequestRequest {
            operation: Operation::Delete as i32,
            identifier: Some("old-logs".into()),
            desired_state: None,
            ..create_request(None)
        },
    )
    .await;
    assert_eq!(delete.operation(), Operation::Delete);
}

async fn client_tokens_make_creates_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let original = create(&mut client, create_request(Some("retry-1"))).await;
    let retried = create(&mut client, create_request(Some("retry-1"))).await;
    assert_eq!(retried, original);

    let mut different = create_request(Some("retry-1"));
    different.desired_state = Some(r#"{"LogGroupName":"other"}"#.into());
    let conflict = client.create_resource_request(different).await.unwrap_err();
    assert_error(
        &conflict,
        Code::AlreadyExists,
        "ClientTokenConflictException",
    );
    assert_eq!(
        conflict.message(),
        format!(
            "ClientToken retry-1 is already associated with an existing operation with RequestToken {}",
            original.request_token
        )
    );

    let other_account = create(
        &mut client,
        CreateResourceRequestRequest {
            account_id: OTHER_ACCOUNT.into(),
            ..create_request(Some("retry-1"))
        },
    )
    .await;
    assert_ne!(
        other_account.request_token, original.request_token,
        "client tokens are per account"
    );
    let fresh = create(&mut client, create_request(None)).await;
    assert_ne!(fresh.request_token, original.request_token);
}

async fn workers_drive_requests_to_success(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;

    // An hour from now: recorded times must lie near the present.
    let retry_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3600;
    let started = record(
        &mut client,
        RecordProgressEventRequest {
            identifier: Some("app-logs".into()),
            status_message: Some("creating".into()),
            retry_after: Some(prost_types::Timestamp {
                seconds: retry_at,
                nanos: 500_000_000,
            }),
            ..report(&token, OperationStatus::InProgress)
        },
    )
    .await
    .unwrap();
    assert_eq!(started.operation_status(), OperationStatus::InProgress);
    assert_eq!(started.identifier.as_deref(), Some("app-logs"));
    assert_eq!(started.status_message.as_deref(), Some("creating"));
    assert_eq!(
        started.retry_after,
        Some(prost_types::Timestamp {
            seconds: retry_at,
            nanos: 500_000_000
        })
    );

    let done = record(
        &mut client,
        RecordProgressEventRequest {
            resource_model: Some(
                r#"{"LogGroupName":"app-logs","Arn":"arn:aws:logs:::log-group:app-logs"}"#.into(),
            ),
            ..report(&token, OperationStatus::Success)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        done.identifier.as_deref(),
        Some("app-logs"),
        "the identifier is kept"
    );
    assert_eq!(done.status_message, None, "messages belong to one event");
    assert_eq!(status_of(&mut client, ACCOUNT, &token).await.unwrap(), done);

    let events = history(&mut client, &token).await;
    let statuses: Vec<_> = events.iter().map(ProgressEvent::operation_status).collect();
    assert_eq!(
        statuses,
        [
            OperationStatus::Pending,
            OperationStatus::InProgress,
            OperationStatus::Success
        ]
    );
    assert_eq!(events[1], started);
    assert_eq!(events[2], done);

    for after_success in [
        OperationStatus::InProgress,
        OperationStatus::Failed,
        OperationStatus::Success,
    ] {
        let refused = record(&mut client, report(&token, after_success))
            .await
            .unwrap_err();
        assert_error(&refused, Code::FailedPrecondition, "ValidationException");
        assert_eq!(
            refused.message(),
            format!("Request {token} is already in status SUCCESS")
        );
    }
}

async fn workers_report_failures_with_a_handler_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;

    let mut coded_progress = report(&token, OperationStatus::InProgress);
    coded_progress.error_code = HandlerErrorCode::NotFound as i32;
    let refused = record(&mut client, coded_progress).await.unwrap_err();
    assert_error(&refused, Code::InvalidArgument, "ValidationException");

    let backwards = {
        record(&mut client, report(&token, OperationStatus::InProgress))
            .await
            .unwrap();
        record(&mut client, report(&token, OperationStatus::Pending))
            .await
            .unwrap_err()
    };
    assert_error(&backwards, Code::FailedPrecondition, "ValidationException");
    assert_eq!(
        backwards.message(),
        format!("Request {token} cannot move from IN_PROGRESS to PENDING")
    );

    let failed = record(
        &mut client,
        RecordProgressEventRequest {
            error_code: HandlerErrorCode::AlreadyExists as i32,
            status_message: Some("log group exists".into()),
            ..report(&token, OperationStatus::Failed)
        },
    )
    .await
    .unwrap();
    assert_eq!(failed.error_code(), HandlerErrorCode::AlreadyExists);
    assert_eq!(
        status_of(&mut client, ACCOUNT, &token)
            .await
            .unwrap()
            .error_code(),
        HandlerErrorCode::AlreadyExists
    );
}

async fn cancellation_follows_the_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;

    let untouched = create(&mut client, create_request(None))
        .await
        .request_token;
    let cancelled = cancel(&mut client, &untouched).await.unwrap();
    assert_eq!(
        cancelled.operation_status(),
        OperationStatus::CancelComplete
    );
    assert_eq!(
        cancel(&mut client, &untouched).await.unwrap(),
        cancelled,
        "CANCEL_COMPLETE is echoed"
    );
    assert_eq!(history(&mut client, &untouched).await.len(), 2);

    let running = create(&mut client, create_request(None))
        .await
        .request_token;
    record(&mut client, report(&running, OperationStatus::InProgress))
        .await
        .unwrap();
    let cancelling = cancel(&mut client, &running).await.unwrap();
    assert_eq!(
        cancelling.operation_status(),
        OperationStatus::CancelInProgress
    );
    assert_eq!(
        cancel(&mut client, &running).await.unwrap(),
        cancelling,
        "a second cancel changes nothing"
    );
    let refused = record(&mut client, report(&running, OperationStatus::InProgress))
        .await
        .unwrap_err();
    assert_error(&refused, Code::FailedPrecondition, "ValidationException");
    let complete = record(
        &mut client,
        report(&running, OperationStatus::CancelComplete),
    )
    .await
    .unwrap();
    assert_eq!(complete.operation_status(), OperationStatus::CancelComplete);

    let touched_pending = create(&mut client, create_request(None))
        .await
        .request_token;
    record(
        &mut client,
        report(&touched_pending, OperationStatus::Pending),
    )
    .await
    .unwrap();
    assert_eq!(
        cancel(&mut client, &touched_pending)
            .await
            .unwrap()
            .operation_status(),
        OperationStatus::CancelInProgress,
        "a worker has seen it: the worker finishes the cancellation"
    );

    for terminal in [OperationStatus::Success, OperationStatus::Failed] {
        let finished = create(&mut client, create_request(None))
            .await
            .request_token;
        record(&mut client, report(&finished, terminal))
            .await
            .unwrap();
        let refused = cancel(&mut client, &finished).await.unwrap_err();
        assert_error(&refused, Code::FailedPrecondition, "ValidationException");
        assert_eq!(
            refused.message(),
            format!(
                "Request {finished} is already in status {}",
                terminal
                    .as_str_name()
                    .trim_start_matches("OPERATION_STATUS_")
            )
        );
    }
}

async fn unknown_and_foreign_requests_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;

    let unknown = "b4a1cc5a-a2ae-4dec-9e1e-150123456789";
    let missing = status_of(&mut client, ACCOUNT, unknown).await.unwrap_err();
    assert_error(&missing, Code::NotFound, "RequestTokenNotFoundException");
    assert_eq!(
        missing.message(),
        format!("Request with token {unknown} was not found")
    );
    let foreign = status_of(&mut client, OTHER_ACCOUNT, &token)
        .await
        .unwrap_err();
    assert_error(&foreign, Code::NotFound, "RequestTokenNotFoundException");
    let default_account = status_of(&mut client, "", &token).await.unwrap_err();
    assert_error(
        &default_account,
        Code::NotFound,
        "RequestTokenNotFoundException",
    );

    assert_error(
        &cancel(&mut client, unknown).await.unwrap_err(),
        Code::NotFound,
        "RequestTokenNotFoundException",
    );
    assert_error(
        &record(&mut client, report(unknown, OperationStatus::InProgress))
            .await
            .unwrap_err(),
        Code::NotFound,
        "RequestTokenNotFoundException",
    );
    let no_history = client
        .list_progress_events(ListProgressEventsRequest {
            region: String::new(),
            account_id: ACCOUNT.into(),
            request_token: unknown.into(),
        })
        .await
        .unwrap_err();
    assert_error(&no_history, Code::NotFound, "RequestTokenNotFoundException");
}

async fn invalid_input_names_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let reason = "ValidationException";
    let cases: Vec<(CreateResourceRequestRequest, &str)> = vec![
        (
            CreateResourceRequestRequest {
                operation: 0,
                ..create_request(None)
            },
            "operation",
        ),
        (
            CreateResourceRequestRequest {
                type_name: String::new(),
                ..create_request(None)
            },
            "type_name",
        ),
        (
            CreateResourceRequestRequest {
                type_name: "AWS::Logs".into(),
                ..create_request(None)
            },
            "type_name",
        ),
        (
            CreateResourceRequestRequest {
                type_name: "AWS::Logs::Log_Group".into(),
                ..create_request(None)
            },
            "type_name",
        ),
        (
            CreateResourceRequestRequest {
                desired_state: None,
                ..create_request(None)
            },
            "desired_state",
        ),
        (
            CreateResourceRequestRequest {
                desired_state: Some("{nope".into()),
                ..create_request(None)
            },
            "desired_state",
        ),
        (
            CreateResourceRequestRequest {
                identifier: Some("x".into()),
                ..create_request(None)
            },
            "identifier",
        ),
        (
            CreateResourceRequestRequest {
                client_token: Some("has space".into()),
                ..create_request(None)
            },
            "client_token",
        ),
        (
            CreateResourceRequestRequest {
                role_arn: Some("arn:aws:iam::1:role/x-short".into()),
                ..create_request(None)
            },
            "role_arn",
        ),
        (
            CreateResourceRequestRequest {
                type_version_id: Some("v1.0".into()),
                ..create_request(None)
            },
            "type_version_id",
        ),
        (
            CreateResourceRequestRequest {
                account_id: "abc".into(),
                ..create_request(None)
            },
            "account_id",
        ),
        (
            CreateResourceRequestRequest {
                operation: Operation::Update as i32,
                desired_state: None,
                patch_document: Some("[]".into()),
                ..create_request(None)
            },
            "identifier",
        ),
        (
            CreateResourceRequestRequest {
                operation: Operation::Update as i32,
                desired_state: None,
                identifier: Some("x".into()),
                ..create_request(None)
            },
            "patch_document",
        ),
        (
            CreateResourceRequestRequest {
                operation: Operation::Delete as i32,
                identifier: Some("x".repeat(1025)),
                desired_state: None,
                ..create_request(None)
            },
            "identifier",
        ),
    ];
    for (request, field) in cases {
        let status = client.create_resource_request(request).await.unwrap_err();
        assert_invalid_field(&status, reason, field);
    }

    let bad_token = status_of(&mut client, ACCOUNT, "not a token")
        .await
        .unwrap_err();
    assert_invalid_field(&bad_token, reason, "request_token");
    assert_eq!(
        bad_token.message(),
        "1 validation error detected: Value 'not a token' at 'requestToken' failed to satisfy constraint: Member must satisfy regular expression pattern: [-A-Za-z0-9+/=]+"
    );
    assert_invalid_field(
        &status_of(&mut client, ACCOUNT, "").await.unwrap_err(),
        reason,
        "request_token",
    );
    assert_invalid_field(
        &cancel(&mut client, &"a".repeat(129)).await.unwrap_err(),
        reason,
        "request_token",
    );
    let no_status = record(&mut client, report("abc", OperationStatus::Unspecified))
        .await
        .unwrap_err();
    assert_invalid_field(&no_status, reason, "operation_status");
    let bad_model = record(
        &mut client,
        RecordProgressEventRequest {
            resource_model: Some("not json".into()),
            ..report("abc", OperationStatus::InProgress)
        },
    )
    .await
    .unwrap_err();
    assert_invalid_field(&bad_model, reason, "resource_model");

    for max_results in [0, 101, -1] {
        let status = list_page(&mut client, Some(max_results), None, None)
            .await
            .unwrap_err();
        assert_invalid_field(&status, reason, "max_results");
    }
    let forged = list_page(&mut client, None, Some("Zm9yZ2Vk".into()), None)
        .await
        .unwrap_err();
    assert_invalid_field(&forged, reason, "next_token");
    let bad_filter = list_page(
        &mut client,
        None,
        None,
        Some(ResourceRequestStatusFilter {
            operations: vec![42],
            operation_statuses: vec![],
        }),
    )
    .await
    .unwrap_err();
    assert_invalid_field(&bad_filter, reason, "operations");
}

async fn listing_pages_newest_first_and_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let mut created = Vec::new();
    for _ in 0..45 {
        created.push(
            create(&mut client, create_request(None))
                .await
                .request_token,
        );
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(list_all(&mut client, 10).await, newest_first);
    assert_eq!(list_all(&mut client, 100).await, newest_first);

    let (default_page, next) = list_page(&mut client, None, None, None).await.unwrap();
    assert_eq!(default_page.len(), 20, "MaxResults defaults to 20");
    assert!(next.is_some());

    record(
        &mut client,
        report(&created[3], OperationStatus::InProgress),
    )
    .await
    .unwrap();
    record(&mut client, report(&created[7], OperationStatus::Success))
        .await
        .unwrap();
    let in_flight = ResourceRequestStatusFilter {
        operations: vec![Operation::Create as i32],
        operation_statuses: vec![
            OperationStatus::InProgress as i32,
            OperationStatus::Success as i32,
        ],
    };
    let (filtered, next) = list_page(&mut client, Some(100), None, Some(in_flight))
        .await
        .unwrap();
    let filtered: Vec<_> = filtered
        .into_iter()
        .map(|event| event.request_token)
        .collect();
    assert_eq!(filtered, [created[7].clone(), created[3].clone()]);
    assert_eq!(next, None);
    let deletes = ResourceRequestStatusFilter {
        operations: vec![Operation::Delete as i32],
        operation_statuses: vec![],
    };
    assert!(
        list_page(&mut client, None, None, Some(deletes))
            .await
            .unwrap()
            .0
            .is_empty()
    );

    let mut other_account = client.clone();
    let foreign = other_account
        .list_resource_requests(ListResourceRequestsRequest {
            account_id: OTHER_ACCOUNT.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        foreign.resource_request_status_summaries.is_empty(),
        "lists are per account"
    );
}

async fn paging_while_requests_are_added_skips_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let mut existing = HashSet::new();
    for _ in 0..60 {
        existing.insert(
            create(&mut client, create_request(None))
                .await
                .request_token,
        );
    }
    let stop = CancellationToken::new();
    let writer = {
        let mut writer_client = client.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut added = 0;
            while !stop.is_cancelled() && added < 200 {
                create(&mut writer_client, create_request(None)).await;
                added += 1;
            }
            added
        })
    };
    let listed = list_all(&mut client, 7).await;
    stop.cancel();
    let added = writer.await.unwrap();
    let unique: HashSet<_> = listed.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "no request listed twice ({added} added meanwhile)"
    );
    assert!(
        existing.is_subset(&unique),
        "every request that existed before paging is listed"
    );
}

async fn expired_requests_vanish_and_are_purged(backend: Backend) {
    let (app, clock) = TestApp::spawn_on_manual_clock(backend, |config| {
        config.request_retention = Duration::from_secs(3600);
    })
    .await;
    let mut client = app.resource_requests().await;
    let old = create(&mut client, create_request(Some("old")))
        .await
        .request_token;
    clock.advance(Duration::from_secs(1800));
    let recent = create(&mut client, create_request(None))
        .await
        .request_token;
    clock.advance(Duration::from_secs(1801));

    let expired = status_of(&mut client, ACCOUNT, &old).await.unwrap_err();
    assert_error(&expired, Code::NotFound, "RequestTokenNotFoundException");
    assert_eq!(list_all(&mut client, 10).await, [recent.as_str()]);
    assert!(status_of(&mut client, ACCOUNT, &recent).await.is_ok());

    let purged = statusgate::jobs::purge::purge_expired(
        app.application().services(),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(purged.requests, 1);
    assert_eq!(
        statusgate::jobs::purge::purge_expired(
            app.application().services(),
            &CancellationToken::new()
        )
        .await
        .requests,
        0
    );
    // The client token went with its request.
    let reused = create(&mut client, create_request(Some("old"))).await;
    assert_ne!(reused.request_token, old);
}

async fn expired_in_sync_tokens_vanish_and_are_purged(backend: Backend) {
    use crate::common::change_tokens::{consume, get_token, global};
    use statusgate::grpc::proto::{GetChangeTokenStatusRequest, MarkChangeTokenInSyncRequest};

    let (app, clock) = TestApp::spawn_on_manual_clock(backend, |config| {
        config.request_retention = Duration::from_secs(3600);
    })
    .await;
    let mut client = app.change_tokens().await;
    let token = get_token(&mut client, global("")).await;
    consume(&mut client, global(""), &token).await.unwrap();
    client
        .mark_change_token_in_sync(MarkChangeTokenInSyncRequest {
            scope: global(""),
            change_token: token.clone(),
        })
        .await
        .unwrap();
    let pending = get_token(&mut client, global("")).await;
    consume(&mut client, global(""), &pending).await.unwrap();
    clock.advance(Duration::from_secs(3601));

    let status = |change_token: String| GetChangeTokenStatusRequest {
        scope: global(""),
        change_token,
    };
    let gone = client
        .get_change_token_status(status(token.clone()))
        .await
        .unwrap_err();
    assert_error(&gone, Code::NotFound, "WAFNonexistentItemException");
    assert!(
        client
            .get_change_token_status(status(pending))
            .await
            .is_ok(),
        "PENDING tokens do not expire"
    );
    let purged = statusgate::jobs::purge::purge_expired(
        app.application().services(),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(purged.change_tokens, 1);
}

backend_tests!(
    created_requests_start_pending,
    client_tokens_make_creates_idempotent,
    workers_drive_requests_to_success,
    workers_report_failures_with_a_handler_code,
    cancellation_follows_the_status,
    unknown_and_foreign_requests_are_not_found,
    invalid_input_names_the_field,
    listing_pages_newest_first_and_filters,
    paging_while_requests_are_added_skips_nothing,
    expired_requests_vanish_and_are_purged,
    expired_in_sync_tokens_vanish_and_are_purged,
);
