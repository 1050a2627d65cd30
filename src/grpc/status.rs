//! Domain errors as gRPC statuses: the code from the error's kind, the AWS
//! error name in `google.rpc.ErrorInfo.reason` (domain `statusgate`), and for
//! invalid input a `google.rpc.BadRequest` naming the field.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::{Error, ErrorKind};

/// The `ErrorInfo.domain` of every statusgate error.
pub const ERROR_DOMAIN: &str = "statusgate";

fn code_for(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::InvalidArgument => Code::InvalidArgument,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::FailedPrecondition => Code::FailedPrecondition,
        ErrorKind::AlreadyExists => Code::AlreadyExists,
        ErrorKind::Aborted => Code::Aborted,
        ErrorKind::ResourceExhausted => Code::ResourceExhausted,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::Internal => Code::Internal,
    }
}

pub fn status_from_error(error: Error) -> Status {
    let mut details =
        ErrorDetails::with_error_info(error.code.aws_name(), ERROR_DOMAIN, HashMap::new());
    if let Some(violation) = &error.violation {
        details.add_bad_request_violation(violation.member_snake_case(), violation.aws_message());
    }
    Status::with_error_details(code_for(error.kind), error.message, details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Api, ErrorCode, FieldViolation};

    #[test]
    fn every_kind_has_its_grpc_code() {
        let table = [
            (ErrorKind::InvalidArgument, Code::InvalidArgument),
            (ErrorKind::NotFound, Code::NotFound),
            (ErrorKind::FailedPrecondition, Code::FailedPrecondition),
            (ErrorKind::AlreadyExists, Code::AlreadyExists),
            (ErrorKind::Aborted, Code::Aborted),
            (ErrorKind::ResourceExhausted, Code::ResourceExhausted),
            (ErrorKind::Unavailable, Code::Unavailable),
            (ErrorKind::Internal, Code::Internal),
        ];
        for (kind, code) in table {
            let status = status_from_error(Error::new(ErrorCode::Validation, kind, "m"));
            assert_eq!(status.code(), code, "{kind:?}");
        }
    }

    #[test]
    fn details_carry_the_aws_name_and_the_field() {
        let error =
            Error::invalid_input(Api::CloudControl, FieldViolation::missing("RequestToken"));
        let status = status_from_error(error);
        let details = status.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, "ValidationException");
        assert_eq!(info.domain, "statusgate");
        let bad_request = details.bad_request().expect("bad request");
        assert_eq!(bad_request.field_violations[0].field, "request_token");
        assert_eq!(
            status.message(),
            bad_request.field_violations[0].description
        );
    }
}
