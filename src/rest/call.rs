//! One RPC called in-process through the same tower stack as the gRPC
//! listener's (spans and metrics, load shedding, authentication, the
//! services): the message is framed as on the wire, and the answer's frames
//! and `grpc-status` are read back. What reaches the services is exactly
//! what a gRPC caller's request would be.

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};
use http_body_util::{BodyExt, Full};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use tonic::Code;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceExt};

use crate::telemetry::Transport;

/// The gRPC stack, as a service the REST routes call.
pub type GrpcStack = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    BoxError,
>;

/// Headers a REST caller sends that the RPC sees as metadata: its
/// credentials and its trace context.
const FORWARDED_HEADERS: [http::HeaderName; 3] = [
    http::header::AUTHORIZATION,
    http::HeaderName::from_static("traceparent"),
    http::HeaderName::from_static("tracestate"),
];

/// Calls `grpc_path` with `message`; the answer's head, and its body still
/// to be read.
pub async fn call(
    stack: &GrpcStack,
    grpc_path: &str,
    message: &DynamicMessage,
    caller_headers: &HeaderMap,
) -> Result<http::Response<tonic::body::Body>, tonic::Status> {
    let encoded = message.encode_to_vec();
    let mut framed = BytesMut::with_capacity(5 + encoded.len());
    framed.extend_from_slice(&[0]);
    framed.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
    framed.extend_from_slice(&encoded);
    let mut request = http::Request::post(grpc_path)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers")
        .body(tonic::body::Body::new(Full::new(framed.freeze())))
        .map_err(|error| tonic::Status::internal(error.to_string()))?;
    for name in FORWARDED_HEADERS {
        for value in caller_headers.get_all(&name) {
            request.headers_mut().append(name.clone(), value.clone());
        }
    }
    request.extensions_mut().insert(Transport::Rest);
    stack
        .clone()
        .oneshot(request)
        .await
        .map_err(|error| tonic::Status::internal(format!("the call failed: {error}")))
}

/// The error of a trailers-only answer (every error before a first
/// message), or `None` when messages follow.
pub fn error_in_head(head: &HeaderMap) -> Option<tonic::Status> {
    head.contains_key("grpc-status")
        .then(|| tonic::Status::from_header_map(head))
        .flatten()
        .filter(|status| status.code() != Code::Ok)
}

/// Reads a unary answer: its one message, or its status.
pub async fn unary_answer(
    response: http::Response<tonic::body::Body>,
) -> Result<Bytes, tonic::Status> {
    if let Some(status) = error_in_head(response.headers()) {
        return Err(status);
    }
    let collected = response.into_body().collect().await?;
    if let Some(status) = collected
        .trailers()
        .and_then(tonic::Status::from_header_map)
        .filter(|status| status.code() != Code::Ok)
    {
        return Err(status);
    }
    let mut frames = FrameReader::default();
    frames.push(collected.to_bytes());
    frames
        .next_message()
        .ok_or_else(|| tonic::Status::internal("the answer carried no message"))
}

/// Splits gRPC's length-prefixed frames out of a byte stream.
#[derive(Default)]
pub struct FrameReader {
    buffer: BytesMut,
}

impl FrameReader {
    pub fn push(&mut self, data: Bytes) {
        self.buffer.extend_from_slice(&data);
    }

    /// The next whole message, if one has arrived. statusgate's server
    /// never compresses, so the flag byte is not looked at.
    pub fn next_message(&mut self) -> Option<Bytes> {
        if self.buffer.len() < 5 {
            return None;
        }
        let length = u32::from_be_bytes(self.buffer[1..5].try_into().ok()?) as usize;
        if self.buffer.len() < 5 + length {
            return None;
        }
        self.buffer.advance(5);
        Some(self.buffer.split_to(length).freeze())
    }
}

/// Proto3 JSON of messages and of `google.rpc.Status`, from one pool that
/// holds statusgate's descriptors and `google.rpc`'s.
#[derive(Clone)]
pub struct JsonCodec {
    status: MessageDescriptor,
}

impl JsonCodec {
    pub fn new(pool: &DescriptorPool) -> Option<Self> {
        let status = pool.get_message_by_name("google.rpc.Status")?;
        Some(Self { status })
    }

    /// The message `bytes` of type `descriptor`, as JSON.
    pub fn to_json(
        &self,
        descriptor: &MessageDescriptor,
        bytes: Bytes,
    ) -> Result<Vec<u8>, tonic::Status> {
        let message = DynamicMessage::decode(descriptor.clone(), bytes)
            .map_err(|error| tonic::Status::internal(format!("undecodable answer: {error}")))?;
        self.message_json(&message)
    }

    pub fn message_json(&self, message: &DynamicMessage) -> Result<Vec<u8>, tonic::Status> {
        let mut out = Vec::new();
        let mut serializer = serde_json::Serializer::new(&mut out);
        message
            .serialize_with_options(&mut serializer, &SerializeOptions::new())
            .map_err(|error| tonic::Status::internal(format!("unserialisable answer: {error}")))?;
        Ok(out)
    }

    /// `google.rpc.Status` JSON of `status`: code, message and the same
    /// details (`ErrorInfo`, `BadRequest`, ...) a gRPC caller gets.
    pub fn status_json(&self, status: &tonic::Status) -> Vec<u8> {
        let mut message = if status.details().is_empty() {
            DynamicMessage::new(self.status.clone())
        } else {
            DynamicMessage::decode(self.status.clone(), status.details())
                .unwrap_or_else(|_| DynamicMessage::new(self.status.clone()))
        };
        message.set_field_by_name("code", prost_reflect::Value::I32(status.code() as i32));
        message.set_field_by_name(
            "message",
            prost_reflect::Value::String(status.message().to_owned()),
        );
        self.message_json(&message).unwrap_or_else(|_| {
            // Only an Any of a type outside the pool gets here; the code and
            // message still reach the caller.
            serde_json::to_vec(&serde_json::json!({
                "code": status.code() as i32,
                "message": status.message(),
            }))
            .unwrap_or_default()
        })
    }
}

/// The HTTP status of a gRPC code, by the table googleapis and
/// grpc-gateway use (`google/rpc/code.proto`).
pub fn http_status(code: Code) -> http::StatusCode {
    use http::StatusCode as S;
    match code {
        Code::Ok => S::OK,
        Code::Cancelled => S::from_u16(499).expect("499 is a valid status"),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => S::BAD_REQUEST,
        Code::DeadlineExceeded => S::GATEWAY_TIMEOUT,
        Code::NotFound => S::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => S::CONFLICT,
        Code::PermissionDenied => S::FORBIDDEN,
        Code::Unauthenticated => S::UNAUTHORIZED,
        Code::ResourceExhausted => S::TOO_MANY_REQUESTS,
        Code::Unimplemented => S::NOT_IMPLEMENTED,
        Code::Unavailable => S::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => S::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON error answer of `status`.
pub fn error_response(codec: &JsonCodec, status: &tonic::Status) -> axum::response::Response {
    let mut response =
        axum::response::Response::new(axum::body::Body::from(codec.status_json(status)));
    *response.status_mut() = http_status(status.code());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Shared by every route.
pub type SharedCodec = Arc<JsonCodec>;
