//! Every error the facade answers with, mapped once to the AWS wire forms.
//! Two sources, joined in [`FacadeError`]: domain errors
//! ([`crate::domain::Error`], keyed on their [`ErrorCode`]) and the
//! facade's own protocol rejections ([`Rejection`]: unknown target,
//! unreadable body, ...), which never become domain errors. Both become an
//! [`AwsError`] (name, HTTP status, message member), rendered as an awsJson
//! body with `x-amzn-ErrorType`, or as the query protocol's XML
//! `ErrorResponse`. The HTTP status and message member of each domain error
//! are one table, [`status_and_message_member`]: the message member as the
//! AWS models name it (`message` or `Message`: the models differ), and the
//! status real AWS endpoints answer with; its test spells the table out row
//! by row.

use axum::http::{HeaderName, HeaderValue, StatusCode, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::xml;
use crate::domain::{ApiFamily, Error, ErrorCode, FieldViolation};
use crate::http::protocol::{AWS_JSON_1_1, AwsService, MAX_BODY_BYTES, Rejection};
use crate::http::request_id::RequestId;
use crate::metrics::Outcome;

pub static ERROR_TYPE_HEADER: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// Why a facade call failed.
#[derive(Debug)]
pub enum FacadeError {
    Domain(Error),
    Rejected(Rejection),
}

impl From<Error> for FacadeError {
    fn from(error: Error) -> Self {
        Self::Domain(error)
    }
}

impl From<Rejection> for FacadeError {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(rejection)
    }
}

/// The JSON member an error's message travels in: the AWS models differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageMember {
    /// `message`
    Lower,
    /// `Message`
    Upper,
}

/// The HTTP status and message member of each error code, as the API family
/// the caller spoke to writes them.
pub const fn status_and_message_member(
    code: ErrorCode,
    family: ApiFamily,
) -> (StatusCode, MessageMember) {
    use MessageMember::{Lower, Upper};
    match code {
        // WAFInvalidParameterException and ValidationException: `message`.
        ErrorCode::InvalidParameter | ErrorCode::InvalidRequestState => {
            (StatusCode::BAD_REQUEST, Lower)
        }
        ErrorCode::ChangeTokenNotFound | ErrorCode::ChangeTokenAlreadyUsed => {
            (StatusCode::BAD_REQUEST, Lower)
        }
        // WAFInvalidOperationException: the WAF model gives it a lower-case
        // message and 400.
        ErrorCode::ChangeTokenNotUsed => (StatusCode::BAD_REQUEST, Lower),
        // The Smithy model says 404; the Cloud Control API reference says 400,
        // and so does statusgate.
        ErrorCode::RequestTokenNotFound => (StatusCode::BAD_REQUEST, Upper),
        ErrorCode::ClientTokenConflict => (StatusCode::BAD_REQUEST, Upper),
        // Cloud Control's model gives these one member, `Message`, and no
        // status: client errors are 400.
        ErrorCode::ResourceNotFound | ErrorCode::TypeNotFound | ErrorCode::ConcurrentOperation => {
            (StatusCode::BAD_REQUEST, Upper)
        }
        // The facade never produces it (workers speak gRPC); a client error
        // in the Cloud Control style if it ever did.
        ErrorCode::LeaseLost => (StatusCode::BAD_REQUEST, Upper),
        ErrorCode::Throttling => (StatusCode::BAD_REQUEST, Upper),
        // WAFInternalErrorException has `message`, ServiceInternalErrorException `Message`.
        ErrorCode::DatabaseUnavailable | ErrorCode::Internal => match family {
            ApiFamily::Waf => (StatusCode::INTERNAL_SERVER_ERROR, Lower),
            ApiFamily::CloudControl => (StatusCode::INTERNAL_SERVER_ERROR, Upper),
        },
        ErrorCode::ServiceUnavailable => (StatusCode::SERVICE_UNAVAILABLE, Lower),
    }
}

/// The extra members of `WAFInvalidParameterException`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidParameter {
    /// The member in the upper snake case of the WAF `ParameterExceptionField`
    /// enum (`CHANGE_TOKEN`); SDKs keep values outside the enum as unknown.
    pub field: String,
    /// The member as the model names it (`ChangeToken`).
    pub parameter: String,
    /// `ParameterExceptionReason`: always `ILLEGAL_ARGUMENT` here.
    pub reason: &'static str,
}

impl InvalidParameter {
    fn from_violation(violation: &FieldViolation) -> Self {
        Self {
            field: violation.member_snake_case().to_ascii_uppercase(),
            parameter: violation.member.to_owned(),
            reason: "ILLEGAL_ARGUMENT",
        }
    }
}

/// The awsJson error body, `__type` first as AWS writes it.
#[derive(Serialize)]
struct JsonErrorBody<'a> {
    #[serde(rename = "__type")]
    type_name: &'a str,
    #[serde(rename = "message", skip_serializing_if = "Option::is_none")]
    lower_case_message: Option<&'a str>,
    #[serde(rename = "Message", skip_serializing_if = "Option::is_none")]
    upper_case_message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// An error in AWS terms, ready to be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The bare error name (`RequestTokenNotFoundException`).
    pub name: &'static str,
    pub status: StatusCode,
    pub message_member: MessageMember,
    pub message: String,
    pub invalid_parameter: Option<InvalidParameter>,
}

impl AwsError {
    pub fn from_domain(error: &Error, family: ApiFamily) -> Self {
        let (status, message_member) = status_and_message_member(error.code, family);
        let invalid_parameter = match (error.code, family) {
            (ErrorCode::InvalidParameter, ApiFamily::Waf) => Some(match &error.violation {
                Some(violation) => InvalidParameter::from_violation(violation),
                None => InvalidParameter {
                    field: String::new(),
                    parameter: String::new(),
                    reason: "ILLEGAL_ARGUMENT",
                },
            }),
            _ => None,
        };
        Self {
            name: error.code.aws_name(family),
            status,
            message_member,
            message: error.message.clone(),
            invalid_parameter,
        }
    }

    pub fn from_rejection(rejection: &Rejection) -> Self {
        let (name, status, message) = match rejection {
            Rejection::Auth(failure) => return super::auth::aws_error(failure),
            Rejection::MissingTarget => (
                "UnknownOperationException",
                StatusCode::BAD_REQUEST,
                "missing X-Amz-Target header".to_owned(),
            ),
            Rejection::UnknownOperation { target } => (
                "UnknownOperationException",
                StatusCode::BAD_REQUEST,
                format!("unknown operation {target:?}"),
            ),
            Rejection::NoRoute => (
                "UnknownOperationException",
                StatusCode::BAD_REQUEST,
                "operations are served by POST / (AWS JSON) or GET / (query form)".to_owned(),
            ),
            Rejection::BodyTooLarge => (
                "SerializationException",
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            ),
            Rejection::BodyTimedOut { timeout } => (
                "RequestTimeoutException",
                StatusCode::REQUEST_TIMEOUT,
                format!("request body did not arrive within {timeout:?}"),
            ),
            Rejection::UnreadableBody => (
                "SerializationException",
                StatusCode::BAD_REQUEST,
                "request body could not be read".to_owned(),
            ),
            Rejection::MalformedJson { detail } => (
                "SerializationException",
                StatusCode::BAD_REQUEST,
                format!("request body is not valid JSON: {detail}"),
            ),
            Rejection::NotAnObject => (
                "SerializationException",
                StatusCode::BAD_REQUEST,
                "request body must be a JSON object".to_owned(),
            ),
            Rejection::WrongMemberType { member, detail } => (
                "SerializationException",
                StatusCode::BAD_REQUEST,
                format!("member {member} has the wrong type: {detail}"),
            ),
            Rejection::MissingAction => (
                "MissingAction",
                StatusCode::BAD_REQUEST,
                "the request must contain the parameter Action".to_owned(),
            ),
            Rejection::InvalidAction { action } => (
                "InvalidAction",
                StatusCode::BAD_REQUEST,
                format!("the action {action:?} is not served in the query form"),
            ),
            Rejection::NoSuchVersion { version } => (
                "NoSuchVersion",
                StatusCode::BAD_REQUEST,
                format!("version {version:?} is not served; use 2021-09-30"),
            ),
            Rejection::MalformedQueryString { detail } => (
                "MalformedQueryString",
                StatusCode::BAD_REQUEST,
                format!("query parameters do not decode: {detail}"),
            ),
            Rejection::Panicked => (
                "InternalFailure",
                StatusCode::INTERNAL_SERVER_ERROR,
                "an internal error occurred; retry the request".to_owned(),
            ),
        };
        Self {
            name,
            status,
            message_member: MessageMember::Lower,
            message,
            invalid_parameter: None,
        }
    }

    /// `{"__type": ..., "<message member>": ...}` with `x-amzn-ErrorType`.
    /// `namespace` prefixes the name (`com.amazonaws.cloudcontrol#Name`).
    pub fn json_response(&self, namespace: Option<&str>, content_type: &'static str) -> Response {
        let type_name = match namespace {
            Some(namespace) => format!("{namespace}#{}", self.name),
            None => self.name.to_owned(),
        };
        let message = Some(self.message.as_str());
        let invalid = self.invalid_parameter.as_ref();
        let body = JsonErrorBody {
            type_name: &type_name,
            lower_case_message: message.filter(|_| self.message_member == MessageMember::Lower),
            upper_case_message: message.filter(|_| self.message_member == MessageMember::Upper),
            field: invalid.map(|invalid| invalid.field.as_str()),
            parameter: invalid.map(|invalid| invalid.parameter.as_str()),
            reason: invalid.map(|invalid| invalid.reason),
        };
        // Serialising borrowed strings into a Vec cannot fail.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (
            self.status,
            [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response();
        // Error names are ASCII identifiers; a failure here would be a bug in
        // `ErrorCode::aws_name` or `from_rejection`, and the body still
        // carries the name.
        if let Ok(value) = HeaderValue::from_str(&type_name) {
            response
                .headers_mut()
                .insert(ERROR_TYPE_HEADER.clone(), value);
        }
        response
    }

    /// The query protocol's `ErrorResponse` document.
    pub fn xml_response(&self, request_id: &RequestId) -> Response {
        let fault = if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let mut document = String::new();
        document.push_str("<ErrorResponse><Error>");
        xml::push_element(&mut document, "Type", fault);
        xml::push_element(&mut document, "Code", self.name);
        xml::push_element(&mut document, "Message", &self.message);
        document.push_str("</Error>");
        xml::push_element(&mut document, "RequestId", request_id.as_str());
        document.push_str("</ErrorResponse>");
        xml::response(self.status, document)
    }
}

impl FacadeError {
    fn to_aws(&self, family: ApiFamily) -> (AwsError, bool) {
        match self {
            Self::Domain(error) => (AwsError::from_domain(error, family), true),
            Self::Rejected(rejection) => (AwsError::from_rejection(rejection), false),
        }
    }

    /// How the metrics count this failure.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Domain(error) => Outcome::of(error.code),
            Self::Rejected(Rejection::Panicked) => Outcome::ServerError,
            Self::Rejected(_) => Outcome::ClientError,
        }
    }

    /// The name and status, for the request's log line.
    pub fn summary(&self, family: ApiFamily) -> (&'static str, StatusCode) {
        let (aws, _) = self.to_aws(family);
        (aws.name, aws.status)
    }

    /// The awsJson answer, carrying its [`Outcome`] for the metrics layer.
    /// Modelled (domain) errors carry the service's namespace; protocol
    /// rejections are framework errors and stay bare. Without a service
    /// (refused before routing) only errors whose names are the same in
    /// every family occur: throttling, timeouts, rejections.
    pub fn json_response(&self, service: Option<AwsService>) -> Response {
        let family = service.map_or(ApiFamily::CloudControl, AwsService::family);
        let (aws, modelled) = self.to_aws(family);
        let namespace = if modelled {
            service.and_then(AwsService::error_namespace)
        } else {
            None
        };
        let content_type = service.map_or(AWS_JSON_1_1, AwsService::content_type);
        let mut response = aws.json_response(namespace, content_type);
        response.extensions_mut().insert(self.outcome());
        response
    }

    /// The query form's XML answer; that form serves Cloud Control only.
    pub fn xml_response(&self, request_id: &RequestId) -> Response {
        let (aws, _) = self.to_aws(ApiFamily::CloudControl);
        let mut response = aws.xml_response(request_id);
        response.extensions_mut().insert(self.outcome());
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::Value;

    /// The JSON member name of a message member.
    fn key(member: MessageMember) -> &'static str {
        match member {
            MessageMember::Lower => "message",
            MessageMember::Upper => "Message",
        }
    }

    async fn body_of(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    const WAF: ApiFamily = ApiFamily::Waf;
    const CLOUD_CONTROL: ApiFamily = ApiFamily::CloudControl;

    #[test]
    fn every_error_code_has_the_status_and_message_member_of_the_table() {
        // (code, family, HTTP status, message member): every code in the
        // family it occurs in, the generic ones in both.
        let table = [
            (ErrorCode::ChangeTokenNotFound, WAF, 400, "message"),
            (ErrorCode::ChangeTokenAlreadyUsed, WAF, 400, "message"),
            (ErrorCode::InvalidParameter, WAF, 400, "message"),
            (ErrorCode::ChangeTokenNotUsed, WAF, 400, "message"),
            (ErrorCode::Internal, WAF, 500, "message"),
            (ErrorCode::DatabaseUnavailable, WAF, 500, "message"),
            (
                ErrorCode::RequestTokenNotFound,
                CLOUD_CONTROL,
                400,
                "Message",
            ),
            (
                ErrorCode::ClientTokenConflict,
                CLOUD_CONTROL,
                400,
                "Message",
            ),
            (ErrorCode::InvalidParameter, CLOUD_CONTROL, 400, "message"),
            (
                ErrorCode::InvalidRequestState,
                CLOUD_CONTROL,
                400,
                "message",
            ),
            (ErrorCode::Internal, CLOUD_CONTROL, 500, "Message"),
            (
                ErrorCode::DatabaseUnavailable,
                CLOUD_CONTROL,
                500,
                "Message",
            ),
            (ErrorCode::LeaseLost, CLOUD_CONTROL, 400, "Message"),
            (ErrorCode::ResourceNotFound, CLOUD_CONTROL, 400, "Message"),
            (ErrorCode::TypeNotFound, CLOUD_CONTROL, 400, "Message"),
            (
                ErrorCode::ConcurrentOperation,
                CLOUD_CONTROL,
                400,
                "Message",
            ),
            (ErrorCode::Throttling, CLOUD_CONTROL, 400, "Message"),
            (ErrorCode::Throttling, WAF, 400, "Message"),
            (ErrorCode::ServiceUnavailable, CLOUD_CONTROL, 503, "message"),
            (ErrorCode::ServiceUnavailable, WAF, 503, "message"),
        ];
        for code in ErrorCode::ALL {
            assert!(
                table.iter().any(|(listed, ..)| *listed == code),
                "the table covers {code:?}"
            );
        }
        for (code, family, status, member) in table {
            let (actual_status, actual_member) = status_and_message_member(code, family);
            assert_eq!(actual_status.as_u16(), status, "{code:?} {family:?}");
            assert_eq!(key(actual_member), member, "{code:?} {family:?}");
        }
    }

    #[tokio::test]
    async fn domain_errors_render_name_status_member_and_header() {
        for code in ErrorCode::ALL {
            let error = Error::new(code, "what happened");
            for (service, expected_type) in [
                (AwsService::Waf, code.aws_name(WAF).to_owned()),
                (
                    AwsService::CloudControl,
                    format!(
                        "com.amazonaws.cloudcontrol#{}",
                        code.aws_name(CLOUD_CONTROL)
                    ),
                ),
            ] {
                let (status, member) = status_and_message_member(code, service.family());
                let response = FacadeError::Domain(error.clone()).json_response(Some(service));
                assert_eq!(response.status(), status, "{code:?}");
                assert_eq!(
                    response.headers()[CONTENT_TYPE],
                    service.content_type(),
                    "{code:?}"
                );
                assert_eq!(
                    response.headers()[&ERROR_TYPE_HEADER],
                    expected_type.as_str()
                );
                assert_eq!(
                    response.extensions().get::<Outcome>(),
                    Some(&Outcome::of(code))
                );
                let body = body_of(response).await;
                assert_eq!(body["__type"], expected_type.as_str(), "{code:?}");
                assert_eq!(body[key(member)], "what happened", "{code:?}");
                assert!(body.get("code").is_none() && body.get("Code").is_none());
            }
        }
    }

    #[tokio::test]
    async fn invalid_waf_parameters_name_field_parameter_and_reason() {
        let error = Error::invalid_input(FieldViolation::invalid(
            "ChangeToken",
            "   ",
            "Member must satisfy regular expression pattern: .*\\S.*",
        ));
        let response = FacadeError::Domain(error).json_response(Some(AwsService::Waf));
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8(bytes.to_vec()).unwrap(),
            r#"{"__type":"WAFInvalidParameterException","message":"1 validation error detected: Value '   ' at 'changeToken' failed to satisfy constraint: Member must satisfy regular expression pattern: .*\\S.*","field":"CHANGE_TOKEN","parameter":"ChangeToken","reason":"ILLEGAL_ARGUMENT"}"#
        );
    }

    #[tokio::test]
    async fn rejections_are_bare_json_client_errors() {
        // (rejection, name, status)
        let table = [
            (Rejection::MissingTarget, "UnknownOperationException", 400),
            (
                Rejection::UnknownOperation {
                    target: "X.Y".into(),
                },
                "UnknownOperationException",
                400,
            ),
            (Rejection::NoRoute, "UnknownOperationException", 400),
            (Rejection::BodyTooLarge, "SerializationException", 413),
            (Rejection::UnreadableBody, "SerializationException", 400),
            (
                Rejection::BodyTimedOut {
                    timeout: std::time::Duration::from_secs(5),
                },
                "RequestTimeoutException",
                408,
            ),
            (
                Rejection::MalformedJson { detail: "x".into() },
                "SerializationException",
                400,
            ),
            (Rejection::NotAnObject, "SerializationException", 400),
            (
                Rejection::WrongMemberType {
                    member: "ChangeToken".into(),
                    detail: "x".into(),
                },
                "SerializationException",
                400,
            ),
            (Rejection::MissingAction, "MissingAction", 400),
            (
                Rejection::InvalidAction { action: "X".into() },
                "InvalidAction",
                400,
            ),
            (
                Rejection::NoSuchVersion {
                    version: "1".into(),
                },
                "NoSuchVersion",
                400,
            ),
            (
                Rejection::MalformedQueryString { detail: "x".into() },
                "MalformedQueryString",
                400,
            ),
            (Rejection::Panicked, "InternalFailure", 500),
        ];
        for (rejection, name, status) in table {
            let response = FacadeError::Rejected(rejection.clone())
                .json_response(Some(AwsService::CloudControl));
            assert_eq!(response.status().as_u16(), status, "{rejection:?}");
            let body = body_of(response).await;
            assert_eq!(body["__type"], name, "{rejection:?}");
            assert!(body["message"].is_string(), "{rejection:?}");
        }
    }

    #[tokio::test]
    async fn xml_errors_say_who_is_at_fault() {
        let request_id = RequestId::new();
        let not_found = Error::new(
            ErrorCode::RequestTokenNotFound,
            "Request with token <x> was not found",
        );
        let response = FacadeError::Domain(not_found).xml_response(&request_id);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/xml");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8(bytes.to_vec()).unwrap(),
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>RequestTokenNotFoundException</Code>\
                 <Message>Request with token &lt;x&gt; was not found</Message></Error>\
                 <RequestId>{request_id}</RequestId></ErrorResponse>"
            )
        );
        let internal = FacadeError::Domain(Error::internal());
        let response = internal.xml_response(&request_id);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&bytes).contains("<Type>Receiver</Type>"));
    }
}
