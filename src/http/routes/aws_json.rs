//! The awsJson 1.0 / 1.1 endpoint: routes a `POST /` on its `X-Amz-Target`,
//! reads the body as one JSON object (an empty body is `{}`), has the
//! operation's handler called with it and writes the output (or the error)
//! as JSON. Everything wrong with the request itself (no or an unknown
//! target, a body that is too large, not JSON, not an object, or has a
//! member of the wrong type) is a [`Rejection`](crate::http::protocol::Rejection),
//! answered before any service is called; so is a caller the
//! [`Authenticator`](super::Authenticator) refuses, which sees the whole
//! body (the signature covers it) before it is parsed.

use axum::extract::Request;
use axum::response::Response;
use tracing::Instrument;

use super::Facade;
use super::answer::{ErrorForm, answer_outcome, answer_rejection};
use crate::http::handlers::dispatch;
use crate::http::protocol::sigv4_verify::SignedRequest;
use crate::http::protocol::{Caller, Target, parse_object, read_body};
use crate::http::render::json_success;
use crate::http::request_id::RequestId;

/// Serves one awsJson request.
pub async fn handle(facade: &Facade, request_id: &RequestId, request: Request) -> Response {
    let target = match Target::from_headers(request.headers()) {
        Ok(target) => target,
        Err(rejection) => return answer_rejection(request_id, rejection, ErrorForm::AwsJson(None)),
    };
    let unverified = Caller::from_headers(request.headers());
    let span = target
        .operation
        .span(target.service, request_id, request.headers());
    let method = request.method().clone();
    let uri = request.uri().clone();
    let headers = request.headers().clone();
    async move {
        let outcome = async {
            let body = read_body(request).await?;
            let signed = SignedRequest {
                method: method.as_str(),
                path: uri.path(),
                query: uri.query(),
                authority: uri.authority().map(|authority| authority.as_str()),
                headers: &headers,
                body: &body,
            };
            let caller = facade
                .authenticator
                .caller(&signed, target.service, target.operation, unverified)
                .await?;
            let object = parse_object(&body)?;
            dispatch(&facade.services, &caller, target, object).await
        }
        .await;
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
