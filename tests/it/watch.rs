//! Waiting and watching over real gRPC sockets: watchers on one server see
//! every event recorded through another (on Postgres; one server on SQLite)
//! in order and within the latency bound, waits answer as soon as a
//! request is terminal, change tokens stream to INSYNC, and thousands of
//! watchers cost one listener connection per server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use statusgate::grpc::proto::{
    ChangeTokenStatus, OperationStatus, WaitResourceRequestRequest, WatchChangeTokenRequest,
};
use tonic::Code;

use crate::backend_tests;
use crate::common::change_tokens::{consume, get_token, global, mark_in_sync};
use crate::common::grpc_errors::{assert_error, assert_invalid_field};
use crate::common::resource_requests::{
    create, create_request, record, report, report_with_message,
};
use crate::common::workers::{duration, next_watched, wait, watch};
use crate::common::{ACCOUNT, Backend, TestApp, TestDatabase, administer, wait_until};

/// Two servers on one Postgres database; SQLite is embedded, so one server
/// (watchers in another process on the same file are not supported).
async fn replicas(backend: Backend) -> Vec<TestApp> {
    let database = Arc::new(TestDatabase::new(backend).await);
    let first = TestApp::spawn_on(database.clone()).await;
    match backend {
        Backend::Postgres => vec![first, TestApp::spawn_on(database).await],
        Backend::Sqlite => vec![first],
    }
}

async fn watchers_on_another_server_see_every_event_in_order(backend: Backend) {
    const EVENTS: usize = 120;
    let servers = replicas(backend).await;
    let mut writer = servers[0].resource_requests().await;
    let mut watcher = servers[servers.len() - 1].resource_requests().await;
    let token = create(&mut writer, create_request(None))
        .await
        .request_token;
    let mut stream = watch(&mut watcher, &token, None).await.unwrap();
    assert_eq!(
        next_watched(&mut stream).await,
        Some((1, OperationStatus::Pending)),
        "the current event first"
    );
    for number in 0..EVENTS {
        record(
            &mut writer,
            report_with_message(
                &token,
                OperationStatus::InProgress,
                &format!("step {number}"),
            ),
        )
        .await
        .unwrap();
        let seen = next_watched(&mut stream).await;
        assert_eq!(seen, Some((number as i64 + 2, OperationStatus::InProgress)));
    }
    record(&mut writer, report(&token, OperationStatus::Success))
        .await
        .unwrap();
    assert_eq!(
        next_watched(&mut stream).await,
        Some((EVENTS as i64 + 2, OperationStatus::Success))
    );
    assert_eq!(
        next_watched(&mut stream).await,
        None,
        "the stream ends after the terminal event"
    );
    // How soon each event arrives is a figure of the benchmark (its
    // workers phase), not of a test.
}

async fn a_watcher_that_resumes_misses_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;
    for _ in 0..3 {
        record(&mut client, report(&token, OperationStatus::InProgress))
            .await
            .unwrap();
    }
    // It saw event 2, then went away; events 3 and 4 were recorded meanwhile.
    let mut resumed = watch(&mut client, &token, Some(2)).await.unwrap();
    assert_eq!(
        next_watched(&mut resumed).await,
        Some((3, OperationStatus::InProgress))
    );
    assert_eq!(
        next_watched(&mut resumed).await,
        Some((4, OperationStatus::InProgress))
    );
    record(&mut client, report(&token, OperationStatus::Failed))
        .await
        .unwrap();
    assert_eq!(
        next_watched(&mut resumed).await,
        Some((5, OperationStatus::Failed))
    );
    assert_eq!(next_watched(&mut resumed).await, None);

    // A finished request: its current event, then the end.
    let mut late = watch(&mut client, &token, None).await.unwrap();
    assert_eq!(
        next_watched(&mut late).await,
        Some((5, OperationStatus::Failed))
    );
    assert_eq!(next_watched(&mut late).await, None);

    let beyond = watch(&mut client, &token, Some(6)).await.unwrap_err();
    assert_invalid_field(&beyond, "ValidationException", "start_after_event_number");
    let unknown = watch(&mut client, "no-such-request", None)
        .await
        .unwrap_err();
    assert_error(&unknown, Code::NotFound, "RequestTokenNotFoundException");
}

async fn a_slow_watcher_still_gets_every_event_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;
    let mut stream = watch(&mut client, &token, None).await.unwrap();
    // Nothing is read from the stream while 30 events are recorded.
    for _ in 0..30 {
        record(&mut client, report(&token, OperationStatus::InProgress))
            .await
            .unwrap();
    }
    record(&mut client, report(&token, OperationStatus::Success))
        .await
        .unwrap();
    let mut numbers = Vec::new();
    while let Some((number, _)) = next_watched(&mut stream).await {
        numbers.push(number);
    }
    assert_eq!(numbers, (1..=32).collect::<Vec<i64>>());
}

async fn wait_answers_on_the_terminal_event_not_at_its_timeout(backend: Backend) {
    const WAITS: usize = 30;
    let servers = replicas(backend).await;
    let mut writer = servers[0].resource_requests().await;
    let mut latencies = Vec::with_capacity(WAITS);
    for _ in 0..WAITS {
        let token = create(&mut writer, create_request(None))
            .await
            .request_token;
        let mut waiter = servers[servers.len() - 1].resource_requests().await;
        let waiting_token = token.clone();
        let waiting = tokio::spawn(async move {
            let status = wait(&mut waiter, &waiting_token, Some(Duration::from_secs(20))).await;
            (status, Instant::now())
        });
        // The wait is under way (it first answers PENDING requests with
        // nothing until they finish); give it a moment to subscribe.
        record(&mut writer, report(&token, OperationStatus::InProgress))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await; // let the wait start on purpose
        let sent = Instant::now();
        record(&mut writer, report(&token, OperationStatus::Success))
            .await
            .unwrap();
        let (status, answered) = waiting.await.unwrap();
        assert_eq!(status.unwrap(), OperationStatus::Success);
        latencies.push(answered.saturating_duration_since(sent));
    }
    // Woken by the event on another replica, not by the 20 s timeout. How
    // soon is a figure of the benchmark (its workers phase), not of a test.
    let slowest = latencies.iter().max().copied().unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(10),
        "every wait answers on the terminal event, long before its 20 s timeout: slowest {slowest:?} over {WAITS} waits"
    );
}

async fn wait_times_out_with_the_current_state(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;
    let started = Instant::now();
    let status = wait(&mut client, &token, Some(Duration::from_millis(200)))
        .await
        .unwrap();
    assert_eq!(status, OperationStatus::Pending);
    assert!(started.elapsed() >= Duration::from_millis(200));
    // A terminal request answers at once.
    record(&mut client, report(&token, OperationStatus::Failed))
        .await
        .unwrap();
    assert_eq!(
        wait(&mut client, &token, None).await.unwrap(),
        OperationStatus::Failed
    );
    let too_long = wait(&mut client, &token, Some(Duration::from_secs(301)))
        .await
        .unwrap_err();
    assert_invalid_field(&too_long, "ValidationException", "timeout");
    let negative = client
        .wait_resource_request(WaitResourceRequestRequest {
            region: String::new(),
            account_id: ACCOUNT.into(),
            request_token: token.clone(),
            timeout: Some(prost_types::Duration {
                seconds: -1,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_invalid_field(&negative, "ValidationException", "timeout");
    let unknown = wait(&mut client, "no-such-request", None)
        .await
        .unwrap_err();
    assert_error(&unknown, Code::NotFound, "RequestTokenNotFoundException");
}

async fn a_wait_answers_before_the_callers_deadline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;
    let mut request = tonic::Request::new(WaitResourceRequestRequest {
        region: String::new(),
        account_id: ACCOUNT.into(),
        request_token: token,
        timeout: Some(duration(Duration::from_secs(60))),
    });
    request.set_timeout(Duration::from_millis(500));
    let answered = client
        .wait_resource_request(request)
        .await
        .expect("answered before the deadline instead of DEADLINE_EXCEEDED");
    assert_eq!(
        answered
            .into_inner()
            .progress_event
            .unwrap()
            .operation_status(),
        OperationStatus::Pending
    );
}

async fn change_tokens_stream_until_insync(backend: Backend) {
    let servers = replicas(backend).await;
    let mut writer = servers[0].change_tokens().await;
    let mut watcher = servers[servers.len() - 1].change_tokens().await;
    let token = get_token(&mut writer, global(ACCOUNT)).await;
    let mut stream = watcher
        .watch_change_token(WatchChangeTokenRequest {
            scope: global(ACCOUNT),
            change_token: token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("a status within 10 s")
            .unwrap()
            .map(|response| response.change_token_status())
    };
    assert_eq!(next().await, Some(ChangeTokenStatus::Provisioned));
    consume(&mut writer, global(ACCOUNT), &token).await.unwrap();
    assert_eq!(next().await, Some(ChangeTokenStatus::Pending));
    mark_in_sync(&mut writer, global(ACCOUNT), &token)
        .await
        .unwrap();
    assert_eq!(next().await, Some(ChangeTokenStatus::Insync));
    assert_eq!(next().await, None);

    let other_scope = watcher
        .watch_change_token(WatchChangeTokenRequest {
            scope: global("210987654321"),
            change_token: token,
        })
        .await
        .unwrap_err();
    assert_error(&other_scope, Code::NotFound, "WAFNonexistentItemException");
    let missing = watcher
        .watch_change_token(WatchChangeTokenRequest {
            scope: global(ACCOUNT),
            change_token: String::new(),
        })
        .await
        .unwrap_err();
    assert_invalid_field(&missing, "WAFInvalidParameterException", "change_token");
}

backend_tests!(
    watchers_on_another_server_see_every_event_in_order,
    a_watcher_that_resumes_misses_nothing,
    a_slow_watcher_still_gets_every_event_once,
    wait_answers_on_the_terminal_event_not_at_its_timeout,
    wait_times_out_with_the_current_state,
    a_wait_answers_before_the_callers_deadline,
    change_tokens_stream_until_insync,
);

/// The backends of this database's `LISTEN` connections.
async fn listener_pids(database: &TestDatabase) -> Vec<i32> {
    let url = database.url().to_owned();
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_watchers_share_one_listener_connection() {
    const WATCHERS: usize = 2_000;
    let servers = replicas(Backend::Postgres).await;
    let mut writer = servers[0].resource_requests().await;
    let tokens: Vec<String> = join_all((0..20).map(|_| {
        let server = &servers[0];
        async move {
            let mut client = server.resource_requests().await;
            create(&mut client, create_request(None))
                .await
                .request_token
        }
    }))
    .await;
    // 2,000 streams over 20 connections to the second server.
    let mut channels = Vec::new();
    for _ in 0..20 {
        channels.push(servers[1].resource_requests().await);
    }
    let mut streams = Vec::with_capacity(WATCHERS);
    for index in 0..WATCHERS {
        let connections = channels.len();
        let client = &mut channels[index % connections];
        let mut stream = watch(client, &tokens[index % tokens.len()], None)
            .await
            .unwrap();
        assert_eq!(
            next_watched(&mut stream).await.unwrap().1,
            OperationStatus::Pending
        );
        streams.push(stream);
    }
    let database = servers[0].database.clone();
    let listeners = listener_pids(&database).await;
    assert_eq!(
        listeners.len(),
        1,
        "one LISTEN connection for the watching server: {listeners:?}"
    );
    for token in &tokens {
        record(&mut writer, report(token, OperationStatus::Success))
            .await
            .unwrap();
    }
    for stream in &mut streams {
        assert_eq!(
            next_watched(stream).await.unwrap().1,
            OperationStatus::Success
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_catch_up_after_the_listener_reconnects() {
    let servers = replicas(Backend::Postgres).await;
    let mut writer = servers[0].resource_requests().await;
    let mut watcher = servers[1].resource_requests().await;
    let token = create(&mut writer, create_request(None))
        .await
        .request_token;
    let mut stream = watch(&mut watcher, &token, None).await.unwrap();
    assert_eq!(
        next_watched(&mut stream).await,
        Some((1, OperationStatus::Pending))
    );
    let database = servers[0].database.clone();
    let listeners = wait_until(
        Duration::from_secs(10),
        "a listener",
        async || match listener_pids(&database).await.as_slice() {
            [pid] => Ok(*pid),
            other => Err(format!("{other:?}")),
        },
    )
    .await;
    administer(&format!("SELECT pg_terminate_backend({listeners})")).await;
    // Recorded while the watching server is (probably) not listening.
    record(&mut writer, report(&token, OperationStatus::InProgress))
        .await
        .unwrap();
    assert_eq!(
        next_watched(&mut stream).await,
        Some((2, OperationStatus::InProgress)),
        "the catch-up read after reconnecting found it"
    );
    wait_until(
        Duration::from_secs(10),
        "a new listener",
        async || match listener_pids(&database).await.as_slice() {
            [pid] if *pid != listeners => Ok(()),
            other => Err(format!("{other:?}")),
        },
    )
    .await;
    record(&mut writer, report(&token, OperationStatus::Success))
        .await
        .unwrap();
    assert_eq!(
        next_watched(&mut stream).await,
        Some((3, OperationStatus::Success))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_when_its_server_shuts_down() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let mut client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;
    let mut stream = watch(&mut client, &token, None).await.unwrap();
    assert_eq!(
        next_watched(&mut stream).await,
        Some((1, OperationStatus::Pending))
    );
    let shutdown = tokio::spawn(app.app.take().expect("running").shutdown());
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("the stream ends well within the shutdown grace")
        .unwrap_err();
    assert_error(&ended, Code::Unavailable, "ServiceUnavailable");
    shutdown.await.unwrap();
}
