//! Cloud Control resource-operation requests and their progress events, with
//! the status state machine that both the worker (`RecordProgressEvent`) and
//! callers (`CancelResourceRequest`) must respect.
//!
//! ```text
//!  PENDING ──► IN_PROGRESS ──► SUCCESS | FAILED
//!     │  ╲          │
//!     │   ╲ cancel  │ cancel
//!     │    ▼        ▼
//!     │   CANCEL_IN_PROGRESS ──► CANCEL_COMPLETE | SUCCESS | FAILED
//!     └─ cancel, untouched ──► CANCEL_COMPLETE
//! ```
//! `SUCCESS`, `FAILED` and `CANCEL_COMPLETE` are terminal.

use super::lease::Lease;
use super::resource::AccountRegion;
use super::time::check_recorded_time;
use super::values::{
    ClientToken, Identifier, JsonDocument, RequestToken, RoleArn, StatusMessage, TypeName,
    TypeVersionId,
};
use super::{Error, ErrorCode, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    pub const ALL: [Self; 3] = [Self::Create, Self::Update, Self::Delete];

    /// The AWS enum value, also the stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
        }
    }

    pub fn from_aws(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|operation| operation.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationStatus {
    Pending,
    InProgress,
    Success,
    Failed,
    CancelInProgress,
    CancelComplete,
}

impl OperationStatus {
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::InProgress,
        Self::Success,
        Self::Failed,
        Self::CancelInProgress,
        Self::CancelComplete,
    ];

    /// The AWS enum value, also the stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::InProgress => "IN_PROGRESS",
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
            Self::CancelInProgress => "CANCEL_IN_PROGRESS",
            Self::CancelComplete => "CANCEL_COMPLETE",
        }
    }

    pub fn from_aws(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    pub const fn is_terminal(self) -> bool {
        match self {
            Self::Success | Self::Failed | Self::CancelComplete => true,
            Self::Pending | Self::InProgress | Self::CancelInProgress => false,
        }
    }
}

/// The CloudFormation resource handler error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandlerErrorCode {
    NotUpdatable,
    InvalidRequest,
    AccessDenied,
    UnauthorizedTaggingOperation,
    InvalidCredentials,
    AlreadyExists,
    NotFound,
    ResourceConflict,
    Throttling,
    ServiceLimitExceeded,
    NotStabilized,
    GeneralServiceException,
    ServiceInternalError,
    ServiceTimeout,
    NetworkFailure,
    InternalFailure,
}

impl HandlerErrorCode {
    pub const ALL: [Self; 16] = [
        Self::NotUpdatable,
        Self::InvalidRequest,
        Self::AccessDenied,
        Self::UnauthorizedTaggingOperation,
        Self::InvalidCredentials,
        Self::AlreadyExists,
        Self::NotFound,
        Self::ResourceConflict,
        Self::Throttling,
        Self::ServiceLimitExceeded,
        Self::NotStabilized,
        Self::GeneralServiceException,
        Self::ServiceInternalError,
        Self::ServiceTimeout,
        Self::NetworkFailure,
        Self::InternalFailure,
    ];

    /// The AWS enum value, also the stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotUpdatable => "NotUpdatable",
            Self::InvalidRequest => "InvalidRequest",
            Self::AccessDenied => "AccessDenied",
            Self::UnauthorizedTaggingOperation => "UnauthorizedTaggingOperation",
            Self::InvalidCredentials => "InvalidCredentials",
            Self::AlreadyExists => "AlreadyExists",
            Self::NotFound => "NotFound",
            Self::ResourceConflict => "ResourceConflict",
            Self::Throttling => "Throttling",
            Self::ServiceLimitExceeded => "ServiceLimitExceeded",
            Self::NotStabilized => "NotStabilized",
            Self::GeneralServiceException => "GeneralServiceException",
            Self::ServiceInternalError => "ServiceInternalError",
            Self::ServiceTimeout => "ServiceTimeout",
            Self::NetworkFailure => "NetworkFailure",
            Self::InternalFailure => "InternalFailure",
        }
    }

    pub fn from_aws(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == value)
    }
}

/// The AWS `ProgressEvent`: a request's state at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressEvent {
    pub type_name: String,
    pub identifier: Option<String>,
    pub request_token: String,
    pub hooks_request_token: Option<String>,
    pub operation: Operation,
    pub operation_status: OperationStatus,
    pub event_time: Timestamp,
    pub resource_model: Option<String>,
    pub status_message: Option<String>,
    pub error_code: Option<HandlerErrorCode>,
    pub retry_after: Option<Timestamp>,
}

/// An event with its position in the request's history (1 is the `PENDING`
/// event of its creation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberedEvent {
    pub number: i64,
    pub event: ProgressEvent,
}

/// What a caller asked for; two creates with the same client token must carry
/// equal inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequestInput {
    pub operation: Operation,
    pub type_name: TypeName,
    pub identifier: Option<Identifier>,
    pub desired_state: Option<JsonDocument>,
    pub patch_document: Option<JsonDocument>,
    pub role_arn: Option<RoleArn>,
    pub type_version_id: Option<TypeVersionId>,
}

/// A request to be recorded.
#[derive(Debug, Clone)]
pub struct NewResourceRequest {
    /// The account and region the request belongs to.
    pub scope: AccountRegion,
    pub request_token: RequestToken,
    pub client_token: Option<ClientToken>,
    pub input: ResourceRequestInput,
    pub created_at: Timestamp,
}

impl NewResourceRequest {
    /// The first event of every request: `PENDING`.
    pub fn first_event(&self) -> ProgressEvent {
        ProgressEvent {
            type_name: self.input.type_name.as_str().to_owned(),
            identifier: self
                .input
                .identifier
                .as_ref()
                .map(|id| id.as_str().to_owned()),
            request_token: self.request_token.as_str().to_owned(),
            hooks_request_token: None,
            operation: self.input.operation,
            operation_status: OperationStatus::Pending,
            event_time: self.created_at,
            resource_model: None,
            status_message: None,
            error_code: None,
            retry_after: None,
        }
    }
}

/// A recorded request as the store returns it.
#[derive(Debug, Clone)]
pub struct StoredResourceRequest {
    pub scope: AccountRegion,
    pub client_token: Option<ClientToken>,
    pub input: ResourceRequestInput,
    /// The latest progress event.
    pub current: ProgressEvent,
    /// How many events the history holds; 1 means no worker has touched it.
    pub event_count: i64,
    /// When the request was recorded; it expires a retention period later.
    pub created_at: Timestamp,
    /// The worker lease, live or expired; `None` for a request no worker
    /// claimed, or once a terminal event released it.
    pub lease: Option<Lease>,
}

/// What a worker reports.
#[derive(Debug, Clone)]
pub struct ProgressReport {
    pub operation_status: OperationStatus,
    pub identifier: Option<Identifier>,
    pub resource_model: Option<JsonDocument>,
    pub status_message: Option<StatusMessage>,
    pub error_code: Option<HandlerErrorCode>,
    pub retry_after: Option<Timestamp>,
}

/// What to do with a request, decided while its row is locked. Whatever
/// appends a terminal event releases the request's lease with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Append this event; it becomes the request's current state. The lease,
    /// if any, stays as it is.
    Append(ProgressEvent),
    /// The lease holder's write: append `event`, if any, and replace the
    /// lease with `lease` (the same token, renewed).
    Leased {
        event: Option<ProgressEvent>,
        lease: Lease,
    },
    /// Leave the request as it is and answer with its current state.
    Unchanged,
}

fn already_in_status(request: &StoredResourceRequest) -> Error {
    Error::new(
        ErrorCode::InvalidRequestState,
        format!(
            "Request {} is already in status {}",
            request.current.request_token,
            request.current.operation_status.as_str()
        ),
    )
}

/// Whether a worker may move a request from `from` to `to`.
fn worker_may_move(from: OperationStatus, to: OperationStatus) -> bool {
    use OperationStatus::*;
    match from {
        // A worker may report PENDING again (e.g. with a RetryAfter).
        Pending => matches!(to, Pending | InProgress | Success | Failed),
        InProgress => matches!(to, InProgress | Success | Failed),
        // Only a caller starts a cancellation; the worker finishes it.
        CancelInProgress => matches!(to, CancelInProgress | CancelComplete | Success | Failed),
        Success | Failed | CancelComplete => false,
    }
}

/// The event a worker's report appends, or why it is refused.
pub fn decide_progress(
    request: &StoredResourceRequest,
    report: &ProgressReport,
    now: Timestamp,
) -> Result<Decision, Error> {
    let from = request.current.operation_status;
    let to = report.operation_status;
    if from.is_terminal() {
        return Err(already_in_status(request));
    }
    if !worker_may_move(from, to) {
        return Err(Error::new(
            ErrorCode::InvalidRequestState,
            format!(
                "Request {} cannot move from {} to {}",
                request.current.request_token,
                from.as_str(),
                to.as_str()
            ),
        ));
    }
    if let Some(retry_after) = report.retry_after {
        check_recorded_time("RetryAfter", retry_after, now).map_err(Error::invalid_input)?;
    }
    if report.error_code.is_some() && to != OperationStatus::Failed {
        return Err(Error::new(
            ErrorCode::InvalidParameter,
            "ErrorCode may only be reported with OperationStatus FAILED",
        ));
    }
    let current = &request.current;
    Ok(Decision::Append(ProgressEvent {
        identifier: report
            .identifier
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .or_else(|| current.identifier.clone()),
        resource_model: report
            .resource_model
            .as_ref()
            .map(|model| model.as_str().to_owned())
            .or_else(|| current.resource_model.clone()),
        operation_status: to,
        event_time: now,
        status_message: report
            .status_message
            .as_ref()
            .map(|m| m.as_str().to_owned()),
        error_code: report.error_code,
        retry_after: report.retry_after,
        ..current.clone()
    }))
}

/// What cancelling a request does.
pub fn decide_cancel(request: &StoredResourceRequest, now: Timestamp) -> Result<Decision, Error> {
    let next_status = match request.current.operation_status {
        // Nobody has started it: nothing to undo.
        OperationStatus::Pending if request.event_count == 1 => OperationStatus::CancelComplete,
        OperationStatus::Pending | OperationStatus::InProgress => OperationStatus::CancelInProgress,
        // Cancelling twice is answered with the cancellation under way or done.
        OperationStatus::CancelInProgress | OperationStatus::CancelComplete => {
            return Ok(Decision::Unchanged);
        }
        OperationStatus::Success | OperationStatus::Failed => {
            return Err(already_in_status(request));
        }
    };
    Ok(Decision::Append(ProgressEvent {
        operation_status: next_status,
        event_time: now,
        status_message: None,
        error_code: None,
        retry_after: None,
        ..request.current.clone()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use OperationStatus::*;

    fn request_in(status: OperationStatus, event_count: i64) -> StoredResourceRequest {
        let input = ResourceRequestInput {
            operation: Operation::Create,
            type_name: TypeName::parse("AWS::Logs::LogGroup").unwrap(),
            identifier: None,
            desired_state: Some(JsonDocument::parse("DesiredState", "{}").unwrap()),
            patch_document: None,
            role_arn: None,
            type_version_id: None,
        };
        StoredResourceRequest {
            scope: AccountRegion::new(
                crate::domain::AccountId::parse("123456789012").unwrap(),
                crate::domain::values::Region::parse("us-east-1").unwrap(),
            ),
            client_token: None,
            current: ProgressEvent {
                type_name: "AWS::Logs::LogGroup".into(),
                identifier: Some("group-1".into()),
                request_token: "token-1".into(),
                hooks_request_token: None,
                operation: Operation::Create,
                operation_status: status,
                event_time: Timestamp::from_micros(1),
                resource_model: Some("{\"a\":1}".into()),
                status_message: Some("old".into()),
                error_code: None,
                retry_after: None,
            },
            input,
            event_count,
            created_at: Timestamp::from_micros(1),
            lease: None,
        }
    }

    fn report(status: OperationStatus) -> ProgressReport {
        ProgressReport {
            operation_status: status,
            identifier: None,
            resource_model: None,
            status_message: None,
            error_code: None,
            retry_after: None,
        }
    }

    #[test]
    fn worker_transitions_follow_the_state_machine() {
        // (from, to, allowed)
        let table = [
            (Pending, Pending, true),
            (Pending, InProgress, true),
            (Pending, Success, true),
            (Pending, Failed, true),
            (Pending, CancelInProgress, false),
            (Pending, CancelComplete, false),
            (InProgress, Pending, false),
            (InProgress, InProgress, true),
            (InProgress, Success, true),
            (InProgress, Failed, true),
            (InProgress, CancelInProgress, false),
            (InProgress, CancelComplete, false),
            (CancelInProgress, Pending, false),
            (CancelInProgress, InProgress, false),
            (CancelInProgress, CancelInProgress, true),
            (CancelInProgress, CancelComplete, true),
            (CancelInProgress, Success, true),
            (CancelInProgress, Failed, true),
        ];
        for (from, to, allowed) in table {
            let outcome =
                decide_progress(&request_in(from, 2), &report(to), Timestamp::from_micros(9));
            assert_eq!(outcome.is_ok(), allowed, "{from:?} -> {to:?}");
            if let Err(error) = outcome {
                assert_eq!(error.code, ErrorCode::InvalidRequestState);
            }
        }
    }

    #[test]
    fn nothing_leaves_a_terminal_status() {
        for terminal in [Success, Failed, CancelComplete] {
            for to in OperationStatus::ALL {
                let error = decide_progress(
                    &request_in(terminal, 3),
                    &report(to),
                    Timestamp::from_micros(9),
                )
                .unwrap_err();
                assert_eq!(
                    error.message,
                    format!("Request token-1 is already in status {}", terminal.as_str())
                );
            }
        }
    }

    #[test]
    fn progress_keeps_identifier_and_model_but_not_the_message() {
        let Decision::Append(event) = decide_progress(
            &request_in(InProgress, 2),
            &report(Success),
            Timestamp::from_micros(9),
        )
        .unwrap() else {
            panic!("expected an event");
        };
        assert_eq!(event.operation_status, Success);
        assert_eq!(event.identifier.as_deref(), Some("group-1"));
        assert_eq!(event.resource_model.as_deref(), Some("{\"a\":1}"));
        assert_eq!(event.status_message, None);
        assert_eq!(event.event_time, Timestamp::from_micros(9));
    }

    #[test]
    fn error_codes_only_come_with_failed() {
        let mut failing = report(InProgress);
        failing.error_code = Some(HandlerErrorCode::NotFound);
        let error = decide_progress(&request_in(Pending, 1), &failing, Timestamp::from_micros(9))
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidParameter);
        failing.operation_status = Failed;
        assert!(
            decide_progress(&request_in(Pending, 1), &failing, Timestamp::from_micros(9)).is_ok()
        );
    }

    #[test]
    fn cancel_follows_the_status() {
        let now = Timestamp::from_micros(9);
        let appended = |status, count| match decide_cancel(&request_in(status, count), now) {
            Ok(Decision::Append(event)) => Some(event.operation_status),
            Ok(Decision::Unchanged) => None,
            Ok(Decision::Leased { .. }) => panic!("a cancel is no lease holder's write"),
            Err(error) => panic!("unexpected {error}"),
        };
        assert_eq!(appended(Pending, 1), Some(CancelComplete));
        assert_eq!(appended(Pending, 2), Some(CancelInProgress));
        assert_eq!(appended(InProgress, 3), Some(CancelInProgress));
        assert_eq!(appended(CancelInProgress, 3), None);
        assert_eq!(appended(CancelComplete, 3), None);
        for refused in [Success, Failed] {
            let error = decide_cancel(&request_in(refused, 3), now).unwrap_err();
            assert_eq!(
                error.code.aws_name(crate::domain::ApiFamily::CloudControl),
                "ValidationException"
            );
            assert_eq!(error.code, ErrorCode::InvalidRequestState);
            assert_eq!(
                error.message,
                format!("Request token-1 is already in status {}", refused.as_str())
            );
        }
    }

    #[test]
    fn enum_wire_names_round_trip() {
        for operation in Operation::ALL {
            assert_eq!(Operation::from_aws(operation.as_str()), Some(operation));
        }
        for status in OperationStatus::ALL {
            assert_eq!(OperationStatus::from_aws(status.as_str()), Some(status));
        }
        for code in HandlerErrorCode::ALL {
            assert_eq!(HandlerErrorCode::from_aws(code.as_str()), Some(code));
        }
        assert_eq!(OperationStatus::from_aws("in_progress"), None);
    }
}
