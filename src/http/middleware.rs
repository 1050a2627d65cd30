//! The layers around the routes:
//!
//! - [`guard_facade`], the facade's layer, runs three steps in order:
//!   - [`observe`]: one metrics observation per facade request, by
//!     operation and outcome;
//!   - [`receive_body`]: the whole body, within the size limit and the body
//!     timeout, before [`admit`]: a slow sender never holds an in-flight
//!     slot;
//!   - [`admit`]: load shedding and the request timeout of the facade (not
//!     of `/metrics`, `/healthz` and `/readyz`).
//! - [`with_layers`], around every route: the body limit the extractors
//!   enforce, the panic backstop, and `request_metadata`, which gives each
//!   request its [`RequestId`] and stamps `x-amzn-RequestId` and `Date` on
//!   every response, whichever layer or handler produced it.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderValue;
use axum::http::header::DATE;
use axum::middleware::{self, Next};
use axum::response::Response;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;

use crate::domain::{Error, ErrorCode};
use crate::http::log::{LOG_TARGET, log_rejection};
use crate::http::protocol::{MAX_BODY_BYTES, Operation, Rejection, Target};
use crate::http::render::FacadeError;
use crate::http::request_id::{REQUEST_ID_HEADER, RequestId};
use crate::metrics::{Metrics, Outcome, UNKNOWN_OPERATION};
use crate::telemetry::Transport;

/// What every facade request passes through before its route, in this
/// order: [`observe`], [`receive_body`], [`admit`]. One layer running three
/// steps rather than three layers: each axum layer clones and boxes the
/// service below it on every request.
pub struct FacadeGate {
    metrics: Arc<Metrics>,
    /// Longest time a body may take to arrive once its headers have.
    body_timeout: Duration,
    /// Facade requests served at once; beyond it `ThrottlingException`.
    in_flight: Arc<Semaphore>,
    /// Longest time a request may take before it is answered
    /// `ServiceUnavailable`.
    request_timeout: Duration,
}

impl FacadeGate {
    pub fn new(
        metrics: Arc<Metrics>,
        body_timeout: Duration,
        max_in_flight: usize,
        request_timeout: Duration,
    ) -> Self {
        Self {
            metrics,
            body_timeout,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            request_timeout,
        }
    }
}

/// The facade's layer: the request observed, its body received, then
/// admitted to its route.
pub async fn guard_facade(
    State(gate): State<Arc<FacadeGate>>,
    request: Request,
    next: Next,
) -> Response {
    observe(&gate.metrics, async {
        match receive_body(gate.body_timeout, request).await {
            Ok(request) => admit(&gate, next.run(request)).await,
            Err(refusal) => refusal,
        }
    })
    .await
}

/// Reads the whole request body, at most [`MAX_BODY_BYTES`] and within
/// `body_timeout` of the headers, and gives back the request with the body in
/// memory. Runs before [`admit`], so that a client dribbling its body is cut
/// off after the body timeout without ever holding one of the in-flight
/// slots fast clients need (the request timeout then bounds only the work).
/// Refusals are the answer, logged once, in the dialect the target names.
async fn receive_body(body_timeout: Duration, request: Request) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    let limited = Limited::new(body, MAX_BODY_BYTES);
    let rejection = match tokio::time::timeout(body_timeout, limited.collect()).await {
        Ok(Ok(collected)) => {
            let body = axum::body::Body::from(collected.to_bytes());
            return Ok(Request::from_parts(parts, body));
        }
        Ok(Err(error)) if error.is::<LengthLimitError>() => Rejection::BodyTooLarge,
        Ok(Err(_)) => Rejection::UnreadableBody,
        Err(_) => Rejection::BodyTimedOut {
            timeout: body_timeout,
        },
    };
    let service = Target::from_headers(&parts.headers)
        .ok()
        .map(|target| target.service);
    let error = FacadeError::from(rejection);
    if let Some(request_id) = parts.extensions.get::<RequestId>() {
        log_rejection(request_id, &error);
    }
    Err(error.json_response(service))
}

/// Sheds a request beyond `max_in_flight` at once (rather than queueing it)
/// and answers one that outlives the timeout; both as AWS JSON errors that
/// every SDK retries.
async fn admit(gate: &FacadeGate, handled: impl Future<Output = Response>) -> Response {
    let Ok(_permit) = gate.in_flight.clone().try_acquire_owned() else {
        let error = FacadeError::from(Error::new(
            ErrorCode::Throttling,
            "Rate exceeded: too many concurrent requests; retry with backoff",
        ));
        return error.json_response(None);
    };
    match tokio::time::timeout(gate.request_timeout, handled).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(target: LOG_TARGET, timeout = ?gate.request_timeout, "request timed out");
            FacadeError::from(Error::new(
                ErrorCode::ServiceUnavailable,
                "The request did not complete in time; retry the request",
            ))
            .json_response(None)
        }
    }
}

/// Counts each facade request by operation (from the response's
/// [`Operation`] extension; `unknown` for requests refused before routing)
/// and outcome (from the [`Outcome`] extension every error response
/// carries; any other answer is a success).
async fn observe(metrics: &Metrics, answered: impl Future<Output = Response>) -> Response {
    let started = Instant::now();
    let in_flight = metrics.begin_request(Transport::Http);
    let response = answered.await;
    drop(in_flight);
    let operation = response
        .extensions()
        .get::<Operation>()
        .map_or(UNKNOWN_OPERATION, |operation| operation.name());
    let outcome = response
        .extensions()
        .get::<Outcome>()
        .copied()
        .unwrap_or(Outcome::Ok);
    metrics.observe_request(Transport::Http, operation, outcome, started.elapsed());
    response
}

/// The layers around every route, outermost last: the body limit the
/// extractors enforce, the panic backstop, and the request id and `Date`.
pub fn with_layers(routes: Router) -> Router {
    routes
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(request_metadata))
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
        tracing::error!(target: LOG_TARGET, request_id = %request_id, panic = %detail, "request handler panicked");
    }
    let headers = response.headers_mut();
    if let Ok(mut value) = HeaderValue::from_str(request_id.as_str()) {
        // Unique to this response: over HTTP/2, HPACK sends it without
        // adding it to the header table (see `grpc/observe.rs`).
        value.set_sensitive(true);
        headers.insert(REQUEST_ID_HEADER.clone(), value);
    }
    if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now())) {
        headers.insert(DATE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::http::header::CONTENT_TYPE;
    use axum::routing::any;
    use tower::ServiceExt;

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
