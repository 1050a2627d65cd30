//! Protobuf messages to domain values and back. Shape checks happen here and
//! name the member at fault; the domain newtypes enforce the rest.

use std::time::Duration;

use prost_types::Timestamp as ProtoTimestamp;

use super::proto;
use crate::domain::change_token::{
    ChangeTokenScope, ChangeTokenStatus, ChangeTokenSummary, WafEndpoint,
};
use crate::domain::hooks::HookProgressEvent;
use crate::domain::resource_request::{
    HandlerErrorCode, Operation, OperationStatus, ProgressEvent, ResourceRequestInput,
};
use crate::domain::values::Region;
use crate::domain::{AccountId, FieldViolation, Timestamp};

pub fn timestamp_to_proto(timestamp: Timestamp) -> ProtoTimestamp {
    let (seconds, nanos) = timestamp.seconds_and_nanos();
    ProtoTimestamp { seconds, nanos }
}

pub fn timestamp_from_proto(timestamp: ProtoTimestamp) -> Timestamp {
    Timestamp::from_seconds_and_nanos(timestamp.seconds, timestamp.nanos)
}

/// A `google.protobuf.Duration` member; negative or malformed ones are
/// refused naming `member`.
pub fn duration_from_proto(
    member: &'static str,
    duration: prost_types::Duration,
) -> Result<Duration, FieldViolation> {
    let shown = format!("{}s {}ns", duration.seconds, duration.nanos);
    if duration.seconds < 0 || duration.nanos < 0 {
        return Err(FieldViolation::invalid(
            member,
            &shown,
            "Member must have value greater than or equal to 0s",
        ));
    }
    if duration.nanos >= 1_000_000_000 {
        return Err(FieldViolation::invalid(
            member,
            &shown,
            "Member must be a valid duration (nanos below 1000000000)",
        ));
    }
    Ok(Duration::new(
        duration.seconds as u64,
        duration.nanos as u32,
    ))
}

/// An optional duration member.
pub fn optional_duration(
    member: &'static str,
    duration: Option<prost_types::Duration>,
) -> Result<Option<Duration>, FieldViolation> {
    duration
        .map(|duration| duration_from_proto(member, duration))
        .transpose()
}

/// A request's `region` member: empty is the server's default region.
pub fn region_or_default(value: &str, default: &Region) -> Result<Region, FieldViolation> {
    if value.is_empty() {
        Ok(default.clone())
    } else {
        Region::parse(value)
    }
}

/// A hook invocation in AWS's shape.
pub fn hook_event_to_proto(hook: HookProgressEvent) -> proto::HookProgressEvent {
    proto::HookProgressEvent {
        hook_type_name: hook.hook_type_name,
        hook_type_version_id: hook.hook_type_version_id.unwrap_or_default(),
        hook_type_arn: hook.hook_type_arn.unwrap_or_default(),
        invocation_point: hook.invocation_point,
        hook_status: hook.hook_status,
        hook_event_time: Some(timestamp_to_proto(hook.hook_event_time)),
        hook_status_message: hook.hook_status_message.unwrap_or_default(),
        failure_mode: hook.failure_mode.unwrap_or_default(),
    }
}

/// The scope a request names, for `account` (already resolved from the
/// scope's `account_id` and the caller).
pub fn scope(
    scope: proto::ChangeTokenScope,
    account: AccountId,
) -> Result<ChangeTokenScope, FieldViolation> {
    match proto::WafEndpoint::try_from(scope.endpoint) {
        Ok(proto::WafEndpoint::Global) => Ok(ChangeTokenScope::global(account)),
        Ok(proto::WafEndpoint::Regional) => {
            if scope.region.is_empty() {
                return Err(FieldViolation::missing("Region"));
            }
            Ok(ChangeTokenScope::regional(
                account,
                Region::parse(scope.region)?,
            ))
        }
        Ok(proto::WafEndpoint::Unspecified) => Err(FieldViolation::missing("Endpoint")),
        Err(_) => Err(unknown_enum("Endpoint", scope.endpoint)),
    }
}

/// The endpoint and region a listing's scope narrows to: `None` for an
/// unspecified endpoint (both) or an empty region (all). The region narrows
/// WAF Regional tokens only, and is ignored with `WAF_ENDPOINT_GLOBAL`, as
/// in [`scope`].
pub fn listed_endpoint_and_region(
    scope: &proto::ChangeTokenScope,
) -> Result<(Option<WafEndpoint>, Option<Region>), FieldViolation> {
    let endpoint = match proto::WafEndpoint::try_from(scope.endpoint) {
        Ok(proto::WafEndpoint::Global) => return Ok((Some(WafEndpoint::Global), None)),
        Ok(proto::WafEndpoint::Regional) => Some(WafEndpoint::Regional),
        Ok(proto::WafEndpoint::Unspecified) => None,
        Err(_) => return Err(unknown_enum("Endpoint", scope.endpoint)),
    };
    let region = if scope.region.is_empty() {
        None
    } else {
        Some(Region::parse(scope.region.as_str())?)
    };
    Ok((endpoint, region))
}

fn endpoint_to_proto(endpoint: WafEndpoint) -> proto::WafEndpoint {
    match endpoint {
        WafEndpoint::Global => proto::WafEndpoint::Global,
        WafEndpoint::Regional => proto::WafEndpoint::Regional,
    }
}

fn unknown_enum(member: &'static str, value: i32) -> FieldViolation {
    FieldViolation::invalid(
        member,
        &value.to_string(),
        "Member must be a known enum value",
    )
}

pub fn change_token_status_to_proto(status: ChangeTokenStatus) -> i32 {
    let status = match status {
        ChangeTokenStatus::Provisioned => proto::ChangeTokenStatus::Provisioned,
        ChangeTokenStatus::Pending => proto::ChangeTokenStatus::Pending,
        ChangeTokenStatus::InSync => proto::ChangeTokenStatus::Insync,
    };
    status as i32
}

/// `CHANGE_TOKEN_STATUS_UNSPECIFIED` is no status, and refused.
pub fn change_token_status_from_proto(
    member: &'static str,
    value: i32,
) -> Result<ChangeTokenStatus, FieldViolation> {
    match proto::ChangeTokenStatus::try_from(value) {
        Ok(proto::ChangeTokenStatus::Provisioned) => Ok(ChangeTokenStatus::Provisioned),
        Ok(proto::ChangeTokenStatus::Pending) => Ok(ChangeTokenStatus::Pending),
        Ok(proto::ChangeTokenStatus::Insync) => Ok(ChangeTokenStatus::InSync),
        Ok(proto::ChangeTokenStatus::Unspecified) => Err(FieldViolation::missing(member)),
        Err(_) => Err(unknown_enum(member, value)),
    }
}

pub fn change_token_summary_to_proto(summary: ChangeTokenSummary) -> proto::ChangeTokenSummary {
    let scope = proto::ChangeTokenScope {
        account_id: summary.scope.account().as_str().to_owned(),
        endpoint: endpoint_to_proto(summary.scope.endpoint()) as i32,
        region: summary.scope.region_key().to_owned(),
    };
    proto::ChangeTokenSummary {
        change_token: summary.token.into_string(),
        scope: Some(scope),
        change_token_status: change_token_status_to_proto(summary.status),
        change_description: summary.change_description,
        created_at: Some(timestamp_to_proto(summary.created_at)),
        consumed_at: summary.consumed_at.map(timestamp_to_proto),
        insync_at: summary.insync_at.map(timestamp_to_proto),
    }
}

pub fn operation_from_proto(member: &'static str, value: i32) -> Result<Operation, FieldViolation> {
    match proto::Operation::try_from(value) {
        Ok(proto::Operation::Create) => Ok(Operation::Create),
        Ok(proto::Operation::Update) => Ok(Operation::Update),
        Ok(proto::Operation::Delete) => Ok(Operation::Delete),
        Ok(proto::Operation::Unspecified) => Err(FieldViolation::missing(member)),
        Err(_) => Err(unknown_enum(member, value)),
    }
}

fn operation_to_proto(operation: Operation) -> proto::Operation {
    match operation {
        Operation::Create => proto::Operation::Create,
        Operation::Update => proto::Operation::Update,
        Operation::Delete => proto::Operation::Delete,
    }
}

pub fn status_from_proto(
    member: &'static str,
    value: i32,
) -> Result<OperationStatus, FieldViolation> {
    match proto::OperationStatus::try_from(value) {
        Ok(proto::OperationStatus::Pending) => Ok(OperationStatus::Pending),
        Ok(proto::OperationStatus::InProgress) => Ok(OperationStatus::InProgress),
        Ok(proto::OperationStatus::Success) => Ok(OperationStatus::Success),
        Ok(proto::OperationStatus::Failed) => Ok(OperationStatus::Failed),
        Ok(proto::OperationStatus::CancelInProgress) => Ok(OperationStatus::CancelInProgress),
        Ok(proto::OperationStatus::CancelComplete) => Ok(OperationStatus::CancelComplete),
        Ok(proto::OperationStatus::Unspecified) => Err(FieldViolation::missing(member)),
        Err(_) => Err(unknown_enum(member, value)),
    }
}

fn status_to_proto(status: OperationStatus) -> proto::OperationStatus {
    match status {
        OperationStatus::Pending => proto::OperationStatus::Pending,
        OperationStatus::InProgress => proto::OperationStatus::InProgress,
        OperationStatus::Success => proto::OperationStatus::Success,
        OperationStatus::Failed => proto::OperationStatus::Failed,
        OperationStatus::CancelInProgress => proto::OperationStatus::CancelInProgress,
        OperationStatus::CancelComplete => proto::OperationStatus::CancelComplete,
    }
}

/// `HANDLER_ERROR_CODE_UNSPECIFIED` means no error code.
pub fn error_code_from_proto(value: i32) -> Result<Option<HandlerErrorCode>, FieldViolation> {
    use proto::HandlerErrorCode as Wire;
    let code = match Wire::try_from(value) {
        Ok(Wire::Unspecified) => return Ok(None),
        Ok(Wire::NotUpdatable) => HandlerErrorCode::NotUpdatable,
        Ok(Wire::InvalidRequest) => HandlerErrorCode::InvalidRequest,
        Ok(Wire::AccessDenied) => HandlerErrorCode::AccessDenied,
        Ok(Wire::UnauthorizedTaggingOperation) => HandlerErrorCode::UnauthorizedTaggingOperation,
        Ok(Wire::InvalidCredentials) => HandlerErrorCode::InvalidCredentials,
        Ok(Wire::AlreadyExists) => HandlerErrorCode::AlreadyExists,
        Ok(Wire::NotFound) => HandlerErrorCode::NotFound,
        Ok(Wire::ResourceConflict) => HandlerErrorCode::ResourceConflict,
        Ok(Wire::Throttling) => HandlerErrorCode::Throttling,
        Ok(Wire::ServiceLimitExceeded) => HandlerErrorCode::ServiceLimitExceeded,
        Ok(Wire::NotStabilized) => HandlerErrorCode::NotStabilized,
        Ok(Wire::GeneralServiceException) => HandlerErrorCode::GeneralServiceException,
        Ok(Wire::ServiceInternalError) => HandlerErrorCode::ServiceInternalError,
        Ok(Wire::ServiceTimeout) => HandlerErrorCode::ServiceTimeout,
        Ok(Wire::NetworkFailure) => HandlerErrorCode::NetworkFailure,
        Ok(Wire::InternalFailure) => HandlerErrorCode::InternalFailure,
        Err(_) => return Err(unknown_enum("ErrorCode", value)),
    };
    Ok(Some(code))
}

fn error_code_to_proto(code: Option<HandlerErrorCode>) -> proto::HandlerErrorCode {
    use proto::HandlerErrorCode as Wire;
    let Some(code) = code else {
        return Wire::Unspecified;
    };
    match code {
        HandlerErrorCode::NotUpdatable => Wire::NotUpdatable,
        HandlerErrorCode::InvalidRequest => Wire::InvalidRequest,
        HandlerErrorCode::AccessDenied => Wire::AccessDenied,
        HandlerErrorCode::UnauthorizedTaggingOperation => Wire::UnauthorizedTaggingOperation,
        HandlerErrorCode::InvalidCredentials => Wire::InvalidCredentials,
        HandlerErrorCode::AlreadyExists => Wire::AlreadyExists,
        HandlerErrorCode::NotFound => Wire::NotFound,
        HandlerErrorCode::ResourceConflict => Wire::ResourceConflict,
        HandlerErrorCode::Throttling => Wire::Throttling,
        HandlerErrorCode::ServiceLimitExceeded => Wire::ServiceLimitExceeded,
        HandlerErrorCode::NotStabilized => Wire::NotStabilized,
        HandlerErrorCode::GeneralServiceException => Wire::GeneralServiceException,
        HandlerErrorCode::ServiceInternalError => Wire::ServiceInternalError,
        HandlerErrorCode::ServiceTimeout => Wire::ServiceTimeout,
        HandlerErrorCode::NetworkFailure => Wire::NetworkFailure,
        HandlerErrorCode::InternalFailure => Wire::InternalFailure,
    }
}

pub fn input_to_proto(input: ResourceRequestInput) -> proto::ResourceRequestInput {
    proto::ResourceRequestInput {
        operation: operation_to_proto(input.operation) as i32,
        type_name: input.type_name.into_string(),
        identifier: input.identifier.map(|value| value.into_string()),
        desired_state: input.desired_state.map(|value| value.into_string()),
        patch_document: input.patch_document.map(|value| value.into_string()),
        role_arn: input.role_arn.map(|value| value.into_string()),
        type_version_id: input.type_version_id.map(|value| value.into_string()),
    }
}

pub fn progress_event_to_proto(event: ProgressEvent) -> proto::ProgressEvent {
    proto::ProgressEvent {
        type_name: event.type_name,
        identifier: event.identifier,
        request_token: event.request_token,
        hooks_request_token: event.hooks_request_token,
        operation: operation_to_proto(event.operation) as i32,
        operation_status: status_to_proto(event.operation_status) as i32,
        event_time: Some(timestamp_to_proto(event.event_time)),
        resource_model: event.resource_model,
        status_message: event.status_message,
        error_code: error_code_to_proto(event.error_code) as i32,
        retry_after: event.retry_after.map(timestamp_to_proto),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handler_error_code_round_trips() {
        for code in HandlerErrorCode::ALL {
            let wire = error_code_to_proto(Some(code)) as i32;
            assert_eq!(error_code_from_proto(wire).unwrap(), Some(code));
        }
        assert_eq!(error_code_from_proto(0).unwrap(), None);
        assert!(error_code_from_proto(99).is_err());
    }

    #[test]
    fn every_operation_and_status_round_trips() {
        for operation in Operation::ALL {
            let wire = operation_to_proto(operation) as i32;
            assert_eq!(operation_from_proto("Operation", wire).unwrap(), operation);
        }
        for status in OperationStatus::ALL {
            let wire = status_to_proto(status) as i32;
            assert_eq!(status_from_proto("OperationStatus", wire).unwrap(), status);
        }
        assert_eq!(
            operation_from_proto("Operation", 0).unwrap_err().constraint,
            "Member must not be null"
        );
        assert!(status_from_proto("OperationStatus", 42).is_err());
    }

    #[test]
    fn every_change_token_status_round_trips() {
        for status in ChangeTokenStatus::ALL {
            let wire = change_token_status_to_proto(status);
            assert_eq!(
                change_token_status_from_proto("Statuses", wire).unwrap(),
                status
            );
        }
        assert_eq!(
            change_token_status_from_proto("Statuses", 0)
                .unwrap_err()
                .constraint,
            "Member must not be null"
        );
        assert!(change_token_status_from_proto("Statuses", 9).is_err());
    }

    #[test]
    fn listings_narrow_regions_of_waf_regional_only() {
        let listed = |endpoint: i32, region: &str| {
            listed_endpoint_and_region(&proto::ChangeTokenScope {
                account_id: String::new(),
                endpoint,
                region: region.into(),
            })
        };
        let ireland = Region::parse("eu-west-1").unwrap();
        assert_eq!(listed(0, "").unwrap(), (None, None));
        assert_eq!(
            listed(0, "eu-west-1").unwrap(),
            (None, Some(ireland.clone()))
        );
        assert_eq!(
            listed(2, "eu-west-1").unwrap(),
            (Some(WafEndpoint::Regional), Some(ireland))
        );
        assert_eq!(
            listed(1, "EU WEST").unwrap(),
            (Some(WafEndpoint::Global), None),
            "WAF global ignores the region"
        );
        assert_eq!(listed(2, "EU WEST").unwrap_err().member, "Region");
        assert_eq!(listed(7, "").unwrap_err().member, "Endpoint");
    }

    #[test]
    fn durations_must_be_non_negative_and_well_formed() {
        let duration = |seconds, nanos| prost_types::Duration { seconds, nanos };
        assert_eq!(
            duration_from_proto("Timeout", duration(1, 500_000_000)).unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            duration_from_proto("Timeout", duration(-1, 0))
                .unwrap_err()
                .member,
            "Timeout"
        );
        assert!(duration_from_proto("Timeout", duration(0, -1)).is_err());
        assert!(duration_from_proto("Timeout", duration(0, 1_000_000_000)).is_err());
        assert_eq!(optional_duration("Timeout", None).unwrap(), None);
    }

    #[test]
    fn scopes_need_an_endpoint_and_regional_ones_a_region() {
        let default = AccountId::parse("000000000000").unwrap();
        let global = scope(
            proto::ChangeTokenScope {
                account_id: String::new(),
                endpoint: 1,
                region: "eu-west-1".into(),
            },
            default.clone(),
        )
        .unwrap();
        assert_eq!(global.region_key(), "", "WAF global ignores the region");
        assert_eq!(global.account(), &default);
        let missing_region = scope(
            proto::ChangeTokenScope {
                account_id: String::new(),
                endpoint: 2,
                region: String::new(),
            },
            default.clone(),
        );
        assert_eq!(missing_region.unwrap_err().member, "Region");
        let unspecified = scope(proto::ChangeTokenScope::default(), default);
        assert_eq!(unspecified.unwrap_err().member, "Endpoint");
    }
}
