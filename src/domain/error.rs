//! The one error vocabulary of statusgate. Every failure a caller can see is an
//! [`Error`]: an AWS error name ([`ErrorCode`]), a transport-neutral category
//! ([`ErrorKind`], which the gRPC layer maps to a status code) and a message.
//! Each transport maps this type once (`grpc::status`, `http::error`).

use std::fmt;

/// Which AWS API family an operation belongs to; it decides the names of the
/// generic errors (invalid input, internal failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// WAF Classic and WAF Regional: `WAF*Exception` names.
    Waf,
    /// Cloud Control: `ValidationException`, `ServiceInternalErrorException`, ...
    CloudControl,
}

/// The AWS error names statusgate answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    WafNonexistentItem,
    WafStaleData,
    WafInvalidParameter,
    WafInvalidOperation,
    WafInternalError,
    RequestTokenNotFound,
    ClientTokenConflict,
    Validation,
    ConcurrentModification,
    ServiceInternalError,
    Throttling,
    ServiceUnavailable,
}

impl ErrorCode {
    /// The AWS error name (`__type` on the facade, `ErrorInfo.reason` on gRPC).
    pub const fn aws_name(self) -> &'static str {
        match self {
            Self::WafNonexistentItem => "WAFNonexistentItemException",
            Self::WafStaleData => "WAFStaleDataException",
            Self::WafInvalidParameter => "WAFInvalidParameterException",
            Self::WafInvalidOperation => "WAFInvalidOperationException",
            Self::WafInternalError => "WAFInternalErrorException",
            Self::RequestTokenNotFound => "RequestTokenNotFoundException",
            Self::ClientTokenConflict => "ClientTokenConflictException",
            Self::Validation => "ValidationException",
            Self::ConcurrentModification => "ConcurrentModificationException",
            Self::ServiceInternalError => "ServiceInternalErrorException",
            Self::Throttling => "ThrottlingException",
            Self::ServiceUnavailable => "ServiceUnavailable",
        }
    }
}

/// What kind of failure it is, independent of any transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is malformed; retrying it unchanged can never succeed.
    InvalidArgument,
    NotFound,
    /// The input is well formed but the target is in the wrong state.
    FailedPrecondition,
    AlreadyExists,
    /// Lost a race with a concurrent writer; retrying may succeed.
    Aborted,
    /// Overloaded; retry later.
    ResourceExhausted,
    /// The database cannot be reached; retry later.
    Unavailable,
    Internal,
}

/// One member that failed a model constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The AWS member name, as in the model (`RequestToken`).
    pub member: &'static str,
    /// The offending value as the caller sent it; `None` when it was missing.
    pub value: Option<String>,
    /// AWS wording of the constraint (`Member must have length less than or equal to 128`).
    pub constraint: String,
}

impl FieldViolation {
    pub fn missing(member: &'static str) -> Self {
        Self {
            member,
            value: None,
            constraint: "Member must not be null".to_owned(),
        }
    }

    pub fn invalid(member: &'static str, value: &str, constraint: impl Into<String>) -> Self {
        // Echoing a 256 KiB document back in an error helps nobody.
        const MAX_ECHOED_CHARS: usize = 256;
        let echoed: String = value.chars().take(MAX_ECHOED_CHARS).collect();
        Self {
            member,
            value: Some(echoed),
            constraint: constraint.into(),
        }
    }

    /// The member name as AWS writes it in messages (`requestToken`).
    pub fn member_lower_camel(&self) -> String {
        let mut chars = self.member.chars();
        match chars.next() {
            Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
            None => String::new(),
        }
    }

    /// The member name as the protobuf field (`request_token`).
    pub fn member_snake_case(&self) -> String {
        let mut snake = String::with_capacity(self.member.len() + 4);
        for (index, character) in self.member.chars().enumerate() {
            if character.is_ascii_uppercase() {
                if index > 0 {
                    snake.push('_');
                }
                snake.push(character.to_ascii_lowercase());
            } else {
                snake.push(character);
            }
        }
        snake
    }

    /// `1 validation error detected: Value 'x' at 'requestToken' failed to satisfy constraint: ...`
    pub fn aws_message(&self) -> String {
        let value = match &self.value {
            Some(value) => format!("'{value}'"),
            None => "null".to_owned(),
        };
        format!(
            "1 validation error detected: Value {value} at '{}' failed to satisfy constraint: {}",
            self.member_lower_camel(),
            self.constraint
        )
    }
}

/// An error a caller sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub kind: ErrorKind,
    pub message: String,
    /// Set for invalid input: the member at fault.
    pub violation: Option<FieldViolation>,
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.code.aws_name(), self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    pub fn new(code: ErrorCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            code,
            kind,
            message: message.into(),
            violation: None,
        }
    }

    /// A member violates the model: `WAFInvalidParameterException` or `ValidationException`.
    pub fn invalid_input(api: Api, violation: FieldViolation) -> Self {
        let code = match api {
            Api::Waf => ErrorCode::WafInvalidParameter,
            Api::CloudControl => ErrorCode::Validation,
        };
        Self {
            code,
            kind: ErrorKind::InvalidArgument,
            message: violation.aws_message(),
            violation: Some(violation),
        }
    }

    /// The database cannot be reached: retryable.
    pub fn unavailable(api: Api) -> Self {
        let code = match api {
            Api::Waf => ErrorCode::WafInternalError,
            Api::CloudControl => ErrorCode::ServiceInternalError,
        };
        Self::new(
            code,
            ErrorKind::Unavailable,
            "The service is temporarily unable to reach its database; retry the request",
        )
    }

    /// An unexpected failure; the cause has been logged, the caller gets an opaque message.
    pub fn internal(api: Api) -> Self {
        let code = match api {
            Api::Waf => ErrorCode::WafInternalError,
            Api::CloudControl => ErrorCode::ServiceInternalError,
        };
        Self::new(
            code,
            ErrorKind::Internal,
            "An internal error occurred; retry the request",
        )
    }

    /// Whether a caller may retry the same request unchanged.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Aborted
                | ErrorKind::ResourceExhausted
                | ErrorKind::Unavailable
                | ErrorKind::Internal
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_convert_to_aws_and_protobuf_forms() {
        let cases = [
            ("RequestToken", "requestToken", "request_token"),
            ("MaxResults", "maxResults", "max_results"),
            ("ChangeToken", "changeToken", "change_token"),
            ("TypeName", "typeName", "type_name"),
        ];
        for (member, camel, snake) in cases {
            let violation = FieldViolation::missing(member);
            assert_eq!(violation.member_lower_camel(), camel);
            assert_eq!(violation.member_snake_case(), snake);
        }
    }

    #[test]
    fn validation_message_follows_aws_wording() {
        let violation = FieldViolation::invalid(
            "RequestToken",
            "a b",
            "Member must satisfy regular expression pattern: [-A-Za-z0-9+/=]+",
        );
        assert_eq!(
            violation.aws_message(),
            "1 validation error detected: Value 'a b' at 'requestToken' failed to satisfy constraint: Member must satisfy regular expression pattern: [-A-Za-z0-9+/=]+"
        );
        assert_eq!(
            FieldViolation::missing("RequestToken").aws_message(),
            "1 validation error detected: Value null at 'requestToken' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn generic_errors_take_the_name_of_their_api_family() {
        let cases = [
            (
                Api::Waf,
                "WAFInvalidParameterException",
                "WAFInternalErrorException",
            ),
            (
                Api::CloudControl,
                "ValidationException",
                "ServiceInternalErrorException",
            ),
        ];
        for (api, invalid, internal) in cases {
            let violation = FieldViolation::missing("ChangeToken");
            assert_eq!(
                Error::invalid_input(api, violation).code.aws_name(),
                invalid
            );
            assert_eq!(Error::internal(api).code.aws_name(), internal);
            assert_eq!(Error::unavailable(api).code.aws_name(), internal);
            assert_eq!(Error::unavailable(api).kind, ErrorKind::Unavailable);
        }
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(10_000);
        let violation = FieldViolation::invalid(
            "DesiredState",
            &long,
            "Member must have length less than or equal to 262144",
        );
        assert_eq!(violation.value.as_deref().map(str::len), Some(256));
    }
}
