//! The tower layer in front of every gRPC service: one server span per call
//! (named by the method, continuing the caller's `traceparent`), request
//! metrics, an `x-amzn-requestid` response header, and admission control —
//! once a call's first message has arrived (`first_message.rs`), beyond
//! `max_in_flight` concurrent calls it is shed at once with
//! RESOURCE_EXHAUSTED (`ThrottlingException`) instead of queueing.
//!
//! Hand-written rather than tower-http's `TraceLayer` because the outcome
//! metric needs the method name when the response arrives, and shed requests
//! must become gRPC statuses with `ErrorInfo`, which no stock layer does.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tonic::Code;
use tower::layer::util::{Identity, Stack};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::load_shed::error::Overloaded;
use tower::{BoxError, Layer, Service, ServiceBuilder};
use tracing::Instrument;

use super::first_message::FirstMessageLayer;
use super::methods;
use super::status::{error_code_of, status_from_error};
use crate::domain::{ApiFamily, Error, ErrorCode};
use crate::metrics::{Metrics, Outcome, UNKNOWN_OPERATION};
use crate::telemetry::{Transport, continue_trace, record_server_error};

/// Observe, then wait for the first message, then shed, then limit
/// (outermost first): a call takes an in-flight slot only once its message
/// has arrived.
pub type GrpcLayer = Stack<
    GlobalConcurrencyLimitLayer,
    Stack<LoadShedLayer, Stack<FirstMessageLayer, Stack<ObserveLayer, Identity>>>,
>;

/// Builds the stack in front of every gRPC service; a call's first message
/// must arrive within `message_timeout`.
pub fn layer(metrics: Arc<Metrics>, max_in_flight: usize, message_timeout: Duration) -> GrpcLayer {
    ServiceBuilder::new()
        .layer(ObserveLayer { metrics })
        .layer(FirstMessageLayer::new(message_timeout))
        .layer(LoadShedLayer::new())
        .layer(GlobalConcurrencyLimitLayer::new(max_in_flight))
        .into_inner()
}

#[derive(Clone)]
pub struct ObserveLayer {
    metrics: Arc<Metrics>,
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

/// `/statusgate.v1.ChangeTokenService/GetChangeToken` -> (service, method).
fn service_and_method(path: &str) -> (&str, &str) {
    let trimmed = path.trim_start_matches('/');
    trimmed.split_once('/').unwrap_or((trimmed, ""))
}

/// The status a response carries in its headers (trailers-only responses,
/// i.e. errors); a success carries it in trailers, so no header means OK.
fn status_code(response: &http::Response<tonic::body::Body>) -> Code {
    response
        .headers()
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok())
        .map_or(Code::Ok, Code::from_i32)
}

/// The span of one call, named by its method (span names are static, hence
/// one arm per method statusgate serves).
fn method_span(service: &str, method: &str, request_id: &str) -> tracing::Span {
    macro_rules! span_for {
        ($($name:literal),+ $(,)?) => {
            match method {
                $($name => crate::operation_span!($name, rpc_system = "grpc", service = service, request_id = request_id),)+
                _ => crate::operation_span!("grpc", rpc_system = "grpc", service = service, request_id = request_id),
            }
        };
    }
    span_for!(
        "GetChangeToken",
        "GetChangeTokenStatus",
        "ConsumeChangeToken",
        "MarkChangeTokenInSync",
        "ListChangeTokens",
        "CreateResourceRequest",
        "GetResourceRequestStatus",
        "ListResourceRequests",
        "CancelResourceRequest",
        "RecordProgressEvent",
        "ListProgressEvents",
        "ClaimResourceRequests",
        "RenewLease",
        "WaitResourceRequest",
        "WatchResourceRequest",
        "WatchChangeToken",
        "GetOperation",
        "ListOperations",
        "CancelOperation",
        "WaitOperation",
        "DeleteOperation",
        "CreateCredential",
        "ListCredentials",
        "RevokeCredential",
        "Check",
        "Watch",
        "ServerReflectionInfo",
    )
}

/// How a call ended: as a layer marked it (the first-message layer's
/// refusals), else from the domain error's code when statusgate answered
/// with one, else (calls tonic itself refused, e.g. unknown methods) from the
/// gRPC code.
fn outcome_of(response: &http::Response<tonic::body::Body>, code: Code) -> Outcome {
    if let Some(marked) = response.extensions().get::<Outcome>() {
        return *marked;
    }
    match response
        .extensions()
        .get::<tonic::Status>()
        .and_then(error_code_of)
    {
        Some(error_code) => Outcome::of(error_code),
        None => outcome_of_code(code),
    }
}

fn outcome_of_code(code: Code) -> Outcome {
    match code {
        Code::Ok => Outcome::Ok,
        Code::ResourceExhausted => Outcome::Throttled,
        Code::Unknown
        | Code::DeadlineExceeded
        | Code::Unavailable
        | Code::Internal
        | Code::DataLoss
        | Code::Aborted => Outcome::ServerError,
        // tonic answers UNIMPLEMENTED only for methods nobody serves: the
        // caller's mistake, like an unknown X-Amz-Target on the facade.
        Code::Unimplemented
        | Code::Cancelled
        | Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::FailedPrecondition
        | Code::OutOfRange
        | Code::Unauthenticated => Outcome::ClientError,
    }
}

fn throttled() -> http::Response<tonic::body::Body> {
    // `ThrottlingException` is spelled the same in every family.
    status_from_error(
        Error::new(
            ErrorCode::Throttling,
            "Rate exceeded: too many concurrent requests; retry with backoff",
        ),
        ApiFamily::CloudControl,
    )
    .into_http()
}

impl<S, RequestBody> Service<http::Request<RequestBody>> for Observe<S>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    RequestBody: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(context).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let started = Instant::now();
        let path = request.uri().path();
        let (service, method) = service_and_method(path);
        // Only served methods become label values; anything else is one label.
        let operation = methods::lookup(path).map_or(UNKNOWN_OPERATION, |known| known.name);
        // The REST gateway marks the calls it makes in-process.
        let transport = request
            .extensions()
            .get::<Transport>()
            .copied()
            .unwrap_or(Transport::Grpc);
        let request_id = uuid::Uuid::new_v4().to_string();
        let span = method_span(service, method, &request_id);
        continue_trace(&span, request.headers());
        // The clone is the one `poll_ready` did not prepare; swap it in.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let in_flight = metrics.begin_request(transport);
            let answered = ready
                .call(request)
                .instrument(span.clone())
                .await
                .map_err(Into::into);
            let mut response = match answered {
                Ok(response) => response,
                Err(error) if error.is::<Overloaded>() => throttled(),
                Err(error) => return Err(error),
            };
            let code = status_code(&response);
            span.record("rpc.grpc.status_code", code as i32);
            let outcome = outcome_of(&response, code);
            if outcome == Outcome::ServerError {
                record_server_error(&span);
            }
            drop(in_flight);
            let elapsed = started.elapsed();
            metrics.observe_request(transport, operation, outcome, elapsed);
            // One line per call: `debug` for a success (formatting it cost
            // about 6% of a status read's instructions; `RUST_LOG=info,statusgate=debug`
            // shows it), `info` for a client error, `warn` for a server error.
            let elapsed_us = elapsed.as_micros() as u64;
            match outcome {
                Outcome::Ok => tracing::debug!(
                    parent: &span,
                    grpc_status = code as i32,
                    outcome = outcome.as_str(),
                    elapsed_us,
                    "request answered"
                ),
                Outcome::ServerError => tracing::warn!(
                    parent: &span,
                    grpc_status = code as i32,
                    outcome = outcome.as_str(),
                    elapsed_us,
                    "request answered"
                ),
                _ => tracing::info!(
                    parent: &span,
                    grpc_status = code as i32,
                    outcome = outcome.as_str(),
                    elapsed_us,
                    "request answered"
                ),
            }
            if let Ok(mut value) = http::HeaderValue::from_str(&request_id) {
                // A value no other response repeats: HPACK sends it as a
                // literal never indexed, instead of adding it to the
                // connection's header table, where it would only evict the
                // entries that do repeat (content-type, grpc-status).
                value.set_sensitive(true);
                response.headers_mut().insert("x-amzn-requestid", value);
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            service_and_method("/statusgate.v1.ChangeTokenService/GetChangeToken"),
            ("statusgate.v1.ChangeTokenService", "GetChangeToken")
        );
        assert_eq!(service_and_method("/odd"), ("odd", ""));
    }

    #[test]
    fn codes_of_statuses_tonic_made_map_to_outcomes() {
        assert_eq!(outcome_of_code(Code::Ok), Outcome::Ok);
        assert_eq!(outcome_of_code(Code::NotFound), Outcome::ClientError);
        assert_eq!(outcome_of_code(Code::Unavailable), Outcome::ServerError);
        assert_eq!(outcome_of_code(Code::ResourceExhausted), Outcome::Throttled);
    }
}
