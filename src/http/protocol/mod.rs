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
//! - `credentials`: the [`Caller`], from the SigV4 credential scope.
//! - `rejection`: [`Rejection`], everything wrong with the request itself;
//!   the facade's own type, which never becomes a domain error.

mod body;
mod credentials;
mod json_body;
mod query_form;
mod rejection;
mod target;

pub use body::{MAX_BODY_BYTES, read_body};
pub use credentials::Caller;
pub use json_body::{decode_input, parse_object};
pub use query_form::{QueryParameters, check_action, is_form};
pub use rejection::Rejection;
pub use target::{AWS_JSON_1_1, AwsService, Operation, Target, has_target};
