//! CloudFormation hooks as Cloud Control reports them: each invocation of a
//! hook on a request is a [`HookProgressEvent`] (AWS's shape), recorded by
//! the worker that runs the hooks (`RecordHookProgressEvent`) and shown to
//! callers in `GetResourceRequestStatus`' `HooksProgressEvent`, with the
//! request's `HooksRequestToken` set from the first one on. Hooks run before
//! provisioning, so a finished request records none.

use super::lease::check_lease_holder;
use super::resource_request::StoredResourceRequest;
use super::time::check_recorded_time;
use super::values::{LeaseToken, StatusMessage, TypeName, TypeVersionId, storable};
use super::{Error, ErrorCode, FieldViolation, Timestamp};

/// `InvocationPoint`: where in the operation the hook ran.
pub const INVOCATION_POINTS: [&str; 1] = ["PRE_PROVISION"];
/// `HookStatus`, as the Cloud Control reference lists them.
pub const HOOK_STATUSES: [&str; 5] = [
    "HOOK_PENDING",
    "HOOK_IN_PROGRESS",
    "HOOK_COMPLETE_SUCCEEDED",
    "HOOK_COMPLETE_FAILED",
    "HOOK_FAILED",
];
/// `FailureMode`: whether a failing hook fails the operation or warns.
pub const FAILURE_MODES: [&str; 2] = ["FAIL", "WARN"];

/// One hook invocation, as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookProgressEvent {
    pub hook_type_name: String,
    pub hook_type_version_id: Option<String>,
    pub hook_type_arn: Option<String>,
    pub invocation_point: String,
    pub hook_status: String,
    pub hook_event_time: Timestamp,
    pub hook_status_message: Option<String>,
    pub failure_mode: Option<String>,
}

/// What a worker reports about a hook, as it arrives on the wire.
#[derive(Debug, Clone, Default)]
pub struct HookReportInput {
    pub hook_type_name: String,
    pub hook_type_version_id: Option<String>,
    pub hook_type_arn: Option<String>,
    pub invocation_point: String,
    pub hook_status: String,
    pub hook_status_message: Option<String>,
    pub failure_mode: Option<String>,
    pub hook_event_time: Option<Timestamp>,
}

fn one_of(member: &'static str, value: &str, allowed: &[&str]) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return Err(FieldViolation::missing(member));
    }
    if allowed.contains(&value) {
        return Ok(value.to_owned());
    }
    Err(FieldViolation::invalid(
        member,
        value,
        format!(
            "Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        ),
    ))
}

fn hook_type_arn(value: String) -> Result<String, FieldViolation> {
    const MEMBER: &str = "HookTypeArn";
    storable(MEMBER, &value)?;
    let length = value.chars().count();
    if !(1..=1024).contains(&length) || !value.starts_with("arn:") {
        return Err(FieldViolation::invalid(
            MEMBER,
            &value,
            "Member must be an ARN (arn:...) of at most 1024 characters",
        ));
    }
    Ok(value)
}

impl HookReportInput {
    /// The event this report records at `now`, or the member at fault. The
    /// hook's time defaults to now and must lie within the window of every
    /// time a worker records.
    pub fn into_event(self, now: Timestamp) -> Result<HookProgressEvent, FieldViolation> {
        if self.hook_type_name.is_empty() {
            return Err(FieldViolation::missing("HookTypeName"));
        }
        let hook_type_name =
            TypeName::parse(self.hook_type_name).map_err(|violation| FieldViolation {
                member: "HookTypeName",
                ..violation
            })?;
        let hook_type_version_id = self
            .hook_type_version_id
            .map(|value| {
                TypeVersionId::parse(value).map_err(|violation| FieldViolation {
                    member: "HookTypeVersionId",
                    ..violation
                })
            })
            .transpose()?;
        let hook_status_message = self
            .hook_status_message
            .map(|value| {
                StatusMessage::parse(value).map_err(|violation| FieldViolation {
                    member: "HookStatusMessage",
                    ..violation
                })
            })
            .transpose()?;
        let hook_event_time = match self.hook_event_time {
            Some(time) => check_recorded_time("HookEventTime", time, now)?,
            None => now,
        };
        Ok(HookProgressEvent {
            hook_type_name: hook_type_name.into_string(),
            hook_type_version_id: hook_type_version_id.map(TypeVersionId::into_string),
            hook_type_arn: self.hook_type_arn.map(hook_type_arn).transpose()?,
            invocation_point: one_of(
                "InvocationPoint",
                &self.invocation_point,
                &INVOCATION_POINTS,
            )?,
            hook_status: one_of("HookStatus", &self.hook_status, &HOOK_STATUSES)?,
            hook_event_time,
            hook_status_message: hook_status_message.map(StatusMessage::into_string),
            failure_mode: self
                .failure_mode
                .map(|mode| one_of("FailureMode", &mode, &FAILURE_MODES))
                .transpose()?,
        })
    }
}

/// Whether a worker may record a hook event on `request` (locked): under
/// the lease rules, and only while the request is not finished.
pub fn decide_hook(
    request: &StoredResourceRequest,
    lease_token: Option<&LeaseToken>,
    now: Timestamp,
) -> Result<(), Error> {
    if request.current.operation_status.is_terminal() {
        return Err(Error::new(
            ErrorCode::InvalidRequestState,
            format!(
                "Request {} is already in status {}",
                request.current.request_token,
                request.current.operation_status.as_str()
            ),
        ));
    }
    check_lease_holder(request, lease_token, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> HookReportInput {
        HookReportInput {
            hook_type_name: "Private::Guard::Hook".into(),
            hook_type_version_id: Some("00000001".into()),
            hook_type_arn: Some(
                "arn:aws:cloudformation:us-east-1:123456789012:type/hook/Private-Guard-Hook".into(),
            ),
            invocation_point: "PRE_PROVISION".into(),
            hook_status: "HOOK_COMPLETE_SUCCEEDED".into(),
            hook_status_message: Some("ok".into()),
            failure_mode: Some("FAIL".into()),
            hook_event_time: None,
        }
    }

    const NOW: Timestamp = Timestamp::from_micros(1_700_000_000_000_000);

    #[test]
    fn a_report_becomes_an_event_stamped_now() {
        let event = report().into_event(NOW).unwrap();
        assert_eq!(event.hook_event_time, NOW);
        assert_eq!(event.hook_status, "HOOK_COMPLETE_SUCCEEDED");
        assert_eq!(event.failure_mode.as_deref(), Some("FAIL"));
    }

    #[test]
    fn every_member_is_checked_and_named() {
        // (a change to a good report, the member at fault)
        type Change = fn(&mut HookReportInput);
        let cases: [(Change, &str); 9] = [
            (|r| r.hook_type_name.clear(), "HookTypeName"),
            (|r| r.hook_type_name = "Guard".into(), "HookTypeName"),
            (
                |r| r.hook_type_version_id = Some("v1.0".into()),
                "HookTypeVersionId",
            ),
            (|r| r.hook_type_arn = Some("guard".into()), "HookTypeArn"),
            (
                |r| r.hook_type_arn = Some("arn:aws:cloudformation:\0".into()),
                "HookTypeArn",
            ),
            (
                |r| r.invocation_point = "POST_PROVISION".into(),
                "InvocationPoint",
            ),
            (|r| r.hook_status = "DONE".into(), "HookStatus"),
            (|r| r.failure_mode = Some("IGNORE".into()), "FailureMode"),
            (
                |r| r.hook_event_time = Some(Timestamp::from_micros(0)),
                "HookEventTime",
            ),
        ];
        for (change, member) in cases {
            let mut bad = report();
            change(&mut bad);
            assert_eq!(bad.into_event(NOW).unwrap_err().member, member);
        }
    }
}
