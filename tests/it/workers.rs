//! Workers over real gRPC sockets: claims handed out once across servers,
//! leases that fence out a worker that stopped renewing, cancellation that
//! reaches the lease holder, and precise errors for bad input. Time moves on
//! a `ManualClock`, so lease expiry needs no sleeping.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use statusgate::domain::Clock;
use statusgate::grpc::proto::{
    ClaimResourceRequestsRequest, CreateResourceRequestRequest, OperationStatus, RenewLeaseRequest,
};
use tonic::Code;

use crate::backend_tests;
use crate::common::clock::ManualClock;
use crate::common::grpc_errors::{assert_error, assert_invalid_field};
use crate::common::resource_requests::{
    Client, cancel, create, create_request, history, record, report, status_of,
};
use crate::common::workers::{claim, claim_request, duration, record_leased, renew};
use crate::common::{ACCOUNT, Backend, OTHER_ACCOUNT, TestApp, TestDatabase};

/// Two servers on one Postgres database; SQLite is embedded, so one server.
async fn replicas(backend: Backend, clock: Option<Arc<ManualClock>>) -> Vec<TestApp> {
    let database = Arc::new(TestDatabase::new(backend).await);
    let spawn = |database: Arc<TestDatabase>| {
        let clock = clock.clone();
        async move {
            match clock {
                Some(clock) => TestApp::spawn_with(database, clock as Arc<dyn Clock>, |_| {}).await,
                None => TestApp::spawn_on(database).await,
            }
        }
    };
    let first = spawn(database.clone()).await;
    match backend {
        Backend::Postgres => vec![first, spawn(database).await],
        Backend::Sqlite => vec![first],
    }
}

fn statuses(events: &[statusgate::grpc::proto::ProgressEvent]) -> Vec<OperationStatus> {
    events
        .iter()
        .map(|event| event.operation_status())
        .collect()
}

async fn eight_workers_on_two_servers_claim_500_requests_once_each(backend: Backend) {
    const REQUESTS: usize = 500;
    const WORKERS: usize = 8;
    let servers = replicas(backend, None).await;
    let mut client = servers[0].resource_requests().await;
    let mut created = HashSet::new();
    for _ in 0..REQUESTS {
        created.insert(
            create(&mut client, create_request(None))
                .await
                .request_token,
        );
    }
    let claimed_by: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let workers = (0..WORKERS).map(|worker| {
        let server = &servers[worker % servers.len()];
        let claimed_by = claimed_by.clone();
        async move {
            let mut client = server.resource_requests().await;
            loop {
                let claims =
                    claim(&mut client, claim_request(&format!("worker-{worker}"), 7)).await;
                if claims.is_empty() {
                    return;
                }
                for claimed in claims {
                    let event = claimed.progress_event.expect("event");
                    assert_eq!(event.operation_status(), OperationStatus::InProgress);
                    assert!(!claimed.cancel_requested);
                    assert_eq!(claimed.account_id, ACCOUNT);
                    let input = claimed.input.expect("the request's input");
                    assert_eq!(
                        input.desired_state.as_deref(),
                        Some(r#"{"LogGroupName":"app-logs"}"#)
                    );
                    claimed_by
                        .lock()
                        .unwrap()
                        .push((event.request_token.clone(), worker));
                    let done = record_leased(
                        &mut client,
                        &event.request_token,
                        OperationStatus::Success,
                        Some(&claimed.lease_token),
                    )
                    .await
                    .expect("the lease holder records");
                    assert_eq!(done.lease_expires_at, None, "SUCCESS releases the lease");
                }
            }
        }
    });
    join_all(workers).await;
    let claimed_by = claimed_by.lock().unwrap().clone();
    let tokens: HashSet<&String> = claimed_by.iter().map(|(token, _)| token).collect();
    assert_eq!(claimed_by.len(), REQUESTS, "no request was held twice");
    assert_eq!(tokens.len(), REQUESTS);
    assert!(
        tokens.iter().all(|token| created.contains(*token)),
        "none lost, none invented"
    );
    let busy_workers: HashSet<usize> = claimed_by.iter().map(|(_, worker)| *worker).collect();
    assert!(
        busy_workers.len() > 1,
        "the work was shared: {busy_workers:?}"
    );
    for token in created.iter().take(20) {
        assert_eq!(
            statuses(&history(&mut client, token).await),
            [
                OperationStatus::Pending,
                OperationStatus::InProgress,
                OperationStatus::Success
            ]
        );
    }
}

async fn claims_come_oldest_first_and_skip_leased_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(
            create(&mut client, create_request(None))
                .await
                .request_token,
        );
    }
    let first = claim(&mut client, claim_request("a", 2)).await;
    let first: Vec<String> = first
        .into_iter()
        .map(|claimed| claimed.progress_event.unwrap().request_token)
        .collect();
    assert_eq!(first, tokens[..2]);
    let second = claim(&mut client, claim_request("b", 5)).await;
    assert_eq!(second.len(), 1);
    assert_eq!(
        second[0].progress_event.as_ref().unwrap().request_token,
        tokens[2]
    );
    assert!(claim(&mut client, claim_request("c", 5)).await.is_empty());
}

async fn a_worker_that_stops_renewing_loses_its_request(backend: Backend) {
    let clock = Arc::new(ManualClock::new());
    let servers = replicas(backend, Some(clock.clone())).await;
    let mut first_worker = servers[0].resource_requests().await;
    let mut second_worker = servers[servers.len() - 1].resource_requests().await;
    let token = create(&mut first_worker, create_request(None))
        .await
        .request_token;
    let claims = claim(
        &mut first_worker,
        ClaimResourceRequestsRequest {
            lease_duration: Some(duration(Duration::from_secs(5))),
            ..claim_request("first", 1)
        },
    )
    .await;
    let first_lease = claims[0].lease_token.clone();
    let progress = record_leased(
        &mut first_worker,
        &token,
        OperationStatus::InProgress,
        Some(&first_lease),
    )
    .await
    .unwrap();
    assert!(
        progress.lease_expires_at.is_some(),
        "an accepted event renews the lease"
    );
    assert!(
        claim(&mut second_worker, claim_request("second", 1))
            .await
            .is_empty()
    );

    // The first worker stops renewing; its lease runs out.
    clock.advance(Duration::from_secs(6));
    let taken_over = claim(&mut second_worker, claim_request("second", 1)).await;
    assert_eq!(taken_over.len(), 1);
    let second_lease = taken_over[0].lease_token.clone();
    assert_ne!(second_lease, first_lease);
    let event = taken_over[0].progress_event.as_ref().unwrap();
    assert_eq!(event.operation_status(), OperationStatus::InProgress);
    let before = history(&mut first_worker, &token).await;
    assert_eq!(
        before.len(),
        3,
        "taking an IN_PROGRESS request over records no event"
    );

    let late = record_leased(
        &mut first_worker,
        &token,
        OperationStatus::Success,
        Some(&first_lease),
    )
    .await
    .unwrap_err();
    assert_error(&late, Code::FailedPrecondition, "LeaseLostException");
    let late_renewal = renew(&mut first_worker, &token, &first_lease)
        .await
        .unwrap_err();
    assert_error(
        &late_renewal,
        Code::FailedPrecondition,
        "LeaseLostException",
    );
    let without_token = record(&mut first_worker, report(&token, OperationStatus::Failed))
        .await
        .unwrap_err();
    assert_error(
        &without_token,
        Code::FailedPrecondition,
        "LeaseLostException",
    );
    assert_eq!(
        history(&mut first_worker, &token).await,
        before,
        "nothing was written"
    );

    let finished = record_leased(
        &mut second_worker,
        &token,
        OperationStatus::Success,
        Some(&second_lease),
    )
    .await
    .unwrap();
    assert_eq!(
        finished.progress_event.unwrap().operation_status(),
        OperationStatus::Success
    );
    let released = renew(&mut second_worker, &token, &second_lease)
        .await
        .unwrap_err();
    assert_error(&released, Code::FailedPrecondition, "LeaseLostException");
}

async fn an_expired_lease_nobody_took_still_belongs_to_its_worker(backend: Backend) {
    let clock = Arc::new(ManualClock::new());
    let database = Arc::new(TestDatabase::new(backend).await);
    let app = TestApp::spawn_with(database, clock.clone() as Arc<dyn Clock>, |_| {}).await;
    let mut client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;
    let claims = claim(&mut client, claim_request("slow", 1)).await;
    let lease = claims[0].lease_token.clone();
    clock.advance(Duration::from_secs(31));
    let renewed = renew(&mut client, &token, &lease).await.unwrap();
    let expires = renewed.lease_expires_at.unwrap();
    let expected = clock.now().as_micros() / 1_000_000 + 30;
    assert!(
        (expires.seconds - expected).abs() <= 1,
        "renewed by the claimed 30 s"
    );
    assert!(
        claim(&mut client, claim_request("other", 1))
            .await
            .is_empty()
    );
}

async fn cancelling_a_leased_request_reaches_its_worker(backend: Backend) {
    let servers = replicas(backend, None).await;
    let mut caller = servers[0].resource_requests().await;
    let mut worker = servers[servers.len() - 1].resource_requests().await;
    let token = create(&mut caller, create_request(None))
        .await
        .request_token;
    let claims = claim(&mut worker, claim_request("w", 1)).await;
    let lease = claims[0].lease_token.clone();
    let renewed = renew(&mut worker, &token, &lease).await.unwrap();
    assert!(!renewed.cancel_requested);

    let cancelling = cancel(&mut caller, &token).await.unwrap();
    assert_eq!(
        cancelling.operation_status(),
        OperationStatus::CancelInProgress
    );
    let renewed = renew(&mut worker, &token, &lease).await.unwrap();
    assert!(renewed.cancel_requested, "the next renewal says so");
    assert_eq!(
        renewed.progress_event.unwrap().operation_status(),
        OperationStatus::CancelInProgress
    );
    let still = record_leased(
        &mut worker,
        &token,
        OperationStatus::CancelInProgress,
        Some(&lease),
    )
    .await
    .unwrap();
    assert!(still.cancel_requested, "and so does the next record");
    let done = record_leased(
        &mut worker,
        &token,
        OperationStatus::CancelComplete,
        Some(&lease),
    )
    .await
    .unwrap();
    assert!(!done.cancel_requested);
    assert_eq!(done.lease_expires_at, None);
    assert_eq!(
        status_of(&mut caller, ACCOUNT, &token)
            .await
            .unwrap()
            .operation_status(),
        OperationStatus::CancelComplete
    );
}

async fn cancellations_without_a_worker_are_claimed_to_be_finished(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;
    // A worker without a lease started it, then a caller cancelled.
    record(&mut client, report(&token, OperationStatus::InProgress))
        .await
        .unwrap();
    assert!(
        claim(&mut client, claim_request("w", 1)).await.is_empty(),
        "an IN_PROGRESS request driven without a lease is not claimable"
    );
    cancel(&mut client, &token).await.unwrap();
    let claims = claim(&mut client, claim_request("w", 1)).await;
    assert_eq!(claims.len(), 1);
    assert!(claims[0].cancel_requested);
    assert_eq!(
        history(&mut client, &token).await.len(),
        3,
        "no event for the claim"
    );
}

async fn writes_without_a_lease_behave_as_before(backend: Backend) {
    let clock = Arc::new(ManualClock::new());
    let database = Arc::new(TestDatabase::new(backend).await);
    let app = TestApp::spawn_with(database, clock.clone() as Arc<dyn Clock>, |_| {}).await;
    let mut client = app.resource_requests().await;
    let unleased = create(&mut client, create_request(None))
        .await
        .request_token;
    let leased = create(&mut client, create_request(None))
        .await
        .request_token;
    // Claim the second only (the first is driven without a lease).
    record(&mut client, report(&unleased, OperationStatus::InProgress))
        .await
        .unwrap();
    let claims = claim(&mut client, claim_request("w", 5)).await;
    assert_eq!(claims.len(), 1);
    let answer = record_leased(&mut client, &unleased, OperationStatus::Success, None)
        .await
        .unwrap();
    assert_eq!(answer.lease_expires_at, None);
    let with_token = record_leased(
        &mut client,
        &unleased,
        OperationStatus::Success,
        Some(&claims[0].lease_token),
    )
    .await
    .unwrap_err();
    assert_error(&with_token, Code::FailedPrecondition, "LeaseLostException");

    // Once the lease has expired, a write without a token goes through again.
    clock.advance(Duration::from_secs(31));
    record(&mut client, report(&leased, OperationStatus::Success))
        .await
        .unwrap();
}

async fn claims_filter_by_account_type_and_age(backend: Backend) {
    let clock = Arc::new(ManualClock::new());
    let database = Arc::new(TestDatabase::new(backend).await);
    let app = TestApp::spawn_with(database, clock.clone() as Arc<dyn Clock>, |_| {}).await;
    let mut client = app.resource_requests().await;
    let bucket = create(
        &mut client,
        CreateResourceRequestRequest {
            type_name: "AWS::S3::Bucket".into(),
            desired_state: Some(r#"{"BucketName":"b"}"#.into()),
            ..create_request(None)
        },
    )
    .await
    .request_token;
    let other_account = create(
        &mut client,
        CreateResourceRequestRequest {
            account_id: OTHER_ACCOUNT.into(),
            ..create_request(None)
        },
    )
    .await
    .request_token;
    clock.advance(Duration::from_secs(10));
    let fresh = create(&mut client, create_request(None))
        .await
        .request_token;

    let claimed = |claims: Vec<statusgate::grpc::proto::ResourceRequestClaim>| -> Vec<String> {
        claims
            .into_iter()
            .map(|claimed| claimed.progress_event.unwrap().request_token)
            .collect()
    };
    let too_young = claim(
        &mut client,
        ClaimResourceRequestsRequest {
            min_event_age: Some(duration(Duration::from_secs(5))),
            account_id: Some(ACCOUNT.into()),
            type_name_prefix: Some("AWS::Logs::".into()),
            ..claim_request("w", 10)
        },
    )
    .await;
    assert!(too_young.is_empty(), "{:?}", claimed(too_young));
    let logs_of_account = claim(
        &mut client,
        ClaimResourceRequestsRequest {
            account_id: Some(ACCOUNT.into()),
            type_name_prefix: Some("AWS::Logs::".into()),
            ..claim_request("w", 10)
        },
    )
    .await;
    assert_eq!(claimed(logs_of_account), [fresh]);
    let s3 = claim(
        &mut client,
        ClaimResourceRequestsRequest {
            type_name_prefix: Some("AWS::S3::".into()),
            ..claim_request("w", 10)
        },
    )
    .await;
    assert_eq!(claimed(s3), [bucket]);
    let everything_left = claim(&mut client, claim_request("w", 10)).await;
    assert_eq!(claimed(everything_left), [other_account]);
}

async fn bad_worker_input_names_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client: Client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;
    let claims = [
        (ClaimResourceRequestsRequest::default(), "worker_id"),
        (claim_request("a b", 1), "worker_id"),
        (claim_request("w", 0), "max_requests"),
        (claim_request("w", 101), "max_requests"),
        (
            ClaimResourceRequestsRequest {
                lease_duration: Some(duration(Duration::from_millis(500))),
                ..claim_request("w", 1)
            },
            "lease_duration",
        ),
        (
            ClaimResourceRequestsRequest {
                lease_duration: Some(duration(Duration::from_secs(16 * 60))),
                ..claim_request("w", 1)
            },
            "lease_duration",
        ),
        (
            ClaimResourceRequestsRequest {
                lease_duration: Some(prost_types::Duration {
                    seconds: -1,
                    nanos: 0,
                }),
                ..claim_request("w", 1)
            },
            "lease_duration",
        ),
        (
            ClaimResourceRequestsRequest {
                type_name_prefix: Some("AWS::%".into()),
                ..claim_request("w", 1)
            },
            "type_name_prefix",
        ),
        (
            ClaimResourceRequestsRequest {
                account_id: Some("12".into()),
                ..claim_request("w", 1)
            },
            "account_id",
        ),
        (
            ClaimResourceRequestsRequest {
                min_event_age: Some(duration(Duration::from_secs(2 * 86_400))),
                ..claim_request("w", 1)
            },
            "min_event_age",
        ),
    ];
    for (request, field) in claims {
        let status = client.claim_resource_requests(request).await.unwrap_err();
        assert_invalid_field(&status, "ValidationException", field);
    }
    let renewals = [
        (
            RenewLeaseRequest {
                account_id: ACCOUNT.into(),
                request_token: token.clone(),
                ..RenewLeaseRequest::default()
            },
            "lease_token",
        ),
        (
            RenewLeaseRequest {
                region: String::new(),
                account_id: ACCOUNT.into(),
                request_token: token.clone(),
                lease_token: "not a token".into(),
                lease_duration: None,
            },
            "lease_token",
        ),
        (
            RenewLeaseRequest {
                region: String::new(),
                account_id: ACCOUNT.into(),
                request_token: String::new(),
                lease_token: "abc".into(),
                lease_duration: None,
            },
            "request_token",
        ),
        (
            RenewLeaseRequest {
                region: String::new(),
                account_id: ACCOUNT.into(),
                request_token: token.clone(),
                lease_token: "abc".into(),
                lease_duration: Some(duration(Duration::ZERO)),
            },
            "lease_duration",
        ),
    ];
    for (request, field) in renewals {
        let status = client.renew_lease(request).await.unwrap_err();
        assert_invalid_field(&status, "ValidationException", field);
    }
    let bad_lease = record_leased(
        &mut client,
        &token,
        OperationStatus::InProgress,
        Some("a b"),
    )
    .await
    .unwrap_err();
    assert_invalid_field(&bad_lease, "ValidationException", "lease_token");
    let unknown = renew(&mut client, "no-such-request", "abc")
        .await
        .unwrap_err();
    assert_error(&unknown, Code::NotFound, "RequestTokenNotFoundException");
    let never_claimed = renew(&mut client, &token, "abc").await.unwrap_err();
    assert_error(
        &never_claimed,
        Code::FailedPrecondition,
        "LeaseLostException",
    );
}

backend_tests!(
    eight_workers_on_two_servers_claim_500_requests_once_each,
    claims_come_oldest_first_and_skip_leased_requests,
    a_worker_that_stops_renewing_loses_its_request,
    an_expired_lease_nobody_took_still_belongs_to_its_worker,
    cancelling_a_leased_request_reaches_its_worker,
    cancellations_without_a_worker_are_claimed_to_be_finished,
    writes_without_a_lease_behave_as_before,
    claims_filter_by_account_type_and_age,
    bad_worker_input_names_the_field,
);
