//! The HTTP listener: the AWS-compatible facade. It speaks awsJson 1.1 for WAF
//! and WAF Regional, awsJson 1.0 for Cloud Control, and the query/XML form of
//! the Cloud Control reference page, and calls the same services as gRPC:
//! wire shape -> domain values -> service -> wire shape.
//!
//! # Layout
//! - `operation`: which `X-Amz-Target` names which operation, per service.
//! - `credentials`: the caller's account and region, from the SigV4 scope.
//! - `aws_json`: routing on the target, body parsing, protocol rejections.
//! - `query`: the query-string / form request and its XML answer.
//! - `waf`, `cloudcontrol`: the handlers, one function per operation.
//! - `shapes`: the serde request and response shapes of the AWS models.
//! - `error`: domain errors and rejections -> AWS JSON and XML errors.
//! - `xml`: the few lines of XML writing the query form needs.
//!
//! Every response, whatever produced it, carries `x-amzn-RequestId` and
//! `Date` (set by the outermost layer), and every request is logged once in
//! a span named after its operation that carries the same request id.

mod aws_json;
mod cloudcontrol;
mod credentials;
mod error;
mod operation;
mod query;
pub mod shapes;
mod waf;
mod xml;

use std::any::Any;
use std::fmt;
use std::time::SystemTime;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::DATE;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::any;
use tower_http::catch_panic::CatchPanicLayer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::Semaphore;

use crate::domain::{Error, ErrorCode, ErrorKind};
use crate::health::Health;
use crate::metrics::{Metrics, Outcome};
use crate::service::Services;
use crate::telemetry::Transport;
use error::{ERROR_TYPE_HEADER, FacadeError, MAX_BODY_BYTES, Rejection};
use operation::Operation;

static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// The id of one request: a fresh UUID, sent back as `x-amzn-RequestId` and
/// logged with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh id; not `Default`, since a default value would be random.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

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
}

/// Every HTTP route statusgate serves: the facade on `/`, and `/metrics`,
/// `/healthz` and `/readyz`, which are exempt from load shedding so that an
/// overloaded server still answers its orchestrator.
pub fn router(state: HttpState) -> Router {
    let admission = Arc::new(Admission {
        in_flight: Arc::new(Semaphore::new(state.max_in_flight)),
        request_timeout: state.request_timeout,
    });
    let facade = Router::new()
        .route("/", any(serve_root))
        .fallback(no_route)
        .with_state(state.services.clone())
        .layer(middleware::from_fn_with_state(admission, admit))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            observe,
        ));
    let operations = Router::new()
        .route("/metrics", get(serve_metrics))
        .route("/healthz", get(serve_liveness))
        .route("/readyz", get(serve_readiness))
        .with_state(state);
    with_layers(operations.merge(facade))
}

/// Load shedding and the request timeout of the facade.
struct Admission {
    in_flight: Arc<Semaphore>,
    request_timeout: Duration,
}

/// Sheds a request beyond `max_in_flight` at once (rather than queueing it)
/// and answers one that outlives the timeout; both as AWS JSON errors that
/// every SDK retries.
async fn admit(State(admission): State<Arc<Admission>>, request: Request, next: Next) -> Response {
    let Ok(_permit) = admission.in_flight.clone().try_acquire_owned() else {
        let error = FacadeError::from(Error::new(
            ErrorCode::Throttling,
            ErrorKind::ResourceExhausted,
            "Rate exceeded: too many concurrent requests; retry with backoff",
        ));
        return error.json_response(None);
    };
    match tokio::time::timeout(admission.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout = ?admission.request_timeout, "request timed out");
            FacadeError::from(Error::new(
                ErrorCode::ServiceUnavailable,
                ErrorKind::Unavailable,
                "The request did not complete in time; retry the request",
            ))
            .json_response(None)
        }
    }
}

/// Counts each facade request by operation (from the response's
/// [`Operation`] extension; `unknown` for requests refused before routing)
/// and outcome.
async fn observe(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let operation = response
        .extensions()
        .get::<Operation>()
        .map_or("unknown", |operation| operation.name());
    let throttled = response
        .headers()
        .get(&ERROR_TYPE_HEADER)
        .is_some_and(|value| value.as_bytes().ends_with(b"ThrottlingException"));
    let status = response.status();
    let outcome = if status.is_success() {
        Outcome::Ok
    } else if throttled {
        Outcome::Throttled
    } else if status.is_server_error() {
        Outcome::ServerError
    } else {
        Outcome::ClientError
    };
    metrics.observe_request(Transport::Http, operation, outcome, started.elapsed());
    response
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

/// The layers around every route, outermost last: the body limit the
/// extractors enforce, the panic backstop, and the request id and `Date`.
fn with_layers(routes: Router) -> Router {
    routes
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(request_metadata))
}

/// The request id of a request that went through [`request_metadata`].
fn request_id_of(request: &Request) -> RequestId {
    request
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::new)
}

/// `POST /` is awsJson, or the query form when it is form-encoded and names
/// no target; `GET /` is the query form.
async fn serve_root(State(services): State<Services>, request: Request) -> Response {
    let request_id = request_id_of(&request);
    let method = request.method().clone();
    if method == Method::POST {
        let headers = request.headers();
        if !aws_json::has_target(headers) && query::is_form(headers) {
            return query::handle_form(&services, &request_id, request).await;
        }
        return aws_json::handle(&services, &request_id, request).await;
    }
    if method == Method::GET {
        return query::handle_get(&services, &request_id, request).await;
    }
    no_route(request).await
}

async fn no_route(request: Request) -> Response {
    let request_id = request_id_of(&request);
    let error = FacadeError::from(Rejection::NoRoute);
    log_rejection(&request_id, &error);
    error.json_response(None)
}

/// Marks the answer to a panic so that [`request_metadata`] logs it with
/// the request id.
#[derive(Debug, Clone)]
struct HandlerPanicked(String);

fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".to_owned());
    let mut response = FacadeError::from(Rejection::Panicked).json_response(None);
    response.extensions_mut().insert(HandlerPanicked(detail));
    response
}

/// Gives the request its id and stamps `x-amzn-RequestId` and `Date` on the
/// response, whichever layer or handler produced it.
async fn request_metadata(mut request: Request, next: Next) -> Response {
    let request_id = RequestId::new();
    request.extensions_mut().insert(request_id.clone());
    let mut response = next.run(request).await;
    if let Some(HandlerPanicked(detail)) = response.extensions().get::<HandlerPanicked>() {
        tracing::error!(request_id = %request_id, panic = %detail, "request handler panicked");
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        headers.insert(REQUEST_ID_HEADER.clone(), value);
    }
    if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now())) {
        headers.insert(DATE, value);
    }
    response
}

/// The one log line of a routed request, inside its operation span (which
/// carries the request id). Server-side failures were logged with their
/// cause by the service; this line says what the caller got.
fn log_outcome<Output>(outcome: &Result<Output, FacadeError>) {
    let span = tracing::Span::current();
    let error = match outcome {
        Ok(_) => {
            span.record("http.response.status_code", 200);
            tracing::info!(status = 200, "request served");
            return;
        }
        Err(error) => error,
    };
    let (error_type, status) = error.summary();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        crate::telemetry::record_server_error(&span);
    }
    if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), error_type, "request failed");
    } else {
        tracing::info!(status = status.as_u16(), error_type, "request failed");
    }
}

/// The one log line of a request refused before it named an operation.
fn log_rejection(request_id: &RequestId, error: &FacadeError) {
    let (error_type, status) = error.summary();
    tracing::info!(
        request_id = %request_id,
        status = status.as_u16(),
        error_type,
        "request rejected"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::http::header::CONTENT_TYPE;
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
            std::time::Duration::from_secs(3600),
        )
    }

    #[tokio::test]
    async fn each_request_is_logged_in_its_operation_span_with_its_request_id() {
        let directory = tempfile::tempdir().unwrap();
        let (health, _) = Health::new();
        let app = router(HttpState {
            services: services_on_sqlite(&directory).await,
            metrics: Arc::new(Metrics::new(Box::new(|| (0, 0)))),
            health,
            request_timeout: Duration::from_secs(5),
            max_in_flight: 8,
        });
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

    #[tokio::test]
    async fn a_panicking_handler_is_an_aws_json_500_with_request_id_and_date() {
        async fn explode() -> Response {
            panic!("handler bug")
        }
        let app = with_layers(Router::new().route("/", any(explode)));
        let response = app
            .oneshot(Request::post("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "application/x-amz-json-1.1"
        );
        let request_id = response.headers()[&REQUEST_ID_HEADER].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(request_id).is_ok(), "{request_id}");
        assert!(response.headers().contains_key(DATE));
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["__type"], "InternalFailure");
        assert_eq!(
            body["message"],
            "an internal error occurred; retry the request"
        );
    }
}
