//! The query form's success answer: the `GetResourceRequestStatusResponse`
//! document of the Cloud Control reference page (`text/xml`, ISO-8601
//! timestamps with milliseconds).

use std::time::{Duration, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::Response;

use super::xml;
use crate::http::request_id::RequestId;
use crate::http::shapes::{
    EpochSeconds, GetResourceRequestStatusOutput, HookProgressEventShape, ProgressEventShape,
};

const CLOUD_CONTROL_XML_NAMESPACE: &str = "http://cloudcontrolapi.amazonaws.com/doc/2021-09-30/";

/// `200 OK` with the [`document`] of `output`.
pub fn xml_success(output: &GetResourceRequestStatusOutput, request_id: &RequestId) -> Response {
    xml::response(StatusCode::OK, document(output, request_id))
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

fn push_hook_event(document: &mut String, hook: &HookProgressEventShape) {
    let optional = |document: &mut String, name: &str, value: Option<&str>| {
        if let Some(value) = value {
            xml::push_element(document, name, value);
        }
    };
    document.push_str("<member>");
    xml::push_element(document, "HookTypeName", &hook.hook_type_name);
    optional(
        document,
        "HookTypeVersionId",
        hook.hook_type_version_id.as_deref(),
    );
    optional(document, "HookTypeArn", hook.hook_type_arn.as_deref());
    xml::push_element(document, "InvocationPoint", &hook.invocation_point);
    xml::push_element(document, "HookStatus", &hook.hook_status);
    xml::push_element(
        document,
        "HookEventTime",
        &iso8601_millis(hook.hook_event_time),
    );
    optional(
        document,
        "HookStatusMessage",
        hook.hook_status_message.as_deref(),
    );
    optional(document, "FailureMode", hook.failure_mode.as_deref());
    document.push_str("</member>");
}

/// The `GetResourceRequestStatusResponse` document. An empty
/// `HooksProgressEvent` is, like the page's sample, left out; hook events
/// are `<member>`s, as the query protocol writes lists.
fn document(output: &GetResourceRequestStatusOutput, request_id: &RequestId) -> String {
    let mut document = format!(
        "<GetResourceRequestStatusResponse xmlns=\"{CLOUD_CONTROL_XML_NAMESPACE}\"><GetResourceRequestStatusResult>"
    );
    push_progress_event(&mut document, &output.progress_event);
    if !output.hooks_progress_event.is_empty() {
        document.push_str("<HooksProgressEvent>");
        for hook in &output.hooks_progress_event {
            push_hook_event(&mut document, hook);
        }
        document.push_str("</HooksProgressEvent>");
    }
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
}
