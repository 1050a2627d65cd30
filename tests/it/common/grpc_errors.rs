//! Assertions on gRPC errors: the status code, and the details every error
//! carries (`google.rpc.ErrorInfo` with the AWS error name as the reason,
//! `BadRequest` naming the invalid field).

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Asserts the status code and the AWS error name in `ErrorInfo.reason`.
#[track_caller]
pub fn assert_error(status: &Status, code: Code, reason: &str) {
    assert_eq!(status.code(), code, "unexpected status: {status:?}");
    let details = status.get_error_details();
    let info = details
        .error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!(info.reason, reason, "unexpected reason in {status:?}");
    assert_eq!(info.domain, "statusgate");
}

/// Asserts an INVALID_ARGUMENT naming `field` in `BadRequest`.
#[track_caller]
pub fn assert_invalid_field(status: &Status, reason: &str, field: &str) {
    assert_error(status, Code::InvalidArgument, reason);
    let details = status.get_error_details();
    let bad_request = details
        .bad_request()
        .unwrap_or_else(|| panic!("no BadRequest in {status:?}"));
    let fields: Vec<&str> = bad_request
        .field_violations
        .iter()
        .map(|violation| violation.field.as_str())
        .collect();
    assert_eq!(fields, [field], "unexpected field violations in {status:?}");
}
