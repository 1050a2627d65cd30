//! The awsJson 1.0 / 1.1 protocol: routes a `POST /` on its `X-Amz-Target`,
//! reads the body as one JSON object (an empty body is `{}`), decodes it into
//! the operation's input shape, calls the handler and writes the output (or
//! the error) as JSON. Everything wrong with the request itself (no or an
//! unknown target, a body that is too large, not JSON, not an object, or has
//! a member of the wrong type) is a [`Rejection`], answered before any
//! service is called.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tracing::Instrument;

use super::credentials::Caller;
use super::error::{FacadeError, Rejection};
use super::operation::{Operation, Target};
use super::{RequestId, cloudcontrol, log_outcome, log_rejection, waf};
use crate::domain::Error;
use crate::service::Services;

static TARGET_HEADER: HeaderName = HeaderName::from_static("x-amz-target");

/// Whether a request carries an `X-Amz-Target` (and so speaks awsJson).
pub fn has_target(headers: &HeaderMap) -> bool {
    headers.contains_key(&TARGET_HEADER)
}

/// Serves one awsJson request.
pub async fn handle(services: &Services, request_id: &RequestId, request: Request) -> Response {
    let target = match target_of(request.headers()) {
        Ok(target) => target,
        Err(rejection) => {
            let error = FacadeError::from(rejection);
            log_rejection(request_id, &error);
            return error.json_response(None);
        }
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
            Ok(body) => call(services, &caller, target, body).await,
            Err(rejection) => Err(rejection.into()),
        };
        log_outcome(&outcome, target.service.family());
        let mut response = match outcome {
            Ok(body) => (
                [(
                    CONTENT_TYPE,
                    HeaderValue::from_static(target.service.content_type()),
                )],
                body,
            )
                .into_response(),
            Err(error) => error.json_response(Some(target.service)),
        };
        // For the metrics layer.
        response.extensions_mut().insert(target.operation);
        response
    }
    .instrument(span)
    .await
}

fn target_of(headers: &HeaderMap) -> Result<Target, Rejection> {
    let value = headers
        .get(&TARGET_HEADER)
        .ok_or(Rejection::MissingTarget)?;
    let Ok(text) = value.to_str() else {
        return Err(Rejection::UnknownOperation {
            target: String::from_utf8_lossy(value.as_bytes()).into_owned(),
        });
    };
    Target::parse(text)
}

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

/// The body as a JSON object; an empty body is `{}`. serde_json refuses
/// nesting deeper than 128 levels, so hostile nesting is a parse error here
/// rather than a stack overflow.
fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Rejection> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(body).map_err(|error| Rejection::MalformedJson {
        detail: error.to_string(),
    })?;
    match value {
        Value::Object(members) => Ok(members),
        _ => Err(Rejection::NotAnObject),
    }
}

/// The body as an operation's input shape; the error names the member's path.
fn input<Shape: DeserializeOwned>(body: Map<String, Value>) -> Result<Shape, Rejection> {
    serde_path_to_error::deserialize(Value::Object(body)).map_err(|error| {
        Rejection::WrongMemberType {
            member: error.path().to_string(),
            detail: error.inner().to_string(),
        }
    })
}

fn encode(output: &impl Serialize) -> Result<Vec<u8>, FacadeError> {
    serde_json::to_vec(output).map_err(|error| {
        tracing::error!(%error, "cannot encode the response");
        Error::internal().into()
    })
}

async fn call(
    services: &Services,
    caller: &Caller,
    target: Target,
    body: Map<String, Value>,
) -> Result<Vec<u8>, FacadeError> {
    let change_tokens = &services.change_tokens;
    let requests = &services.resource_requests;
    match (target.service.waf_endpoint(), target.operation) {
        (Some(endpoint), Operation::GetChangeToken) => {
            let output = waf::get_change_token(change_tokens, caller, endpoint, input(body)?);
            encode(&output.await?)
        }
        (Some(endpoint), Operation::GetChangeTokenStatus) => {
            let output =
                waf::get_change_token_status(change_tokens, caller, endpoint, input(body)?);
            encode(&output.await?)
        }
        (None, Operation::GetResourceRequestStatus) => {
            let output = cloudcontrol::get_resource_request_status(requests, caller, input(body)?);
            encode(&output.await?)
        }
        (None, Operation::ListResourceRequests) => {
            let output = cloudcontrol::list_resource_requests(requests, caller, input(body)?);
            encode(&output.await?)
        }
        (None, Operation::CancelResourceRequest) => {
            let output = cloudcontrol::cancel_resource_request(requests, caller, input(body)?);
            encode(&output.await?)
        }
        (None, Operation::CreateResource) => {
            let output = cloudcontrol::create_resource(requests, caller, input(body)?);
            encode(&output.await?)
        }
        (None, Operation::UpdateResource) => {
            let output = cloudcontrol::update_resource(requests, caller, input(body)?);
            encode(&output.await?)
        }
        (None, Operation::DeleteResource) => {
            let output = cloudcontrol::delete_resource(requests, caller, input(body)?);
            encode(&output.await?)
        }
        // `Target::parse` pairs operations with their service; any other
        // pairing is an operation that service does not have.
        (_, operation) => Err(Rejection::UnknownOperation {
            target: format!("{}.{operation}", target.service.signing_name()),
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::shapes::{GetChangeTokenStatusInput, ListResourceRequestsInput};

    #[test]
    fn empty_bodies_are_empty_objects_and_others_must_be_objects() {
        assert_eq!(parse_object(b"").unwrap(), Map::new());
        assert_eq!(parse_object(b" \n").unwrap(), Map::new());
        assert_eq!(parse_object(b"{}").unwrap(), Map::new());
        assert_eq!(parse_object(b"[]"), Err(Rejection::NotAnObject));
        assert_eq!(parse_object(b"\"x\""), Err(Rejection::NotAnObject));
        assert!(matches!(
            parse_object(b"{\"a\":"),
            Err(Rejection::MalformedJson { .. })
        ));
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let Err(Rejection::MalformedJson { detail }) = parse_object(deep.as_bytes()) else {
            panic!("deep nesting must be refused");
        };
        assert!(detail.contains("recursion limit exceeded"), "{detail}");
    }

    #[test]
    fn members_of_the_wrong_type_are_named_and_nulls_are_absent() {
        let body = |text: &str| parse_object(text.as_bytes()).unwrap();
        let rejection =
            input::<GetChangeTokenStatusInput>(body(r#"{"ChangeToken": 5}"#)).unwrap_err();
        assert_eq!(
            rejection,
            Rejection::WrongMemberType {
                member: "ChangeToken".into(),
                detail: "invalid type: integer `5`, expected a string".into(),
            }
        );
        let nested = input::<ListResourceRequestsInput>(body(
            r#"{"ResourceRequestStatusFilter": {"Operations": ["CREATE", 7]}}"#,
        ))
        .unwrap_err();
        assert!(
            matches!(&nested, Rejection::WrongMemberType { member, .. } if member == "ResourceRequestStatusFilter.Operations[1]"),
            "{nested:?}"
        );
        let nulls = input::<ListResourceRequestsInput>(body(
            r#"{"MaxResults": null, "NextToken": null, "ResourceRequestStatusFilter": null, "Unknown": [1, {"x": 2}]}"#,
        ))
        .unwrap();
        assert!(nulls.max_results.is_none() && nulls.next_token.is_none());
        assert!(nulls.resource_request_status_filter.is_none());
    }
}
