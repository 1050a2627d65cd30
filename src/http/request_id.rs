//! The id of one request: a fresh UUID the outermost layer
//! (`middleware::request_metadata`) gives every request, sent back as
//! `x-amzn-RequestId` (botocore exposes it as `ResponseMetadata.RequestId`)
//! and carried by the request's span and log line. It sits at the bottom of
//! the facade: every module may import it.

use std::fmt;

use axum::extract::Request;
use axum::http::HeaderName;

/// The response header the id travels in.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-amzn-requestid");

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

    /// The id the outermost layer gave `request`; a fresh one for a request
    /// that did not go through it.
    pub fn of(request: &Request) -> Self {
        request
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::new)
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
