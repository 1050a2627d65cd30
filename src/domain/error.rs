//! The one error vocabulary of statusgate. Every failure a caller can see is an
//! [`Error`]: an [`ErrorCode`] that says what went wrong, a message, and for
//! invalid input the member at fault. The code alone decides everything a
//! transport sends: the AWS error name ([`ErrorCode::aws_name`], given the API
//! family the caller spoke to), the gRPC code (`grpc::status`), the HTTP
//! status and message member (`http::render`) and the metrics outcome
//! (`metrics::Outcome::of`). Each of those is a total `match` over the code,
//! so a new code cannot be forgotten by one transport.
//!
//! The services return errors without knowing which API family asked; the
//! transports name the family when they render (WAF for change tokens,
//! Cloud Control for resource requests).

use std::fmt;

/// The AWS API families statusgate speaks for. Generic failures (invalid
/// input, internal errors) have a different name in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiFamily {
    /// WAF Classic and WAF Regional: `WAF*Exception` names.
    Waf,
    /// Cloud Control: `ValidationException`, `ServiceInternalErrorException`, ...
    CloudControl,
}

/// What went wrong, independent of any transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A member violates the model (length, pattern, enum, a missing member).
    InvalidParameter,
    /// The request is well formed but its target is in a status that forbids
    /// it ("Request X is already in status SUCCESS").
    InvalidRequestState,
    /// No change token with this value in the caller's scope.
    ChangeTokenNotFound,
    /// The change token was already used in a change.
    ChangeTokenAlreadyUsed,
    /// The change token has not been used in a change yet.
    ChangeTokenNotUsed,
    /// No request with this token in the caller's account.
    RequestTokenNotFound,
    /// The client token belongs to a request with other input.
    ClientTokenConflict,
    /// No resource of this type with this identifier in the caller's
    /// account and region.
    ResourceNotFound,
    /// `--known-types-only` and a type the resource type table lacks.
    TypeNotFound,
    /// Another `UPDATE` or `DELETE` of the resource is not finished.
    ConcurrentOperation,
    /// A worker's write names a lease it does not hold (any more): another
    /// worker claimed the request, the request is leased and the write
    /// carries no token, or the request is finished.
    LeaseLost,
    /// Shed under load; retry with backoff.
    Throttling,
    /// The database cannot be reached; retry later.
    DatabaseUnavailable,
    /// The request did not complete in time, or the server is shutting down.
    ServiceUnavailable,
    /// An unexpected failure; its cause has been logged.
    Internal,
}

impl ErrorCode {
    pub const ALL: [Self; 15] = [
        Self::InvalidParameter,
        Self::InvalidRequestState,
        Self::ChangeTokenNotFound,
        Self::ChangeTokenAlreadyUsed,
        Self::ChangeTokenNotUsed,
        Self::RequestTokenNotFound,
        Self::ClientTokenConflict,
        Self::ResourceNotFound,
        Self::TypeNotFound,
        Self::ConcurrentOperation,
        Self::LeaseLost,
        Self::Throttling,
        Self::DatabaseUnavailable,
        Self::ServiceUnavailable,
        Self::Internal,
    ];

    /// The AWS error name (`__type` on the facade, `ErrorInfo.reason` on
    /// gRPC) as the given API family spells it.
    pub const fn aws_name(self, family: ApiFamily) -> &'static str {
        match self {
            Self::InvalidParameter => match family {
                ApiFamily::Waf => "WAFInvalidParameterException",
                ApiFamily::CloudControl => "ValidationException",
            },
            Self::InvalidRequestState => "ValidationException",
            Self::ChangeTokenNotFound => "WAFNonexistentItemException",
            Self::ChangeTokenAlreadyUsed => "WAFStaleDataException",
            Self::ChangeTokenNotUsed => "WAFInvalidOperationException",
            Self::RequestTokenNotFound => "RequestTokenNotFoundException",
            Self::ClientTokenConflict => "ClientTokenConflictException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::TypeNotFound => "TypeNotFoundException",
            Self::ConcurrentOperation => "ConcurrentOperationException",
            Self::LeaseLost => "LeaseLostException",
            Self::Throttling => "ThrottlingException",
            Self::DatabaseUnavailable | Self::Internal => match family {
                ApiFamily::Waf => "WAFInternalErrorException",
                ApiFamily::CloudControl => "ServiceInternalErrorException",
            },
            Self::ServiceUnavailable => "ServiceUnavailable",
        }
    }
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
    pub message: String,
    /// Set for invalid input: the member at fault.
    pub violation: Option<FieldViolation>,
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            violation: None,
        }
    }

    /// A member violates the model.
    pub fn invalid_input(violation: FieldViolation) -> Self {
        Self {
            code: ErrorCode::InvalidParameter,
            message: violation.aws_message(),
            violation: Some(violation),
        }
    }

    /// The database cannot be reached: retryable.
    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::DatabaseUnavailable,
            "The service is temporarily unable to reach its database; retry the request",
        )
    }

    /// An unexpected failure; the cause has been logged, the caller gets an opaque message.
    pub fn internal() -> Self {
        Self::new(
            ErrorCode::Internal,
            "An internal error occurred; retry the request",
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
    fn every_code_has_its_aws_name_in_each_family() {
        // (code, WAF name, Cloud Control name)
        let table = [
            (
                ErrorCode::InvalidParameter,
                "WAFInvalidParameterException",
                "ValidationException",
            ),
            (
                ErrorCode::InvalidRequestState,
                "ValidationException",
                "ValidationException",
            ),
            (
                ErrorCode::ChangeTokenNotFound,
                "WAFNonexistentItemException",
                "WAFNonexistentItemException",
            ),
            (
                ErrorCode::ChangeTokenAlreadyUsed,
                "WAFStaleDataException",
                "WAFStaleDataException",
            ),
            (
                ErrorCode::ChangeTokenNotUsed,
                "WAFInvalidOperationException",
                "WAFInvalidOperationException",
            ),
            (
                ErrorCode::RequestTokenNotFound,
                "RequestTokenNotFoundException",
                "RequestTokenNotFoundException",
            ),
            (
                ErrorCode::ClientTokenConflict,
                "ClientTokenConflictException",
                "ClientTokenConflictException",
            ),
            (
                ErrorCode::ResourceNotFound,
                "ResourceNotFoundException",
                "ResourceNotFoundException",
            ),
            (
                ErrorCode::TypeNotFound,
                "TypeNotFoundException",
                "TypeNotFoundException",
            ),
            (
                ErrorCode::ConcurrentOperation,
                "ConcurrentOperationException",
                "ConcurrentOperationException",
            ),
            (
                ErrorCode::LeaseLost,
                "LeaseLostException",
                "LeaseLostException",
            ),
            (
                ErrorCode::Throttling,
                "ThrottlingException",
                "ThrottlingException",
            ),
            (
                ErrorCode::DatabaseUnavailable,
                "WAFInternalErrorException",
                "ServiceInternalErrorException",
            ),
            (
                ErrorCode::ServiceUnavailable,
                "ServiceUnavailable",
                "ServiceUnavailable",
            ),
            (
                ErrorCode::Internal,
                "WAFInternalErrorException",
                "ServiceInternalErrorException",
            ),
        ];
        assert_eq!(
            table.len(),
            ErrorCode::ALL.len(),
            "the table covers every code"
        );
        for (code, waf, cloud_control) in table {
            assert_eq!(code.aws_name(ApiFamily::Waf), waf, "{code:?}");
            assert_eq!(
                code.aws_name(ApiFamily::CloudControl),
                cloud_control,
                "{code:?}"
            );
        }
    }

    #[test]
    fn generic_errors_carry_their_code() {
        let violation = FieldViolation::missing("ChangeToken");
        assert_eq!(
            Error::invalid_input(violation).code,
            ErrorCode::InvalidParameter
        );
        assert_eq!(Error::internal().code, ErrorCode::Internal);
        assert_eq!(Error::unavailable().code, ErrorCode::DatabaseUnavailable);
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
