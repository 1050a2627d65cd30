//! Running statusgate in production: traces reach an OTLP collector and
//! continue the caller's trace, health follows the database, overload is shed,
//! shutdown drains in-flight requests, and a database outage is survived
//! without a restart.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use sqlx::Connection;
use statusgate::grpc::proto::{
    ChangeTokenScope, GetChangeTokenRequest, GetChangeTokenResponse, GetChangeTokenStatusRequest,
};
use tokio::task::JoinHandle;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::common::binary::spawn_listening;
use crate::common::change_tokens::{self, get_token, global, regional};
use crate::common::facade::{JSON_1_1, WAF, WAF_REGIONAL, authorization, aws_json};
use crate::common::grpc_errors::assert_error;
use crate::common::proxy::TcpProxy;
use crate::common::{ACCOUNT, Backend, TestApp, TestDatabase, wait_until};

/// An OTLP trace collector that keeps what it receives.
#[derive(Clone, Default)]
struct Collector {
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.received.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn string_attribute(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<String> {
    attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(
            |attribute| match attribute.value.as_ref()?.value.as_ref()? {
                Value::StringValue(value) => Some(value.clone()),
                other => Some(format!("{other:?}")),
            },
        )
}

/// `message` as a call in the W3C trace `trace_id`, from the caller's span
/// `span_id`.
fn traced<T>(message: T, trace_id: &str, span_id: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{span_id}-01").parse().unwrap(),
    );
    request
}

/// The request id a gRPC answer carries.
fn request_id_of<T>(response: &tonic::Response<T>) -> String {
    response
        .metadata()
        .get("x-amzn-requestid")
        .expect("request id")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The log line of the request with `request_id`.
fn log_line_of<'log>(logs: &'log str, request_id: &str) -> &'log str {
    logs.lines()
        .find(|line| line.contains(request_id))
        .unwrap_or_else(|| panic!("no log line with the request id in {logs}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_reach_the_collector_and_continue_the_callers_trace() {
    let collector = Collector::default();
    let collector_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_address = collector_listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(
                collector_listener,
            )),
    );

    let directory = tempfile::tempdir().unwrap();
    let mut binary = spawn_listening(
        directory.path(),
        &[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://{collector_address}"),
            ),
            ("OTEL_SERVICE_NAME", "statusgate-under-test".into()),
            // Successful calls are logged at debug (README: Configuration).
            ("RUST_LOG", "info,statusgate=debug".into()),
        ],
    );

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span_id = "00f067aa0ba902b7";
    let mut client = binary.change_tokens().await;
    let token = get_token(&mut client, global("")).await;
    let request = traced(
        GetChangeTokenStatusRequest {
            scope: global(""),
            change_token: token,
        },
        trace_id,
        caller_span_id,
    );
    let response = client.get_change_token_status(request).await.unwrap();
    let request_id = request_id_of(&response);
    drop(client);
    let facade_trace_id = "0af7651916cd43dd8448eb211c80319c";
    let facade_caller_span = "b7ad6b7169203331";
    let facade = aws_json(
        &format!("http://{}/", binary.http_address),
        &format!("{WAF}.GetChangeToken"),
    )
    .header(CONTENT_TYPE, JSON_1_1)
    .header(
        "traceparent",
        format!("00-{facade_trace_id}-{facade_caller_span}-01"),
    )
    .body("{}")
    .send()
    .await
    .unwrap();
    assert_eq!(facade.status(), 200);

    // Spans are flushed on shutdown.
    let status = binary.terminate().await;
    assert_eq!(status.code(), Some(0));

    let received = collector.received.lock().unwrap().clone();
    let resource_spans: Vec<_> = received
        .iter()
        .flat_map(|export| export.resource_spans.iter())
        .collect();
    let service_name = resource_spans
        .iter()
        .find_map(|spans| string_attribute(&spans.resource.as_ref()?.attributes, "service.name"))
        .expect("a service.name");
    assert_eq!(service_name, "statusgate-under-test");
    let spans: Vec<_> = resource_spans
        .iter()
        .flat_map(|resource| resource.scope_spans.iter())
        .flat_map(|scope| scope.spans.iter())
        .collect();
    let server_span = spans
        .iter()
        .find(|span| span.name == "GetChangeTokenStatus")
        .unwrap_or_else(|| {
            panic!(
                "no GetChangeTokenStatus span among {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        hex(&server_span.trace_id),
        trace_id,
        "the caller's trace continues"
    );
    assert_eq!(
        hex(&server_span.parent_span_id),
        caller_span_id,
        "the caller's span is the parent"
    );
    assert_eq!(
        server_span.kind,
        opentelemetry_proto::tonic::trace::v1::span::SpanKind::Server as i32
    );
    assert_eq!(
        string_attribute(&server_span.attributes, "rpc.system").as_deref(),
        Some("grpc")
    );
    assert_eq!(
        string_attribute(&server_span.attributes, "rpc.service").as_deref(),
        Some("statusgate.v1.ChangeTokenService")
    );
    assert_eq!(
        string_attribute(&server_span.attributes, "rpc.method").as_deref(),
        Some("GetChangeTokenStatus")
    );
    assert_eq!(
        string_attribute(&server_span.attributes, "aws.request_id"),
        Some(request_id.clone())
    );
    assert_eq!(
        string_attribute(&server_span.attributes, "aws.account_id").as_deref(),
        Some("000000000000")
    );

    let facade_span = spans
        .iter()
        .find(|span| span.name == "GetChangeToken" && hex(&span.trace_id) == facade_trace_id)
        .expect("a GetChangeToken span from the facade in the caller's trace");
    assert_eq!(hex(&facade_span.parent_span_id), facade_caller_span);
    assert_eq!(
        string_attribute(&facade_span.attributes, "rpc.system").as_deref(),
        Some("aws-api")
    );
    assert_eq!(
        string_attribute(&facade_span.attributes, "rpc.service").as_deref(),
        Some("waf")
    );

    let database_span = spans
        .iter()
        .find(|span| span.name == "change_token_status")
        .expect("a child span for the database call");
    assert_eq!(database_span.trace_id, server_span.trace_id);
    assert_eq!(
        database_span.parent_span_id, server_span.span_id,
        "the database call is a child of the request"
    );
    assert_eq!(
        string_attribute(&database_span.attributes, "db.system").as_deref(),
        Some("sqlite")
    );

    let logs = binary.log();
    let answered = log_line_of(&logs, &request_id);
    assert!(
        answered.contains(&format!("trace_id={trace_id}")),
        "log lines carry the trace id: {answered}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

async fn health_status(app: &TestApp) -> ServingStatus {
    let mut client = HealthClient::new(app.channel().await);
    let response = client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health check");
    response.into_inner().status()
}

async fn wait_for_health(app: &TestApp, wanted: ServingStatus) {
    wait_until(
        Duration::from_secs(15),
        &format!("health to be {wanted:?}"),
        async || match health_status(app).await {
            status if status == wanted => Ok(()),
            status => Err(format!("{status:?}")),
        },
    )
    .await;
}

/// The app on `database`, reached through a proxy the test controls.
async fn spawn_behind_proxy(database: &Arc<TestDatabase>) -> (TestApp, TcpProxy) {
    let mut url = url::Url::parse(database.url()).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let target = tokio::net::lookup_host(target)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = TcpProxy::start(target).await;
    url.set_port(Some(proxy.address().port())).unwrap();
    let proxied = url.to_string();
    let app = TestApp::spawn_with(
        database.clone(),
        Arc::new(statusgate::domain::SystemClock),
        |config| {
            config.database_url = proxied;
            config.health_interval = Duration::from_millis(200);
        },
    )
    .await;
    (app, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_database_fails_fast_and_recovers_without_restart() {
    let database = Arc::new(TestDatabase::new(Backend::Postgres).await);
    let (app, proxy) = spawn_behind_proxy(&database).await;
    let mut client = app.change_tokens().await;
    wait_for_health(&app, ServingStatus::Serving).await;
    get_token(&mut client, global("")).await;

    let http = reqwest::Client::new();
    let probe = |path: &'static str| {
        let http = http.clone();
        let url = format!("{}{path}", app.http_endpoint());
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(probe("/readyz").await, 200);

    proxy.cut();
    wait_for_health(&app, ServingStatus::NotServing).await;
    assert_eq!(
        probe("/readyz").await,
        503,
        "not ready while the database is away"
    );
    assert_eq!(probe("/healthz").await, 200, "but alive");
    let started = Instant::now();
    let failure = client
        .get_change_token(GetChangeTokenRequest { scope: global("") })
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_error(&failure, Code::Unavailable, "WAFInternalErrorException");
    assert!(
        took < Duration::from_secs(3),
        "failed in {took:?}, not a hang"
    );

    proxy.restore().await;
    wait_for_health(&app, ServingStatus::Serving).await;
    assert_eq!(probe("/readyz").await, 200);
    let recovered = client
        .get_change_token(GetChangeTokenRequest { scope: global("") })
        .await;
    assert!(
        recovered.is_ok(),
        "requests succeed again without a restart: {recovered:?}"
    );
}

/// Holds an exclusive lock on `change_tokens` until dropped or released, so
/// requests that touch it stay in flight.
async fn lock_change_tokens(database: &TestDatabase) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let connection = sqlx::PgConnection::connect(database.url()).await.unwrap();
    let mut transaction = sqlx::Transaction::begin(Box::leak(Box::new(connection)), None)
        .await
        .unwrap();
    sqlx::query("LOCK TABLE change_tokens IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *transaction)
        .await
        .unwrap();
    transaction
}

/// `count` GetChangeToken calls at once, the `n`th for `scope(n)`.
fn get_change_tokens_in_flight(
    client: &change_tokens::Client,
    count: usize,
    scope: impl Fn(usize) -> Option<ChangeTokenScope>,
) -> Vec<JoinHandle<Result<tonic::Response<GetChangeTokenResponse>, tonic::Status>>> {
    (0..count)
        .map(|call| {
            let mut client = client.clone();
            let request = GetChangeTokenRequest { scope: scope(call) };
            tokio::spawn(async move { client.get_change_token(request).await })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_every_accepted_request() {
    let database = Arc::new(TestDatabase::new(Backend::Postgres).await);
    let mut app = TestApp::spawn_on(database.clone()).await;
    let client = app.change_tokens().await;
    let lock = lock_change_tokens(&database).await;

    let in_flight = get_change_tokens_in_flight(&client, 20, |call| {
        regional(ACCOUNT, &format!("region-{call}"))
    });
    // Time for the calls to be accepted and block on the lock: nothing
    // outside the server tells how many it holds (the store coalesces them),
    // so this cannot be a wait for a condition.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let application = app.app.take().unwrap();
    let health = application.health().clone();
    let shutdown = tokio::spawn(application.shutdown());
    // A hold on purpose: shutdown must still be waiting after it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !shutdown.is_finished(),
        "shutdown waits for in-flight requests"
    );
    assert!(!health.is_ready(), "a stopping server is not ready");
    lock.rollback().await.unwrap();

    for call in in_flight {
        let answered = call.await.unwrap();
        assert!(
            answered.is_ok(),
            "an accepted request was dropped: {answered:?}"
        );
    }
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .expect("shutdown completes")
        .unwrap();
    let mut admin = sqlx::PgConnection::connect(database.url()).await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM change_tokens")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(stored, 20, "every acknowledged token was committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_shed_with_throttling() {
    let database = Arc::new(TestDatabase::new(Backend::Postgres).await);
    let app = TestApp::spawn_with(
        database.clone(),
        Arc::new(statusgate::domain::SystemClock),
        |config| {
            config.max_in_flight = 2;
        },
    )
    .await;
    let client = app.change_tokens().await;
    let lock = lock_change_tokens(&database).await;
    let held =
        get_change_tokens_in_flight(&client, 2, |call| regional("", &format!("held-{call}")));
    // Time for both calls to take the two slots; as in the shutdown test,
    // the server shows no count of the calls it holds.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    for call in 0..5 {
        let shed = client
            .clone()
            .get_change_token(GetChangeTokenRequest {
                scope: regional("", &format!("shed-{call}")),
            })
            .await
            .unwrap_err();
        assert_error(&shed, Code::ResourceExhausted, "ThrottlingException");
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shed at once, not queued"
    );

    // The facade has its own limit of 2.
    let facade_call = |region: String| {
        let request = aws_json(
            &app.http_endpoint(),
            &format!("{WAF_REGIONAL}.GetChangeToken"),
        )
        .header(
            AUTHORIZATION,
            authorization("AKIDEXAMPLE", &region, "waf-regional"),
        )
        .body("{}");
        async move { request.send().await.unwrap() }
    };
    let mut held_on_facade = Vec::new();
    for call in 0..2 {
        held_on_facade.push(tokio::spawn(facade_call(format!("held-{call}"))));
    }
    // Likewise, time for the facade calls to take its two slots.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shed = facade_call("shed".into()).await;
    assert_eq!(shed.status(), 400);
    let body: serde_json::Value = shed.json().await.unwrap();
    assert_eq!(body["__type"], "ThrottlingException", "{body}");
    lock.rollback().await.unwrap();
    for call in held_on_facade {
        assert_eq!(call.await.unwrap().status(), 200);
    }
    for call in held {
        assert!(call.await.unwrap().is_ok());
    }
    let recovered = client
        .clone()
        .get_change_token(GetChangeTokenRequest { scope: global("") })
        .await;
    assert!(
        recovered.is_ok(),
        "served again once the load is gone: {recovered:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut client = ServerReflectionClient::new(app.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_calls_on_both_transports() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut client = app.change_tokens().await;
    get_token(&mut client, global("")).await;
    let missing = client
        .get_change_token_status(GetChangeTokenStatusRequest {
            scope: global(""),
            change_token: "nope".into(),
        })
        .await;
    assert!(missing.is_err());
    let facade = aws_json(&app.http_endpoint(), &format!("{WAF}.GetChangeToken"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(facade.status(), 200);

    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", app.http_endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text().await.unwrap();
    for expected in [
        r#"statusgate_requests_total{transport="grpc",operation="GetChangeToken",outcome="ok"} 1"#,
        r#"statusgate_requests_total{transport="grpc",operation="GetChangeTokenStatus",outcome="client_error"} 1"#,
        r#"statusgate_requests_total{transport="http",operation="GetChangeToken",outcome="ok"} 1"#,
        r#"statusgate_request_duration_seconds_count{transport="grpc",operation="GetChangeToken"} 1"#,
        r#"statusgate_database_pool_connections{state="idle"}"#,
        r#"statusgate_purged_records_total{record="requests"}"#,
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_the_callers_trace_id_without_an_exporter() {
    let directory = tempfile::tempdir().unwrap();
    // Successful calls are logged at debug (README: Configuration).
    let mut binary = spawn_listening(
        directory.path(),
        &[("RUST_LOG", "info,statusgate=debug".into())],
    );
    let trace_id = "5b8efff798038103d269b633813fc60c";
    let mut client = binary.change_tokens().await;
    let request = traced(
        GetChangeTokenRequest { scope: global("") },
        trace_id,
        "eee19b7ec3c1b174",
    );
    let response = client.get_change_token(request).await.unwrap();
    let request_id = request_id_of(&response);
    drop(client);
    let status = binary.terminate().await;
    assert_eq!(status.code(), Some(0));
    let logs = binary.log();
    let answered = log_line_of(&logs, &request_id);
    assert!(
        answered.contains(&format!("trace_id={trace_id}")),
        "{answered}"
    );
    assert!(
        !logs.contains("exporting traces"),
        "no exporter without OTEL_EXPORTER_OTLP_ENDPOINT"
    );
}
