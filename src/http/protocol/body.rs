//! The request body: the most the facade reads, and reading it whole. The
//! limit is enforced by the `DefaultBodyLimit` layer (`middleware`), which
//! the body extractor consults; a larger body is [`Rejection::BodyTooLarge`].

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;

use super::rejection::Rejection;

/// The largest request body the facade reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Reads the whole body, within the limit `DefaultBodyLimit` set.
pub async fn read_body(request: Request) -> Result<Bytes, Rejection> {
    Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Rejection::BodyTooLarge
            } else {
                Rejection::UnreadableBody
            }
        })
}
