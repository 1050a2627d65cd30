//! Simulation mode: the store method propagation relies on (checked on both
//! backends; provisioning claims like any worker, see `workers` and
//! `leases_store`), and the real application simulating propagation and
//! provisioning, driven by a `ManualClock` so that "not before the delay" is
//! deterministic. Only the polling is real time: each wait is bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use statusgate::config::Config;
use statusgate::domain::change_token::{ChangeTokenScope, ChangeTokenStatus};
use statusgate::domain::values::{ChangeDescription, Region};
use statusgate::domain::{AccountId, Clock, Timestamp};
use statusgate::grpc::proto::{self, CreateResourceRequestRequest, ProgressEvent};

use crate::backend_tests;
use crate::common::change_tokens::{self, consume, get_token, global, named_token, regional};
use crate::common::clock::ManualClock;
use crate::common::resource_requests::{
    Client, cancel, create, create_request, history, status_of,
};
use crate::common::{ACCOUNT, Backend, TestApp, TestDatabase, open_test_store, wait_until};

/// The simulated delay, on the manual clock. Waits and holds ask every 10 ms
/// of real time.
const DELAY: Duration = Duration::from_millis(100);
/// How long a "nothing happens" check watches: longer than the delay, so a
/// simulation that wrongly used the wall clock would be caught.
const HOLD: Duration = Duration::from_millis(150);
/// The most any expected change may take to show up (generous: a wait ends
/// as soon as the change is seen).
const WAIT_LIMIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// The store methods, on both backends.

const EPOCH: Timestamp = Timestamp::from_micros(1_700_000_000_000_000);

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_micros(EPOCH.as_micros() + seconds * 1_000_000)
}

async fn due_change_tokens_go_in_sync_in_batches(backend: Backend) {
    let (store, _database) = open_test_store(backend).await;
    let account = AccountId::parse(ACCOUNT).unwrap();
    let description = ChangeDescription::parse("UpdateIPSet").unwrap();
    // One used token per region, used at seconds 0..5.
    let mut used = Vec::new();
    for second in 0..5 {
        let region = Region::parse(format!("region-{second}")).unwrap();
        let scope = ChangeTokenScope::regional(account.clone(), region);
        let issued = store
            .provision_change_token(&scope, &named_token(&format!("t-{second}")), at(0))
            .await
            .unwrap();
        store
            .consume_change_token(&scope, &issued, &description, at(second), at(-10))
            .await
            .unwrap();
        used.push((scope, issued));
    }
    let outstanding_scope = ChangeTokenScope::global(account.clone());
    let outstanding = store
        .provision_change_token(&outstanding_scope, &named_token("t-out"), at(0))
        .await
        .unwrap();
    let status_of = |index: usize| {
        let store = store.clone();
        let (scope, token) = used[index].clone();
        async move {
            store
                .change_token_status(&scope, &token, at(-10))
                .await
                .unwrap()
        }
    };

    // Tokens used at seconds 0..=3 are due at 3; two per batch, oldest first.
    assert_eq!(
        store
            .mark_change_tokens_in_sync_consumed_before(at(3), at(10), 2)
            .await
            .unwrap(),
        2
    );
    assert_eq!(status_of(0).await, ChangeTokenStatus::InSync);
    assert_eq!(status_of(1).await, ChangeTokenStatus::InSync);
    assert_eq!(status_of(2).await, ChangeTokenStatus::Pending);
    assert_eq!(
        store
            .mark_change_tokens_in_sync_consumed_before(at(3), at(10), 10)
            .await
            .unwrap(),
        2
    );
    assert_eq!(status_of(3).await, ChangeTokenStatus::InSync);
    assert_eq!(status_of(4).await, ChangeTokenStatus::Pending);
    assert_eq!(
        store
            .mark_change_tokens_in_sync_consumed_before(at(3), at(10), 10)
            .await
            .unwrap(),
        0,
        "nothing is marked twice"
    );
    // They went INSYNC at `now`: visible from then, purged after.
    let (scope, token) = &used[0];
    assert!(
        store
            .change_token_status(scope, token, at(10))
            .await
            .is_ok()
    );
    assert!(
        store
            .change_token_status(scope, token, at(11))
            .await
            .is_err()
    );
    assert_eq!(
        store
            .change_token_status(&outstanding_scope, &outstanding, at(-10))
            .await
            .unwrap(),
        ChangeTokenStatus::Provisioned,
        "an unused token has nothing to propagate"
    );
}

// ---------------------------------------------------------------------------
// The application simulating.

/// A server on a fresh database, simulating both, on a manual clock.
async fn simulating_app(backend: Backend) -> (TestApp, Arc<ManualClock>) {
    TestApp::spawn_on_manual_clock(backend, simulate).await
}

/// Another simulating server on `database`, on the same clock.
async fn simulating_replica(database: Arc<TestDatabase>, clock: Arc<ManualClock>) -> TestApp {
    TestApp::spawn_with(database, clock as Arc<dyn Clock>, simulate).await
}

fn simulate(config: &mut Config) {
    config.simulate_provisioning = Some(DELAY);
    config.simulate_propagation = Some(DELAY);
}

/// Polls until the request is in `expected`, for at most [`WAIT_LIMIT`].
async fn wait_for_status(
    client: &mut Client,
    request_token: &str,
    expected: proto::OperationStatus,
) -> ProgressEvent {
    wait_until(
        WAIT_LIMIT,
        &format!("request {request_token} to be {expected:?}"),
        async || {
            let event = status_of(client, ACCOUNT, request_token).await.unwrap();
            if event.operation_status() == expected {
                Ok(event)
            } else {
                Err(format!("{:?}", event.operation_status()))
            }
        },
    )
    .await
}

/// Runs `check` (which asserts) again and again for [`HOLD`] of real time:
/// the time passes on purpose, to show that nothing happens meanwhile.
async fn hold(mut check: impl AsyncFnMut()) {
    let until = Instant::now() + HOLD;
    while Instant::now() < until {
        check().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Asserts that the request stays in `expected` for [`HOLD`].
async fn assert_stays(client: &mut Client, request_token: &str, expected: proto::OperationStatus) {
    hold(async || {
        let event = status_of(client, ACCOUNT, request_token).await.unwrap();
        assert_eq!(
            event.operation_status(),
            expected,
            "request {request_token}"
        );
    })
    .await;
}

fn statuses(events: &[ProgressEvent]) -> Vec<proto::OperationStatus> {
    events.iter().map(ProgressEvent::operation_status).collect()
}

fn event_micros(event: &ProgressEvent) -> i64 {
    let time = event.event_time.expect("event time");
    time.seconds * 1_000_000 + i64::from(time.nanos) / 1_000
}

fn create_with_state(desired_state: &str) -> CreateResourceRequestRequest {
    CreateResourceRequestRequest {
        desired_state: Some(desired_state.into()),
        ..create_request(None)
    }
}

async fn create_reaches_success_with_the_desired_state(backend: Backend) {
    let (app, clock) = simulating_app(backend).await;
    let mut client = app.resource_requests().await;
    let desired_state = r#"{"LogGroupName":"app-logs","RetentionInDays":7}"#;
    let created = create(&mut client, create_with_state(desired_state)).await;
    let token = created.request_token.as_str();

    assert_stays(&mut client, token, proto::OperationStatus::Pending).await;
    clock.advance(DELAY - Duration::from_millis(1));
    assert_stays(&mut client, token, proto::OperationStatus::Pending).await;
    clock.advance(Duration::from_millis(1));
    let in_progress = wait_for_status(&mut client, token, proto::OperationStatus::InProgress).await;
    assert_eq!(in_progress.identifier, None);
    assert_eq!(in_progress.resource_model, None);

    assert_stays(&mut client, token, proto::OperationStatus::InProgress).await;
    clock.advance(DELAY);
    let success = wait_for_status(&mut client, token, proto::OperationStatus::Success).await;
    assert_eq!(success.identifier.as_deref(), Some("app-logs"));
    assert_eq!(success.resource_model.as_deref(), Some(desired_state));
    assert_eq!(success.operation(), proto::Operation::Create);
    assert_eq!(success.status_message, None);

    let events = history(&mut client, token).await;
    assert_eq!(
        statuses(&events),
        [
            proto::OperationStatus::Pending,
            proto::OperationStatus::InProgress,
            proto::OperationStatus::Success
        ]
    );
    // Each step is stamped when it became due, on the clock that drives it.
    let delay_micros = DELAY.as_micros() as i64;
    assert_eq!(
        event_micros(&events[1]) - event_micros(&events[0]),
        delay_micros
    );
    assert_eq!(
        event_micros(&events[2]) - event_micros(&events[1]),
        delay_micros
    );
    assert_eq!(events[2], success);

    // Finished means finished.
    clock.advance(DELAY * 10);
    assert_stays(&mut client, token, proto::OperationStatus::Success).await;
    assert_eq!(history(&mut client, token).await.len(), 3);
}

async fn create_without_a_key_gets_a_generated_identifier(backend: Backend) {
    let (app, clock) = simulating_app(backend).await;
    let mut client = app.resource_requests().await;
    let desired_state = r#"{"RetentionInDays":7,"Tags":[{"Key":"Name","Value":"x"}]}"#;
    let created = create(&mut client, create_with_state(desired_state)).await;
    clock.advance(DELAY);
    wait_for_status(
        &mut client,
        &created.request_token,
        proto::OperationStatus::InProgress,
    )
    .await;
    clock.advance(DELAY);
    let success = wait_for_status(
        &mut client,
        &created.request_token,
        proto::OperationStatus::Success,
    )
    .await;
    let identifier = success.identifier.expect("an identifier");
    assert!(
        regex::Regex::new("^loggroup-[0-9a-f]{8}$")
            .unwrap()
            .is_match(&identifier),
        "{identifier}"
    );
    // The generated primary identifier is part of the model, as AWS reports it.
    let expected = format!(
        r#"{{"LogGroupName":"{identifier}","RetentionInDays":7,"Tags":[{{"Key":"Name","Value":"x"}}]}}"#
    );
    assert_eq!(success.resource_model.as_deref(), Some(expected.as_str()));
}

/// Runs `requests` through both simulated steps to `SUCCESS`.
async fn simulate_to_success(
    client: &mut Client,
    clock: &ManualClock,
    requests: &[&ProgressEvent],
) -> Vec<ProgressEvent> {
    clock.advance(DELAY);
    for request in requests {
        wait_for_status(
            client,
            &request.request_token,
            proto::OperationStatus::InProgress,
        )
        .await;
    }
    clock.advance(DELAY);
    let mut finished = Vec::new();
    for request in requests {
        finished.push(
            wait_for_status(
                client,
                &request.request_token,
                proto::OperationStatus::Success,
            )
            .await,
        );
    }
    finished
}

async fn update_and_delete_act_on_the_created_resource(backend: Backend) {
    let (app, clock) = simulating_app(backend).await;
    let mut client = app.resource_requests().await;
    let created = [
        create(
            &mut client,
            create_with_state(r#"{"LogGroupName":"app-logs","RetentionInDays":7}"#),
        )
        .await,
        create(
            &mut client,
            create_with_state(r#"{"LogGroupName":"old-logs"}"#),
        )
        .await,
    ];
    simulate_to_success(&mut client, &clock, &[&created[0], &created[1]]).await;

    let update = create(
        &mut client,
        CreateResourceRequestRequest {
            operation: proto::Operation::Update as i32,
            identifier: Some("app-logs".into()),
            desired_state: None,
            patch_document: Some(
                r#"[{"op":"replace","path":"/RetentionInDays","value":14}]"#.into(),
            ),
            ..create_request(None)
        },
    )
    .await;
    let delete = create(
        &mut client,
        CreateResourceRequestRequest {
            operation: proto::Operation::Delete as i32,
            identifier: Some("old-logs".into()),
            desired_state: None,
            ..create_request(None)
        },
    )
    .await;
    let finished = simulate_to_success(&mut client, &clock, &[&update, &delete]).await;
    assert_eq!(finished[0].operation(), proto::Operation::Update);
    assert_eq!(finished[0].identifier.as_deref(), Some("app-logs"));
    assert_eq!(
        finished[0].resource_model.as_deref(),
        Some(r#"{"LogGroupName":"app-logs","RetentionInDays":14}"#),
        "the patch applied to the created model"
    );
    assert_eq!(finished[1].operation(), proto::Operation::Delete);
    assert_eq!(finished[1].identifier.as_deref(), Some("old-logs"));
    assert_eq!(finished[1].resource_model, None);
    for request in [&update, &delete] {
        assert_eq!(
            statuses(&history(&mut client, &request.request_token).await),
            [
                proto::OperationStatus::Pending,
                proto::OperationStatus::InProgress,
                proto::OperationStatus::Success
            ]
        );
    }
}

async fn cancelled_in_progress_request_ends_cancel_complete(backend: Backend) {
    let (app, clock) = simulating_app(backend).await;
    let mut client = app.resource_requests().await;
    let created = create(&mut client, create_request(None)).await;
    let token = created.request_token.as_str();
    clock.advance(DELAY);
    wait_for_status(&mut client, token, proto::OperationStatus::InProgress).await;

    let cancelling = cancel(&mut client, token).await.unwrap();
    assert_eq!(
        cancelling.operation_status(),
        proto::OperationStatus::CancelInProgress
    );
    // The delay runs from the cancellation, not from IN_PROGRESS.
    assert_stays(&mut client, token, proto::OperationStatus::CancelInProgress).await;
    clock.advance(DELAY);
    wait_for_status(&mut client, token, proto::OperationStatus::CancelComplete).await;

    clock.advance(DELAY * 10);
    assert_stays(&mut client, token, proto::OperationStatus::CancelComplete).await;
    assert_eq!(
        statuses(&history(&mut client, token).await),
        [
            proto::OperationStatus::Pending,
            proto::OperationStatus::InProgress,
            proto::OperationStatus::CancelInProgress,
            proto::OperationStatus::CancelComplete
        ]
    );
}

async fn request_cancelled_before_it_started_is_left_alone(backend: Backend) {
    let (app, clock) = simulating_app(backend).await;
    let mut client = app.resource_requests().await;
    let created = create(&mut client, create_request(None)).await;
    let token = created.request_token.as_str();
    let cancelled = cancel(&mut client, token).await.unwrap();
    assert_eq!(
        cancelled.operation_status(),
        proto::OperationStatus::CancelComplete
    );
    clock.advance(DELAY * 10);
    assert_stays(&mut client, token, proto::OperationStatus::CancelComplete).await;
    assert_eq!(
        statuses(&history(&mut client, token).await),
        [
            proto::OperationStatus::Pending,
            proto::OperationStatus::CancelComplete
        ]
    );
}

async fn token_status(
    client: &mut change_tokens::Client,
    scope: Option<proto::ChangeTokenScope>,
    change_token: &str,
) -> proto::ChangeTokenStatus {
    change_tokens::status_of(client, scope, change_token)
        .await
        .expect("GetChangeTokenStatus")
}

/// Asserts that the global token stays in `expected` for [`HOLD`].
async fn assert_token_stays(
    client: &mut change_tokens::Client,
    change_token: &str,
    expected: proto::ChangeTokenStatus,
) {
    hold(async || {
        assert_eq!(
            token_status(client, global(ACCOUNT), change_token).await,
            expected
        );
    })
    .await;
}

async fn pending_change_token_goes_in_sync_after_the_delay(backend: Backend) {
    let (app, clock) = simulating_app(backend).await;
    let mut client = app.change_tokens().await;
    let used = get_token(&mut client, global(ACCOUNT)).await;
    consume(&mut client, global(ACCOUNT), &used).await.unwrap();
    let outstanding = get_token(&mut client, regional(ACCOUNT, "eu-west-1")).await;

    assert_token_stays(&mut client, &used, proto::ChangeTokenStatus::Pending).await;
    clock.advance(DELAY - Duration::from_millis(1));
    assert_token_stays(&mut client, &used, proto::ChangeTokenStatus::Pending).await;
    clock.advance(Duration::from_millis(1));
    wait_until(
        WAIT_LIMIT,
        &format!("token {used} to be INSYNC"),
        async || match token_status(&mut client, global(ACCOUNT), &used).await {
            proto::ChangeTokenStatus::Insync => Ok(()),
            status => Err(format!("{status:?}")),
        },
    )
    .await;
    assert_eq!(
        token_status(&mut client, regional(ACCOUNT, "eu-west-1"), &outstanding).await,
        proto::ChangeTokenStatus::Provisioned,
        "a token nobody used has nothing to propagate"
    );
}

/// Two servers on one database, both simulating, racing for the same due
/// requests: each request gets exactly one event per step.
async fn two_simulating_replicas_never_duplicate_steps(backend: Backend) {
    let clock = Arc::new(ManualClock::new());
    let database = Arc::new(TestDatabase::new(backend).await);
    let replicas = [
        simulating_replica(database.clone(), clock.clone()).await,
        simulating_replica(database, clock.clone()).await,
    ];
    let mut clients = [
        replicas[0].resource_requests().await,
        replicas[1].resource_requests().await,
    ];
    let mut tokens = Vec::new();
    for index in 0..40 {
        let client = &mut clients[index % 2];
        // One resource each: a second create of one name would fail AlreadyExists.
        let desired_state = format!(r#"{{"LogGroupName":"logs-{index}"}}"#);
        tokens.push(
            create(client, create_with_state(&desired_state))
                .await
                .request_token,
        );
    }
    let client = &mut clients[0];
    clock.advance(DELAY);
    for token in &tokens {
        wait_for_status(client, token, proto::OperationStatus::InProgress).await;
    }
    clock.advance(DELAY);
    for token in &tokens {
        wait_for_status(client, token, proto::OperationStatus::Success).await;
    }
    // Give a late duplicate every chance to show up.
    clock.advance(DELAY);
    tokio::time::sleep(HOLD).await;
    for (index, token) in tokens.iter().enumerate() {
        let events = history(client, token).await;
        assert_eq!(
            statuses(&events),
            [
                proto::OperationStatus::Pending,
                proto::OperationStatus::InProgress,
                proto::OperationStatus::Success
            ],
            "request {token}"
        );
        let expected = format!("logs-{index}");
        assert_eq!(events[2].identifier.as_deref(), Some(expected.as_str()));
    }
}

backend_tests!(
    due_change_tokens_go_in_sync_in_batches,
    create_reaches_success_with_the_desired_state,
    create_without_a_key_gets_a_generated_identifier,
    update_and_delete_act_on_the_created_resource,
    cancelled_in_progress_request_ends_cancel_complete,
    request_cancelled_before_it_started_is_left_alone,
    pending_change_token_goes_in_sync_after_the_delay,
    two_simulating_replicas_never_duplicate_steps,
);
