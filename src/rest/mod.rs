//! The REST/JSON gateway on the HTTP listener: every statusgate RPC at the
//! path its `google.api.http` annotation gives, transcoded in-process to the
//! same gRPC stack the gRPC listener serves (so the same authentication,
//! roles, spans, metrics and load shedding apply), plus the OpenAPI document
//! of that mapping and the operator's console.
//!
//! | file | does |
//! | --- | --- |
//! | `rules.rs` | the routes, read from the annotations; path templates |
//! | `request.rs` | path, query and body -> the request message |
//! | `call.rs` | the in-process call; answers and `google.rpc.Status` as JSON |
//! | `sse.rs` | server-streaming RPCs as Server-Sent Events |
//! | `openapi.rs` | `GET /openapi.json` |
//! | `console.rs` | `GET /console` and its two assets |
//!
//! Who may call what is the gRPC method's rule (`grpc::action_of` and the
//! role table): a REST route is its RPC. `/openapi.json` and the console's
//! static files are public; the console's data comes from the routes, with
//! the credentials the operator types in.

mod call;
mod console;
mod openapi;
mod request;
mod rules;
mod sse;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use prost_reflect::DescriptorPool;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

pub use call::GrpcStack;
use call::{JsonCodec, SharedCodec, error_response};
use rules::{BoundFields, Route};

/// The domain `ErrorInfo` of the gateway's own refusals carries, as gRPC's.
const ERROR_DOMAIN: &str = "statusgate";

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Rules(#[from] rules::RulesError),
    #[error("the google.rpc descriptors do not load: {0}")]
    Descriptors(#[from] prost_reflect::DescriptorError),
    #[error("google.rpc.Status is missing from the descriptors")]
    NoStatus,
}

/// The routes, the codec and the gRPC stack they call; cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    routes: Vec<Route>,
    codec: SharedCodec,
    stack: GrpcStack,
    openapi: Bytes,
    limits: GatewayLimits,
}

/// The HTTP listener's limits, applied to REST calls too.
#[derive(Clone, Copy, Debug)]
pub struct GatewayLimits {
    /// Longest time a call may take before it is DEADLINE_EXCEEDED (for a
    /// stream: until its first answer).
    pub request_timeout: Duration,
    /// Longest time a body may take to arrive.
    pub body_timeout: Duration,
    pub max_body_bytes: usize,
}

impl Gateway {
    /// Reads the routes from the descriptors statusgate was built with.
    pub fn new(stack: GrpcStack, limits: GatewayLimits) -> Result<Self, GatewayError> {
        let mut pool = DescriptorPool::decode(tonic_types::pb::FILE_DESCRIPTOR_SET)?;
        pool.decode_file_descriptor_set(crate::grpc::proto::FILE_DESCRIPTOR_SET)?;
        let routes = rules::routes(&pool)?;
        let openapi = serde_json::to_vec_pretty(&openapi::document(&routes))
            .expect("a JSON value serialises")
            .into();
        let codec = Arc::new(JsonCodec::new(&pool).ok_or(GatewayError::NoStatus)?);
        Ok(Self {
            inner: Arc::new(Inner {
                routes,
                codec,
                stack,
                openapi,
                limits,
            }),
        })
    }

    /// `/v1/...`, `/openapi.json` and `/console`.
    pub fn router(self) -> Router {
        Router::new()
            .route("/v1/{*path}", any(serve))
            .route("/openapi.json", get(serve_openapi))
            .merge(console::router())
            .with_state(self)
    }
}

async fn serve_openapi(State(gateway): State<Gateway>) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        gateway.inner.openapi.clone(),
    )
        .into_response()
}

/// A refusal by the gateway itself, in the same form as the RPCs' errors.
fn refusal(code: Code, reason: &str, message: String, field: Option<&str>) -> tonic::Status {
    let mut details =
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, std::collections::HashMap::new());
    if let Some(field) = field {
        details.add_bad_request_violation(field, message.clone());
    }
    tonic::Status::with_error_details(code, message, details)
}

/// Why a request got no RPC answer: a status, and the HTTP status when it
/// is not the one the code maps to.
struct Refused {
    status: tonic::Status,
    http_status: Option<StatusCode>,
}

impl From<tonic::Status> for Refused {
    fn from(status: tonic::Status) -> Self {
        Self {
            status,
            http_status: None,
        }
    }
}

async fn serve(State(gateway): State<Gateway>, request: Request) -> Response {
    let inner = &gateway.inner;
    match answer(inner, request).await {
        Ok(response) => response,
        Err(refused) => {
            let mut response = error_response(&inner.codec, &refused.status);
            if let Some(status) = refused.http_status {
                *response.status_mut() = status;
            }
            response
        }
    }
}

async fn answer(inner: &Inner, request: Request) -> Result<Response, Refused> {
    let (route, bound) = find_route(&inner.routes, request.uri().path(), request.method())?;
    let (parts, body) = request.into_parts();
    let limits = inner.limits;
    let body = read_body(body, limits).await?;
    let mut message =
        request::request_message(route, &bound, parts.uri.query(), &body).map_err(|error| {
            let field = (!error.field.is_empty()).then_some(error.field.as_str());
            let message = match field {
                Some(field) => format!("{field}: {}", error.description),
                None => error.description.clone(),
            };
            refusal(
                Code::InvalidArgument,
                "SerializationException",
                message,
                field,
            )
        })?;
    if route.is_streaming() {
        let resume = sse::resume_of(route.method.full_name());
        let skip_through =
            sse::apply_last_event_id(resume, &mut message, last_event_id(&parts.headers)?);
        let response = within(
            limits.request_timeout,
            call::call(&inner.stack, &route.grpc_path, &message, &parts.headers),
        )
        .await?;
        if let Some(status) = call::error_in_head(response.headers()) {
            return Err(status.into());
        }
        return Ok(sse::events(
            inner.codec.clone(),
            route.method.output(),
            resume,
            skip_through,
            response.into_body(),
        ));
    }
    let answered = within(limits.request_timeout, async {
        let response = call::call(&inner.stack, &route.grpc_path, &message, &parts.headers).await?;
        call::unary_answer(response).await
    })
    .await?;
    let json = inner.codec.to_json(&route.method.output(), answered)?;
    let mut response = Response::new(Body::from(json));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// The route of `method path`, with the fields its path binds; 405 when
/// the path answers other methods only, 404 when it answers none.
fn find_route<'a>(
    routes: &'a [Route],
    path: &str,
    method: &http::Method,
) -> Result<(&'a Route, BoundFields), Refused> {
    let mut path_matched = false;
    for route in routes {
        if let Some(bound) = route.template.matches(path) {
            if route.verb == method {
                return Ok((route, bound));
            }
            path_matched = true;
        }
    }
    Err(if path_matched {
        Refused {
            status: refusal(
                Code::Unimplemented,
                "MethodNotAllowed",
                format!("{path} does not answer {method}"),
                None,
            ),
            http_status: Some(StatusCode::METHOD_NOT_ALLOWED),
        }
    } else {
        refusal(
            Code::NotFound,
            "UnknownOperationException",
            format!("no REST route {method} {path}; see /openapi.json"),
            None,
        )
        .into()
    })
}

/// The whole body, within the listener's body timeout and size limit.
async fn read_body(body: Body, limits: GatewayLimits) -> Result<Bytes, tonic::Status> {
    tokio::time::timeout(
        limits.body_timeout,
        axum::body::to_bytes(body, limits.max_body_bytes),
    )
    .await
    .map_err(|_| {
        refusal(
            Code::DeadlineExceeded,
            "RequestTimeoutException",
            format!(
                "the body did not arrive within {}",
                humantime::format_duration(limits.body_timeout)
            ),
            None,
        )
    })?
    .map_err(|error| {
        refusal(
            Code::InvalidArgument,
            "SerializationException",
            format!(
                "the body could not be read (at most {} bytes): {error}",
                limits.max_body_bytes
            ),
            None,
        )
    })
}

/// A watch's `Last-Event-ID`: absent, or an event id this kind of stream
/// sends (a number, not negative).
fn last_event_id(headers: &http::HeaderMap) -> Result<Option<i64>, tonic::Status> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<i64>().ok())
        .filter(|number| *number >= 0)
        .map(Some)
        .ok_or_else(|| {
            refusal(
                Code::InvalidArgument,
                "ValidationException",
                "Last-Event-ID must be an event id this stream sent".into(),
                Some("Last-Event-ID"),
            )
        })
}

async fn within<T>(
    timeout: Duration,
    future: impl Future<Output = Result<T, tonic::Status>>,
) -> Result<T, tonic::Status> {
    tokio::time::timeout(timeout, future)
        .await
        .unwrap_or_else(|_| {
            Err(refusal(
                Code::DeadlineExceeded,
                "RequestTimeoutException",
                format!("no answer within {}", humantime::format_duration(timeout)),
                None,
            ))
        })
}
