//! The HTTP listener: the AWS-compatible facade. It speaks awsJson 1.1 for WAF
//! and WAF Regional, awsJson 1.0 for Cloud Control, and the query/XML form of
//! the Cloud Control reference page, and calls the same services as gRPC:
//! wire shape -> domain values -> service -> wire shape.
//!
//! # Layout
//! Each module uses only the modules listed below it, plus `request_id`,
//! which every module may use. No file uses the `mod.rs` of its own folder:
//! a folder's `mod.rs` sits on top of its files and names what the folder
//! offers.
//!
//! ```text
//! module       entry points                             uses
//! mod.rs       router, HttpState; /metrics /healthz     routes, middleware
//!              /readyz
//! routes/      serve_root: `/` to the awsJson endpoint  handlers, log,
//!              (aws_json::handle) or the query form     render, protocol
//!              (query::handle_get, handle_form);
//!              authenticate: who calls, and may they
//!              (--auth sigv4);
//!              answer: how every route ends
//! middleware   guard_facade: observe (metrics),         log, render,
//!              receive_body (the whole body first),     protocol
//!              admit (shedding, timeout); with_layers
//!              (body limit, panic backstop, request id
//!              and Date)
//! handlers/    dispatch: a routed operation to its      render, protocol,
//!              handler; waf, cloudcontrol: one          shapes
//!              function per operation
//! log          log_outcome, log_rejection: the one      render
//!              log line of each request
//! render/      FacadeError -> awsJson error bodies and  protocol, shapes
//!              XML ErrorResponses; encode_json,
//!              json_success, xml_success; the XML writer
//! protocol/    Target (X-Amz-Target -> service,         shapes
//!              operation, dialect, span), read_body,
//!              parse_object, decode_input,
//!              QueryParameters, Caller, Rejection;
//!              sigv4, sigv4_verify: SigV4 read and
//!              checked; AuthFailure
//! shapes       the serde request and response shapes    (the domain)
//!              of the AWS models
//! fuzzing      the parsers above, from raw text to the  handlers, render,
//!              answer's status and body, for fuzz/     protocol, shapes
//!              (doc-hidden; not an API)
//! request_id   RequestId
//! ```
//!
//! An operation's path, for example `CloudApiService.CreateResource`:
//! `routes::aws_json::handle` -> `protocol::Target::from_headers` ->
//! `routes::Authenticator::caller` -> `handlers::dispatch` -> `handlers::cloudcontrol::create_resource` ->
//! `service::ResourceRequestService::create` -> the `store::Store`.
//!
//! Every response, whatever produced it, carries `x-amzn-RequestId` and
//! `Date` (set by the outermost layer), and every request is logged once in
//! a span named after its operation that carries the same request id.

#[doc(hidden)]
pub mod fuzzing;
mod handlers;
mod log;
mod middleware;
mod protocol;
mod render;
mod request_id;
mod routes;
pub mod shapes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use crate::health::Health;
use crate::metrics::Metrics;
use crate::service::Services;
use middleware::{FacadeGate, guard_facade, with_layers};

pub use protocol::MAX_BODY_BYTES;
pub use request_id::RequestId;

/// What the HTTP listener serves from.
#[derive(Clone)]
pub struct HttpState {
    pub services: Services,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    /// Longest time a facade request may take before it is answered
    /// `ServiceUnavailable`.
    pub request_timeout: Duration,
    /// Facade requests served at once; beyond it `ThrottlingException`.
    pub max_in_flight: usize,
    /// Longest time a request's body may take to arrive once its headers
    /// have; it is read before the request takes an in-flight slot.
    pub body_timeout: Duration,
    /// Whether callers must sign (`sigv4`) or are trusted (`none`).
    pub auth: crate::config::AuthMode,
    /// The clock signing times are checked against.
    pub clock: Arc<dyn crate::domain::Clock>,
}

/// Every HTTP route statusgate serves: the facade on `/`, `/metrics`,
/// `/healthz` and `/readyz` (exempt from load shedding so that an
/// overloaded server still answers its orchestrator), and `rest`, the REST
/// gateway's routes (which shed as gRPC does).
pub fn router(state: HttpState, rest: Router) -> Router {
    let gate = Arc::new(FacadeGate::new(
        state.metrics.clone(),
        state.body_timeout,
        state.max_in_flight,
        state.request_timeout,
    ));
    let facade_state = Arc::new(routes::Facade {
        services: state.services.clone(),
        authenticator: routes::Authenticator::new(
            state.auth,
            state.services.credentials.clone(),
            state.clock.clone(),
        ),
    });
    let facade = Router::new()
        .route("/", any(routes::serve_root))
        .fallback(routes::no_route)
        .with_state(facade_state)
        .layer(axum::middleware::from_fn_with_state(gate, guard_facade));
    let operations = Router::new()
        .route("/metrics", get(serve_metrics))
        .route("/healthz", get(serve_liveness))
        .route("/readyz", get(serve_readiness))
        .with_state(state);
    with_layers(operations.merge(rest).merge(facade))
}

async fn serve_metrics(State(state): State<HttpState>) -> Response {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// The process is alive and serving HTTP.
async fn serve_liveness() -> &'static str {
    "ok\n"
}

/// The database answered the last health check and we are not shutting down.
async fn serve_readiness(State(state): State<HttpState>) -> Response {
    if state.health.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Request;
    use request_id::REQUEST_ID_HEADER;
    use tower::ServiceExt;

    /// Log output captured in memory.
    #[derive(Clone, Default)]
    struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for CapturedLogs {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'writer> tracing_subscriber::fmt::MakeWriter<'writer> for CapturedLogs {
        type Writer = Self;

        fn make_writer(&'writer self) -> Self::Writer {
            self.clone()
        }
    }

    async fn services_on_sqlite(directory: &tempfile::TempDir) -> Services {
        let url = format!("sqlite://{}", directory.path().join("logs.db").display());
        let store = crate::store::SqliteStore::connect_and_migrate(&url, 1)
            .await
            .expect("an SQLite store");
        Services::new(
            std::sync::Arc::new(store),
            std::sync::Arc::new(crate::domain::SystemClock),
            crate::domain::AccountId::parse("000000000000").unwrap(),
            crate::service::CloudControlSettings::default(),
            std::time::Duration::from_secs(3600),
            None,
        )
    }

    #[tokio::test]
    async fn each_request_is_logged_in_its_operation_span_with_its_request_id() {
        let directory = tempfile::tempdir().unwrap();
        let (health, _) = Health::new();
        let app = router(
            HttpState {
                services: services_on_sqlite(&directory).await,
                metrics: Arc::new(Metrics::new(Box::new(|| (0, 0)))),
                health,
                request_timeout: Duration::from_secs(5),
                max_in_flight: 8,
                body_timeout: Duration::from_secs(5),
                auth: crate::config::AuthMode::None,
                clock: Arc::new(crate::domain::SystemClock),
            },
            Router::new(),
        );
        let logs = CapturedLogs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        // The request runs on this thread (current-thread runtime, oneshot).
        let _guard = tracing::subscriber::set_default(subscriber);
        let request = Request::post("/")
            .header("X-Amz-Target", "AWSWAF_20150824.GetChangeTokenStatus")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=123456789012/20261123/us-east-1/waf/aws4_request, Signature=0",
            )
            .body(Body::from(r#"{"ChangeToken":"secret-token-value"}"#))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let request_id = response.headers()[&REQUEST_ID_HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        let rejected = app
            .oneshot(Request::post("/").body(Body::from("{}")).unwrap())
            .await
            .unwrap();
        let rejected_id = rejected.headers()[&REQUEST_ID_HEADER]
            .to_str()
            .unwrap()
            .to_owned();

        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let line = text
            .lines()
            .find(|line| line.contains(&request_id))
            .unwrap_or_else(|| panic!("no log line with {request_id}: {text}"));
        for expected in [
            "GetChangeTokenStatus{".to_owned(),
            "rpc.service=\"waf\"".to_owned(),
            format!("aws.request_id={request_id}"),
            "aws.account_id=\"123456789012\"".to_owned(),
        ] {
            assert!(line.contains(&expected), "{expected} missing from {line}");
        }
        assert!(line.contains("request failed"), "{line}");
        assert!(
            line.contains("error_type=\"WAFNonexistentItemException\""),
            "{line}"
        );
        assert!(
            !text.contains("secret-token-value"),
            "tokens stay out of span names: {text}"
        );
        let rejected_line = text
            .lines()
            .find(|line| line.contains(&rejected_id))
            .unwrap_or_else(|| panic!("no log line with {rejected_id}: {text}"));
        assert!(
            rejected_line.contains("request rejected"),
            "{rejected_line}"
        );
        assert!(
            rejected_line.contains("error_type=\"UnknownOperationException\""),
            "{rejected_line}"
        );
    }
}
