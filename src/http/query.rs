//! The query-style form the Cloud Control reference page shows:
//! `?Action=GetResourceRequestStatus&RequestToken=...&Version=2021-09-30` as a
//! `GET /` or as a form-encoded `POST /`, answered with the XML document of
//! that page (`text/xml`, ISO-8601 timestamps with milliseconds) and errors as
//! an XML `ErrorResponse`. It calls the same handler as the JSON form.

use std::time::{Duration, UNIX_EPOCH};

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use axum::response::Response;
use serde::Deserialize;
use tracing::Instrument;

use super::aws_json::read_body;
use super::credentials::{Caller, CredentialScope};
use super::error::{FacadeError, Rejection};
use super::operation::{AwsService, Operation};
use super::shapes::{
    EpochSeconds, GetResourceRequestStatusOutput, ProgressEventShape, RequestTokenInput,
};
use super::{RequestId, cloudcontrol, log_outcome, log_rejection, xml};
use crate::domain::ApiFamily;
use crate::service::Services;

pub const CLOUD_CONTROL_VERSION: &str = "2021-09-30";
const CLOUD_CONTROL_XML_NAMESPACE: &str = "http://cloudcontrolapi.amazonaws.com/doc/2021-09-30/";

/// The parameters the query form reads; others (the `X-Amz-*` signing
/// parameters but the credential) are ignored.
#[derive(Debug, Default, Deserialize)]
struct QueryParameters {
    #[serde(rename = "Action")]
    action: Option<String>,
    #[serde(rename = "Version")]
    version: Option<String>,
    #[serde(rename = "RequestToken")]
    request_token: Option<String>,
    #[serde(rename = "X-Amz-Credential")]
    credential: Option<String>,
}

/// Whether a POST without `X-Amz-Target` is a form (`; charset=...` allowed).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| {
            media_type
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// `GET /?Action=...`: the parameters are the query string.
pub async fn handle_get(services: &Services, request_id: &RequestId, request: Request) -> Response {
    let parameters =
        serde_urlencoded::from_str(request.uri().query().unwrap_or_default()).map_err(|error| {
            Rejection::MalformedQueryString {
                detail: error.to_string(),
            }
        });
    answer(services, request_id, request.headers(), parameters).await
}

/// A form-encoded `POST /`: the parameters are the body.
pub async fn handle_form(
    services: &Services,
    request_id: &RequestId,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let parameters = read_body(request).await.and_then(|body| {
        serde_urlencoded::from_bytes(&body).map_err(|error| Rejection::MalformedQueryString {
            detail: error.to_string(),
        })
    });
    answer(services, request_id, &headers, parameters).await
}

async fn answer(
    services: &Services,
    request_id: &RequestId,
    headers: &HeaderMap,
    parameters: Result<QueryParameters, Rejection>,
) -> Response {
    let parameters = match parameters.and_then(check_action) {
        Ok(parameters) => parameters,
        Err(rejection) => {
            let error = FacadeError::from(rejection);
            log_rejection(request_id, &error);
            return error.xml_response(request_id);
        }
    };
    // The header wins; a presigned-style request carries the credential as a parameter.
    let scope = CredentialScope::from_headers(headers).or_else(|| {
        parameters
            .credential
            .as_deref()
            .and_then(CredentialScope::parse)
    });
    let caller = Caller::new(scope);
    let span =
        Operation::GetResourceRequestStatus.span(AwsService::CloudControl, request_id, headers);
    async move {
        let input = RequestTokenInput {
            request_token: parameters.request_token,
        };
        let outcome =
            cloudcontrol::get_resource_request_status(&services.resource_requests, &caller, input)
                .await;
        log_outcome(&outcome, ApiFamily::CloudControl);
        let mut response = match outcome {
            Ok(output) => xml::response(StatusCode::OK, document(&output, request_id)),
            Err(error) => error.xml_response(request_id),
        };
        // For the metrics layer.
        response
            .extensions_mut()
            .insert(Operation::GetResourceRequestStatus);
        response
    }
    .instrument(span)
    .await
}

/// Only `GetResourceRequestStatus` of version 2021-09-30 (or no version) is served.
fn check_action(parameters: QueryParameters) -> Result<QueryParameters, Rejection> {
    match parameters.action.as_deref() {
        None => return Err(Rejection::MissingAction),
        Some(action) if action == Operation::GetResourceRequestStatus.name() => {}
        Some(action) => {
            return Err(Rejection::InvalidAction {
                action: action.to_owned(),
            });
        }
    }
    match parameters.version.as_deref() {
        None | Some(CLOUD_CONTROL_VERSION) => Ok(parameters),
        Some(version) => Err(Rejection::NoSuchVersion {
            version: version.to_owned(),
        }),
    }
}

/// ISO-8601 with milliseconds. humantime writes 1970 to 9999 only; a time
/// outside (only a worker's `RetryAfter` could be) is clamped to that range
/// rather than failing the whole response.
fn iso8601_millis(time: EpochSeconds) -> String {
    const LAST_WRITABLE_MICROS: i64 = 253_402_300_799_999_000;
    let micros = time.0.as_micros().clamp(0, LAST_WRITABLE_MICROS);
    let system_time = UNIX_EPOCH + Duration::from_micros(micros.unsigned_abs());
    humantime::format_rfc3339_millis(system_time).to_string()
}

fn push_progress_event(document: &mut String, event: &ProgressEventShape) {
    let optional = |document: &mut String, name: &str, value: Option<&str>| {
        if let Some(value) = value {
            xml::push_element(document, name, value);
        }
    };
    document.push_str("<ProgressEvent>");
    xml::push_element(document, "TypeName", &event.type_name);
    optional(document, "Identifier", event.identifier.as_deref());
    xml::push_element(document, "RequestToken", &event.request_token);
    optional(
        document,
        "HooksRequestToken",
        event.hooks_request_token.as_deref(),
    );
    xml::push_element(document, "Operation", event.operation);
    xml::push_element(document, "OperationStatus", event.operation_status);
    xml::push_element(document, "EventTime", &iso8601_millis(event.event_time));
    optional(document, "ResourceModel", event.resource_model.as_deref());
    optional(document, "StatusMessage", event.status_message.as_deref());
    optional(document, "ErrorCode", event.error_code);
    optional(
        document,
        "RetryAfter",
        event.retry_after.map(iso8601_millis).as_deref(),
    );
    document.push_str("</ProgressEvent>");
}

/// The `GetResourceRequestStatusResponse` document. `HooksProgressEvent` is
/// always empty (statusgate runs no hooks) and, like the page's sample, left out.
fn document(output: &GetResourceRequestStatusOutput, request_id: &RequestId) -> String {
    let mut document = format!(
        "<GetResourceRequestStatusResponse xmlns=\"{CLOUD_CONTROL_XML_NAMESPACE}\"><GetResourceRequestStatusResult>"
    );
    push_progress_event(&mut document, &output.progress_event);
    document.push_str("</GetResourceRequestStatusResult><ResponseMetadata>");
    xml::push_element(&mut document, "RequestId", request_id.as_str());
    document.push_str("</ResponseMetadata></GetResourceRequestStatusResponse>");
    document
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    fn event_time(micros: i64) -> EpochSeconds {
        EpochSeconds(Timestamp::from_micros(micros))
    }

    #[test]
    fn timestamps_are_iso8601_with_milliseconds_and_clamped() {
        assert_eq!(
            iso8601_millis(event_time(1_627_411_977_406_123)),
            "2021-07-27T18:52:57.406Z"
        );
        assert_eq!(iso8601_millis(event_time(-5)), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso8601_millis(event_time(i64::MAX)),
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn the_document_has_the_shape_of_the_reference_page() {
        let request_id = RequestId::new();
        let output = GetResourceRequestStatusOutput {
            progress_event: ProgressEventShape {
                type_name: "AWS::Logs::LogGroup".into(),
                identifier: Some("LogGroupResourceExample".into()),
                request_token: "b4a1cc5a-a2ae-4dec-9e1e-150123456789".into(),
                hooks_request_token: None,
                operation: "CREATE",
                operation_status: "SUCCESS",
                event_time: event_time(1_627_411_977_406_000),
                resource_model: Some(r#"{"LogGroupName":"a&b"}"#.into()),
                status_message: None,
                error_code: None,
                retry_after: None,
            },
            hooks_progress_event: Vec::new(),
        };
        assert_eq!(
            document(&output, &request_id),
            format!(
                "<GetResourceRequestStatusResponse xmlns=\"http://cloudcontrolapi.amazonaws.com/doc/2021-09-30/\">\
                 <GetResourceRequestStatusResult><ProgressEvent>\
                 <TypeName>AWS::Logs::LogGroup</TypeName>\
                 <Identifier>LogGroupResourceExample</Identifier>\
                 <RequestToken>b4a1cc5a-a2ae-4dec-9e1e-150123456789</RequestToken>\
                 <Operation>CREATE</Operation><OperationStatus>SUCCESS</OperationStatus>\
                 <EventTime>2021-07-27T18:52:57.406Z</EventTime>\
                 <ResourceModel>{{&quot;LogGroupName&quot;:&quot;a&amp;b&quot;}}</ResourceModel>\
                 </ProgressEvent></GetResourceRequestStatusResult>\
                 <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
                 </GetResourceRequestStatusResponse>"
            )
        );
    }

    #[test]
    fn only_get_resource_request_status_of_this_version_is_served() {
        let parameters = |action: Option<&str>, version: Option<&str>| QueryParameters {
            action: action.map(str::to_owned),
            version: version.map(str::to_owned),
            ..QueryParameters::default()
        };
        assert!(check_action(parameters(Some("GetResourceRequestStatus"), None)).is_ok());
        assert!(
            check_action(parameters(
                Some("GetResourceRequestStatus"),
                Some("2021-09-30")
            ))
            .is_ok()
        );
        assert_eq!(
            check_action(parameters(None, None)).unwrap_err(),
            Rejection::MissingAction
        );
        assert_eq!(
            check_action(parameters(Some("ListResourceRequests"), None)).unwrap_err(),
            Rejection::InvalidAction {
                action: "ListResourceRequests".into()
            }
        );
        assert_eq!(
            check_action(parameters(
                Some("GetResourceRequestStatus"),
                Some("2010-05-08")
            ))
            .unwrap_err(),
            Rejection::NoSuchVersion {
                version: "2010-05-08".into()
            }
        );
    }

    #[test]
    fn form_content_types_are_recognised_with_a_charset() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, value.parse().unwrap());
            is_form(&headers)
        };
        assert!(with("application/x-www-form-urlencoded"));
        assert!(with("application/x-www-form-urlencoded; charset=utf-8"));
        assert!(with("Application/X-WWW-Form-Urlencoded;charset=UTF-8"));
        assert!(!with("application/x-amz-json-1.0"));
        assert!(!is_form(&HeaderMap::new()));
    }
}
