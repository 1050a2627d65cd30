//! Domain errors as gRPC statuses: the code from the error's [`ErrorCode`]
//! ([`grpc_code`]), the AWS error name in `google.rpc.ErrorInfo.reason`
//! (domain `statusgate`), and for invalid input a `google.rpc.BadRequest`
//! naming the field. The domain error travels on as the status's source, so
//! the observing layer counts the call by its code, not by re-reading the
//! wire.

use std::collections::HashMap;
use std::sync::Arc;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::{ApiFamily, Error, ErrorCode};

/// The `ErrorInfo.domain` of every statusgate error.
pub const ERROR_DOMAIN: &str = "statusgate";

/// The gRPC code of each error code.
pub const fn grpc_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::InvalidParameter => Code::InvalidArgument,
        ErrorCode::InvalidRequestState
        | ErrorCode::ChangeTokenAlreadyUsed
        | ErrorCode::ChangeTokenNotUsed
        | ErrorCode::LeaseLost
        | ErrorCode::ConcurrentOperation => Code::FailedPrecondition,
        ErrorCode::ChangeTokenNotFound
        | ErrorCode::RequestTokenNotFound
        | ErrorCode::ResourceNotFound
        | ErrorCode::TypeNotFound => Code::NotFound,
        ErrorCode::ClientTokenConflict => Code::AlreadyExists,
        ErrorCode::Throttling => Code::ResourceExhausted,
        ErrorCode::DatabaseUnavailable | ErrorCode::ServiceUnavailable => Code::Unavailable,
        ErrorCode::Internal => Code::Internal,
    }
}

/// The status a caller of a `family` service gets for `error`.
pub fn status_from_error(error: Error, family: ApiFamily) -> Status {
    let mut details =
        ErrorDetails::with_error_info(error.code.aws_name(family), ERROR_DOMAIN, HashMap::new());
    if let Some(violation) = &error.violation {
        details.add_bad_request_violation(violation.member_snake_case(), violation.aws_message());
    }
    let mut status =
        Status::with_error_details(grpc_code(error.code), error.message.clone(), details);
    status.set_source(Arc::new(error));
    status
}

/// The `ErrorInfo.reason` of a request message that cannot be read (not
/// valid protobuf, framed wrongly, too large): the AWS name of a body that
/// does not decode, as on the facade.
pub const SERIALIZATION_EXCEPTION: &str = "SerializationException";

/// A request message that cannot be read: `INVALID_ARGUMENT` (the caller's
/// mistake, not worth retrying) with `ErrorInfo` and the decoder's `detail`.
pub fn malformed_message(detail: impl std::fmt::Display) -> Status {
    let details =
        ErrorDetails::with_error_info(SERIALIZATION_EXCEPTION, ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(
        Code::InvalidArgument,
        format!("the request message cannot be read: {detail}"),
        details,
    )
}

/// The domain error a status was made from, if statusgate made it.
pub fn error_code_of(status: &Status) -> Option<ErrorCode> {
    let source = std::error::Error::source(status)?;
    source.downcast_ref::<Error>().map(|error| error.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FieldViolation;

    #[test]
    fn every_code_has_its_grpc_code() {
        let table = [
            (ErrorCode::InvalidParameter, Code::InvalidArgument),
            (ErrorCode::InvalidRequestState, Code::FailedPrecondition),
            (ErrorCode::ChangeTokenNotFound, Code::NotFound),
            (ErrorCode::ChangeTokenAlreadyUsed, Code::FailedPrecondition),
            (ErrorCode::ChangeTokenNotUsed, Code::FailedPrecondition),
            (ErrorCode::RequestTokenNotFound, Code::NotFound),
            (ErrorCode::ClientTokenConflict, Code::AlreadyExists),
            (ErrorCode::ResourceNotFound, Code::NotFound),
            (ErrorCode::TypeNotFound, Code::NotFound),
            (ErrorCode::ConcurrentOperation, Code::FailedPrecondition),
            (ErrorCode::LeaseLost, Code::FailedPrecondition),
            (ErrorCode::Throttling, Code::ResourceExhausted),
            (ErrorCode::DatabaseUnavailable, Code::Unavailable),
            (ErrorCode::ServiceUnavailable, Code::Unavailable),
            (ErrorCode::Internal, Code::Internal),
        ];
        assert_eq!(
            table.len(),
            ErrorCode::ALL.len(),
            "the table covers every code"
        );
        for (code, grpc) in table {
            let status = status_from_error(Error::new(code, "m"), ApiFamily::CloudControl);
            assert_eq!(status.code(), grpc, "{code:?}");
            assert_eq!(error_code_of(&status), Some(code), "{code:?}");
        }
    }

    #[test]
    fn details_carry_the_aws_name_of_the_family_and_the_field() {
        for (family, reason) in [
            (ApiFamily::CloudControl, "ValidationException"),
            (ApiFamily::Waf, "WAFInvalidParameterException"),
        ] {
            let error = Error::invalid_input(FieldViolation::missing("RequestToken"));
            let status = status_from_error(error, family);
            let details = status.get_error_details();
            let info = details.error_info().expect("error info");
            assert_eq!(info.reason, reason);
            assert_eq!(info.domain, "statusgate");
            let bad_request = details.bad_request().expect("bad request");
            assert_eq!(bad_request.field_violations[0].field, "request_token");
            assert_eq!(
                status.message(),
                bad_request.field_violations[0].description
            );
        }
    }
}
