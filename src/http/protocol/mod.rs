//! The AWS wire protocol as the facade reads it, before any service is
//! called. Nothing here writes a response (that is `render`'s job), and
//! nothing here imports from the modules above it.
//!
//! - `target`: `X-Amz-Target` -> [`Target`] (an [`AwsService`] and an
//!   [`Operation`]), each service's awsJson dialect, the operation's span.
//! - `body`: [`read_body`] within [`MAX_BODY_BYTES`].
//! - `json_body`: the awsJson body as one JSON object ([`parse_object`]),
//!   decoded into an input shape ([`decode_input`]).
//! - `query_form`: the query form's [`QueryParameters`].
//! - `credentials`: the [`Caller`]: its principal when authenticated, and
//!   the region of its SigV4 credential scope.
//! - `sigv4`: reading a SigV4 signature off a request (header or presigned
//!   query), as plain functions over text; `sigv4_verify`: checking it
//!   (scope, time window, signature via `aws-sigv4`, constant-time).
//! - `auth_failure`: [`AuthFailure`], AWS's authentication errors.
//! - `rejection`: [`Rejection`], everything wrong with the request itself;
//!   the facade's own type, which never becomes a domain error.

mod auth_failure;
mod body;
mod credentials;
mod json_body;
mod query_form;
mod rejection;
pub mod sigv4;
pub mod sigv4_verify;
mod target;

pub use auth_failure::AuthFailure;
pub use body::{MAX_BODY_BYTES, read_body};
pub use credentials::Caller;
pub use json_body::{decode_input, parse_object};
pub use query_form::{QueryParameters, check_action, is_form};
pub use rejection::Rejection;
pub use target::{AWS_JSON_1_1, AwsService, Operation, Target, has_target};
