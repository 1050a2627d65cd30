//! The awsJson success answer: an operation's output shape as JSON, in the
//! content type of the service's dialect.

use axum::http::{HeaderValue, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::FacadeError;
use crate::domain::Error;
use crate::http::protocol::AwsService;

/// The output shape as JSON text. Serialising the shapes into a `Vec`
/// cannot fail; should it, the caller gets an internal error.
pub fn encode_json(output: &impl Serialize) -> Result<Vec<u8>, FacadeError> {
    serde_json::to_vec(output).map_err(|error| {
        tracing::error!(%error, "cannot encode the response");
        Error::internal().into()
    })
}

/// `200 OK` with the encoded output, in the service's content type.
pub fn json_success(service: AwsService, body: Vec<u8>) -> Response {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(service.content_type()),
        )],
        body,
    )
        .into_response()
}
