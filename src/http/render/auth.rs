//! The AWS error of each [`AuthFailure`]: name, HTTP status and message,
//! one total `match`. The statuses are what AWS's awsJson services answer
//! (the README's Security section gives the evidence): 403 for a request
//! without credentials, 400 for everything else, `AccessDeniedException`
//! included (DynamoDB, CloudWatch Logs and the other awsJson services answer
//! 400; REST services answer 403).

use axum::http::StatusCode;

use super::error::{AwsError, MessageMember};
use crate::http::protocol::AuthFailure;

/// The HTTP status of each authentication failure.
pub const fn status(failure: &AuthFailure) -> StatusCode {
    match failure {
        AuthFailure::MissingAuthenticationToken => StatusCode::FORBIDDEN,
        AuthFailure::IncompleteSignature { .. }
        | AuthFailure::SessionToken
        | AuthFailure::UnrecognizedClient
        | AuthFailure::InvalidSignature { .. }
        | AuthFailure::AccessDenied { .. } => StatusCode::BAD_REQUEST,
    }
}

pub fn aws_error(failure: &AuthFailure) -> AwsError {
    AwsError {
        name: failure.aws_name(),
        status: status(failure),
        message_member: MessageMember::Lower,
        message: failure.message(),
        invalid_parameter: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::credential::Role;

    #[test]
    fn every_failure_has_the_name_and_status_of_the_table() {
        // (failure, AWS name, HTTP status)
        let table = [
            (
                AuthFailure::MissingAuthenticationToken,
                "MissingAuthenticationTokenException",
                403,
            ),
            (
                AuthFailure::incomplete("x"),
                "IncompleteSignatureException",
                400,
            ),
            (
                AuthFailure::SessionToken,
                "UnrecognizedClientException",
                400,
            ),
            (
                AuthFailure::UnrecognizedClient,
                "UnrecognizedClientException",
                400,
            ),
            (AuthFailure::invalid("x"), "InvalidSignatureException", 400),
            (
                AuthFailure::AccessDenied {
                    access_key_id: "SGAKABCDEFGHIJ234567".into(),
                    role: Role::Client,
                    action: "waf:GetChangeToken".into(),
                },
                "AccessDeniedException",
                400,
            ),
        ];
        for (failure, name, status) in table {
            let error = aws_error(&failure);
            assert_eq!(error.name, name, "{failure:?}");
            assert_eq!(error.status.as_u16(), status, "{failure:?}");
            assert!(!error.message.is_empty());
        }
    }
}
