//! What the facade writes back, in the AWS wire forms. It sits on top of
//! `protocol` (whose rejections it renders) and knows nothing of handlers
//! or routes.
//!
//! - `error`: [`FacadeError`] (a domain error or a protocol rejection),
//!   mapped once to an AWS error name, HTTP status and message member, and
//!   rendered as an awsJson error body with `x-amzn-ErrorType`
//!   ([`FacadeError::json_response`]) or as the query protocol's XML
//!   `ErrorResponse` ([`FacadeError::xml_response`]).
//! - `auth`: the AWS name and status of each authentication failure.
//! - `json`: an operation's output as awsJson ([`encode_json`],
//!   [`json_success`]).
//! - `query_document`: the query form's `GetResourceRequestStatusResponse`
//!   document ([`xml_success`]).
//! - `xml`: the few lines of XML writing both XML answers need.

mod auth;
mod error;
mod json;
mod query_document;
mod xml;

pub use error::FacadeError;
pub use json::{encode_json, json_success};
pub use query_document::xml_success;
