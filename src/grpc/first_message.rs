//! Admission after arrival: before a call may take one of the in-flight
//! slots, its first message must have arrived whole, within the body
//! timeout (`--http-body-timeout`) and within the message limit. A call that
//! sends headers and then nothing, or dribbles its message, is answered
//! `DEADLINE_EXCEEDED` (reason `RequestTimeoutException`) and its stream
//! ends, without ever holding a slot a fast caller needs. For unary and
//! server-streaming calls the first message is the whole request; a
//! bidirectional stream (reflection) is admitted on its first message.
//!
//! The framing of that first message is checked here too, because tonic
//! reports it as `INTERNAL` or as `OUT_OF_RANGE` without details: a
//! truncated frame, a missing message, a compression flag (statusgate
//! accepts none) and a declared length above the limit (refused as soon as
//! the 5-byte prefix arrives, before anything is buffered) are
//! `INVALID_ARGUMENT` with `ErrorInfo` reason `SerializationException`, like
//! a message that does not decode (`codec.rs`).
//!
//! Why `INVALID_ARGUMENT` for an oversize message, not the gRPC convention
//! `RESOURCE_EXHAUSTED`: statusgate answers `RESOURCE_EXHAUSTED` when it
//! sheds load, and clients retry it; resending the same message can never
//! succeed. tonic's `OUT_OF_RANGE` means "past the end of a range" elsewhere
//! and carries no details.
//!
//! Hand-written: no tower layer waits for a gRPC message; tower-http's body
//! timeouts bound the time between frames, not the time to a whole message.

use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use futures::future::BoxFuture;
use http_body::Frame;
use http_body_util::{BodyExt, BodyStream, StreamBody};
use tonic::body::Body;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tower::{BoxError, Layer, Service, ServiceExt};

use super::methods;
use super::status::{ERROR_DOMAIN, malformed_message};
use crate::metrics::Outcome;

/// The largest request message statusgate reads (tonic's default limit).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// The gRPC length prefix: a compression flag and a big-endian `u32`.
const PREFIX_BYTES: usize = 5;

#[derive(Debug, Clone)]
pub struct FirstMessageLayer {
    timeout: Duration,
}

impl FirstMessageLayer {
    /// Waits at most `timeout` for each call's first message.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for FirstMessageLayer {
    type Service = FirstMessage<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FirstMessage {
            inner,
            timeout: self.timeout,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FirstMessage<S> {
    inner: S,
    timeout: Duration,
}

/// Why a call was answered before it was admitted.
#[derive(Debug)]
enum Refusal {
    TimedOut(Duration),
    Malformed(String),
}

impl Refusal {
    fn into_response(self) -> http::Response<Body> {
        let status = match self {
            Self::TimedOut(timeout) => {
                let details = ErrorDetails::with_error_info(
                    "RequestTimeoutException",
                    ERROR_DOMAIN,
                    std::collections::HashMap::new(),
                );
                Status::with_error_details(
                    Code::DeadlineExceeded,
                    format!("the request message did not arrive within {timeout:?}"),
                    details,
                )
            }
            Self::Malformed(detail) => malformed_message(detail),
        };
        let mut response = status.into_http();
        // The caller's doing, however the code reads: for the metrics layer.
        response.extensions_mut().insert(Outcome::ClientError);
        response
    }
}

/// The length of the first frame (prefix included), once the prefix is in.
fn frame_length(buffered: &[u8]) -> Result<Option<usize>, Refusal> {
    if buffered.len() < PREFIX_BYTES {
        return Ok(None);
    }
    if buffered[0] != 0 {
        return Err(Refusal::Malformed(format!(
            "compressed-flag {} set, but statusgate accepts no compression",
            buffered[0]
        )));
    }
    let declared = (&buffered[1..PREFIX_BYTES]).get_u32() as usize;
    if declared > MAX_MESSAGE_BYTES {
        return Err(Refusal::Malformed(format!(
            "a message of {declared} bytes is larger than the limit of {MAX_MESSAGE_BYTES} bytes"
        )));
    }
    Ok(Some(PREFIX_BYTES + declared))
}

/// Reads `body` until its first message is whole; returns what was read and
/// the rest of the body (`None` if it ended).
async fn receive_first_message(
    mut body: Body,
    may_be_empty: bool,
) -> Result<(Bytes, Option<Body>), Refusal> {
    let mut buffered = BytesMut::new();
    loop {
        if let Some(needed) = frame_length(&buffered)?
            && buffered.len() >= needed
        {
            return Ok((buffered.freeze(), Some(body)));
        }
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buffered.extend_from_slice(&data);
                }
                // Trailers from a client end its stream: the next poll says so.
            }
            // The client reset its stream; nobody is left to answer.
            Some(Err(status)) => return Err(Refusal::Malformed(status.message().to_owned())),
            None if buffered.is_empty() && may_be_empty => return Ok((Bytes::new(), None)),
            None if buffered.is_empty() => {
                return Err(Refusal::Malformed(
                    "the call carries no request message".into(),
                ));
            }
            None => {
                return Err(Refusal::Malformed(format!(
                    "the stream ended inside a message ({} bytes of its frame arrived)",
                    buffered.len()
                )));
            }
        }
    }
}

/// The body again: what was read, then whatever else the client sends.
fn reassemble(received: Bytes, rest: Option<Body>) -> Body {
    let first = futures::stream::iter(
        (!received.is_empty()).then(|| Ok::<_, Status>(Frame::data(received))),
    );
    match rest {
        Some(rest) => Body::new(StreamBody::new(first.chain(BodyStream::new(rest)))),
        None => Body::new(StreamBody::new(first)),
    }
}

impl<S> Service<http::Request<Body>> for FirstMessage<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    /// Always ready: the inner services (load shedding, the in-flight limit)
    /// are asked only once the message is here, so a slow sender holds no
    /// slot while it sends.
    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            // An unknown method goes on to tonic, which answers UNIMPLEMENTED.
            let may_be_empty =
                methods::lookup(parts.uri.path()).is_none_or(|method| method.client_streaming);
            let received = match tokio::time::timeout(
                timeout,
                receive_first_message(body, may_be_empty),
            )
            .await
            {
                Err(_) => Err(Refusal::TimedOut(timeout)),
                Ok(received) => received,
            };
            let (first, rest) = match received {
                Ok(received) => received,
                Err(refusal) => return Ok(refusal.into_response()),
            };
            let request = http::Request::from_parts(parts, reassemble(first, rest));
            inner.oneshot(request).await.map_err(Into::into)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_gives_the_frame_length_and_refuses_what_cannot_be_read() {
        assert!(matches!(frame_length(&[0, 0, 0]), Ok(None)));
        assert!(matches!(frame_length(&[0, 0, 0, 0, 7]), Ok(Some(12))));
        assert!(matches!(
            frame_length(&[1, 0, 0, 0, 7]),
            Err(Refusal::Malformed(_))
        ));
        let too_large = (MAX_MESSAGE_BYTES as u32 + 1).to_be_bytes();
        let prefix = [0, too_large[0], too_large[1], too_large[2], too_large[3]];
        assert!(matches!(frame_length(&prefix), Err(Refusal::Malformed(_))));
    }
}
