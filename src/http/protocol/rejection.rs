//! The facade's protocol rejections: a request refused before any service
//! sees it, because of the request itself (no or an unknown `X-Amz-Target`,
//! a body that is too large, not JSON or not of the input's shape, a query
//! form naming no action or another API version, a signature that does
//! not verify or a caller who may not call the operation). As in smithy-rs's
//! `RequestRejection`, they are a type of their own and never become domain
//! errors; `render` gives each its AWS error name, status and message.

use super::auth_failure::AuthFailure;

/// A request the facade refuses before any service sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not authenticated, or not authorised (`--auth sigv4`).
    Auth(AuthFailure),
    /// A POST without `X-Amz-Target`.
    MissingTarget,
    /// An `X-Amz-Target` naming no operation the facade serves.
    UnknownOperation {
        target: String,
    },
    /// A method or path the facade does not serve.
    NoRoute,
    BodyTooLarge,
    /// The body did not arrive whole within the body timeout.
    BodyTimedOut {
        timeout: std::time::Duration,
    },
    /// The connection failed while the body was read.
    UnreadableBody,
    /// Not JSON, or nested deeper than the parser allows.
    MalformedJson {
        detail: String,
    },
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A member of the wrong JSON type (`member` is its path in the body).
    WrongMemberType {
        member: String,
        detail: String,
    },
    /// Query form without `Action`.
    MissingAction,
    /// Query form naming an action the facade does not serve.
    InvalidAction {
        action: String,
    },
    /// Query form naming an API version other than Cloud Control's.
    NoSuchVersion {
        version: String,
    },
    /// A query string or form body that does not decode.
    MalformedQueryString {
        detail: String,
    },
    /// A handler panicked (the backstop of `CatchPanicLayer`).
    Panicked,
}
