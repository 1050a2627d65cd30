//! The awsJson 1.0 / 1.1 endpoint: routes a `POST /` on its `X-Amz-Target`,
//! reads the body as one JSON object (an empty body is `{}`), has the
//! operation's handler called with it and writes the output (or the error)
//! as JSON. Everything wrong with the request itself (no or an unknown
//! target, a body that is too large, not JSON, not an object, or has a
//! member of the wrong type) is a [`Rejection`](crate::http::protocol::Rejection),
//! answered before any service is called.

use axum::extract::Request;
use axum::response::Response;
use tracing::Instrument;

use super::answer::{ErrorForm, answer_outcome, answer_rejection};
use crate::http::handlers::dispatch;
use crate::http::protocol::{Caller, Target, parse_object, read_body};
use crate::http::render::json_success;
use crate::http::request_id::RequestId;
use crate::service::Services;

/// Serves one awsJson request.
pub async fn handle(services: &Services, request_id: &RequestId, request: Request) -> Response {
    let target = match Target::from_headers(request.headers()) {
        Ok(target) => target,
        Err(rejection) => return answer_rejection(request_id, rejection, ErrorForm::AwsJson(None)),
    };
    let caller = Caller::from_headers(request.headers());
    let span = target
        .operation
        .span(target.service, request_id, request.headers());
    async move {
        let outcome = match read_body(request)
            .await
            .and_then(|body| parse_object(&body))
        {
            Ok(body) => dispatch(services, &caller, target, body).await,
            Err(rejection) => Err(rejection.into()),
        };
        answer_outcome(
            target.operation,
            outcome,
            ErrorForm::AwsJson(Some(target.service)),
            |body| json_success(target.service, body),
        )
    }
    .instrument(span)
    .await
}
