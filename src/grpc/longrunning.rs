//! `google.longrunning.Operations` over resource requests, so that gax-style
//! clients with built-in polling work unchanged. Every method is role
//! `client`.
//!
//! | Operation | from the request |
//! | --- | --- |
//! | `name` | `operations/<RequestToken>` |
//! | `metadata` | the current `statusgate.v1.ProgressEvent`, packed as `Any` |
//! | `done` | the status is terminal (`SUCCESS`, `FAILED`, `CANCEL_COMPLETE`) |
//! | `response` | on `SUCCESS`: the resource model as a `google.protobuf.Value` (JSON `null` when there is none) |
//! | `error` | on `FAILED`: code from the handler error code ([`handler_code`]), message from the status message, an `ErrorInfo` (reason: the handler error code, domain `statusgate`); on `CANCEL_COMPLETE`: `CANCELLED` |
//!
//! `GetOperation` reads the status, `ListOperations` lists like
//! `ListResourceRequests` ([`parse_filter`] for its filter),
//! `CancelOperation` is `CancelResourceRequest`, `WaitOperation` is
//! `WaitResourceRequest`, and `DeleteOperation` is `UNIMPLEMENTED`: requests
//! expire by retention.
//!
//! The longrunning messages have no account member: a caller bound to one
//! account acts on it; otherwise the account is the `statusgate-account-id`
//! metadata entry (the server's default account without it), resolved
//! through the caller's credential like any request's account. Nor have
//! they a region: the `statusgate-region` entry names it (the server's
//! `--default-region` without it).

use googleapis_tonic_google_longrunning::google::longrunning::{
    CancelOperationRequest, DeleteOperationRequest, GetOperationRequest, ListOperationsRequest,
    ListOperationsResponse, Operation, WaitOperationRequest, operation,
};
use googleapis_tonic_google_longrunning::google::rpc;
use prost::Message;
use prost_types::value::Kind;
use prost_types::{Any, ListValue, Struct, Value};
use tonic::{Code, Request, Response, Status};

use super::Empty;
use super::auth::{principal_of, resolve_account};
use super::convert;
use super::longrunning_server::operations_server::Operations;
use super::resource_requests::{invalid, to_status};
use super::status::ERROR_DOMAIN;
use super::watch::{wait_timeout, wait_within};
use crate::domain::resource::AccountRegion;
use crate::domain::resource_request::{HandlerErrorCode, OperationStatus, ProgressEvent};
use crate::domain::values::{MaxResults, NextToken, RequestToken};
use crate::domain::{AccountId, ApiFamily, FieldViolation};
use crate::service::{ListRequest, ResourceRequestService, WatchService};

/// The type of `Operation.metadata`.
pub const METADATA_TYPE_URL: &str = "type.googleapis.com/statusgate.v1.ProgressEvent";
/// The type of `Operation.response`.
pub const RESPONSE_TYPE_URL: &str = "type.googleapis.com/google.protobuf.Value";
const ERROR_INFO_TYPE_URL: &str = "type.googleapis.com/google.rpc.ErrorInfo";
/// The metadata entry naming the caller's account.
pub const ACCOUNT_METADATA: &str = "statusgate-account-id";
/// The metadata entry naming the caller's region.
pub const REGION_METADATA: &str = "statusgate-region";
const NAME_PREFIX: &str = "operations/";

pub struct OperationsApi {
    requests: ResourceRequestService,
    watches: WatchService,
}

impl OperationsApi {
    pub fn new(requests: ResourceRequestService, watches: WatchService) -> Self {
        Self { requests, watches }
    }

    /// The account and region a call acts in: the account of the
    /// `statusgate-account-id` entry, resolved through the caller's
    /// credential like any request's account, and the region of the
    /// `statusgate-region` entry.
    fn scope<T>(&self, request: &Request<T>) -> Result<AccountRegion, Status> {
        let region = match request.metadata().get(REGION_METADATA) {
            Some(value) => value.to_str().map_err(|_| {
                invalid(FieldViolation::invalid(
                    "Region",
                    "",
                    "Member must be ASCII",
                ))
            })?,
            None => "",
        };
        let region =
            convert::region_or_default(region, self.requests.default_region()).map_err(invalid)?;
        Ok(AccountRegion::new(self.account(request)?, region))
    }

    /// The account a call acts on.
    fn account<T>(&self, request: &Request<T>) -> Result<AccountId, Status> {
        let metadata = request.metadata();
        let value = match metadata.get(ACCOUNT_METADATA) {
            Some(value) => value.to_str().map_err(|_| {
                invalid(FieldViolation::invalid(
                    AccountId::MEMBER,
                    "",
                    "Member must be ASCII",
                ))
            })?,
            None => "",
        };
        resolve_account(
            principal_of(request).as_ref(),
            value,
            self.requests.default_account(),
            ApiFamily::CloudControl,
        )
    }
}

/// The request token an operation name names.
fn request_token_of(name: String) -> Result<RequestToken, Status> {
    if name.is_empty() {
        return Err(invalid(FieldViolation::missing("Name")));
    }
    let Some(token) = name.strip_prefix(NAME_PREFIX) else {
        return Err(invalid(FieldViolation::invalid(
            "Name",
            &name,
            "Member must be operations/<RequestToken>",
        )));
    };
    RequestToken::parse(token).map_err(invalid)
}

/// The google.rpc code of a failed request, from its handler error code.
pub const fn handler_code(code: Option<HandlerErrorCode>) -> Code {
    let Some(code) = code else {
        return Code::Unknown;
    };
    match code {
        HandlerErrorCode::InvalidRequest => Code::InvalidArgument,
        HandlerErrorCode::NotUpdatable => Code::FailedPrecondition,
        HandlerErrorCode::AccessDenied | HandlerErrorCode::UnauthorizedTaggingOperation => {
            Code::PermissionDenied
        }
        HandlerErrorCode::InvalidCredentials => Code::Unauthenticated,
        HandlerErrorCode::AlreadyExists => Code::AlreadyExists,
        HandlerErrorCode::NotFound => Code::NotFound,
        HandlerErrorCode::ResourceConflict => Code::Aborted,
        HandlerErrorCode::Throttling | HandlerErrorCode::ServiceLimitExceeded => {
            Code::ResourceExhausted
        }
        HandlerErrorCode::NotStabilized | HandlerErrorCode::ServiceTimeout => {
            Code::DeadlineExceeded
        }
        HandlerErrorCode::NetworkFailure => Code::Unavailable,
        HandlerErrorCode::GeneralServiceException => Code::Unknown,
        HandlerErrorCode::ServiceInternalError | HandlerErrorCode::InternalFailure => {
            Code::Internal
        }
    }
}

/// JSON as a `google.protobuf.Value`. Hand-written: the JSON mapping crates
/// (pbjson-types, prost-wkt-types) bring their own `Value` types, and this
/// is a dozen lines over `prost_types`.
fn json_value(json: serde_json::Value) -> Value {
    let kind = match json {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(value) => Kind::BoolValue(value),
        serde_json::Value::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(text) => Kind::StringValue(text),
        serde_json::Value::Array(items) => Kind::ListValue(ListValue {
            values: items.into_iter().map(json_value).collect(),
        }),
        serde_json::Value::Object(members) => Kind::StructValue(Struct {
            fields: members
                .into_iter()
                .map(|(name, value)| (name, json_value(value)))
                .collect(),
        }),
    };
    Value { kind: Some(kind) }
}

/// A request's current state as an operation.
pub fn operation_of(event: ProgressEvent) -> Operation {
    let name = format!("{NAME_PREFIX}{}", event.request_token);
    let done = event.operation_status.is_terminal();
    let result = match event.operation_status {
        OperationStatus::Success => {
            let model = event
                .resource_model
                .as_deref()
                .and_then(|model| serde_json::from_str(model).ok())
                .unwrap_or(serde_json::Value::Null);
            Some(operation::Result::Response(Any {
                type_url: RESPONSE_TYPE_URL.to_owned(),
                value: json_value(model).encode_to_vec(),
            }))
        }
        OperationStatus::Failed => {
            let reason = event.error_code.map_or("", HandlerErrorCode::as_str);
            let info = rpc::ErrorInfo {
                reason: reason.to_owned(),
                domain: ERROR_DOMAIN.to_owned(),
                metadata: Default::default(),
            };
            Some(operation::Result::Error(rpc::Status {
                code: handler_code(event.error_code) as i32,
                message: event
                    .status_message
                    .clone()
                    .unwrap_or_else(|| format!("Request {} failed", event.request_token)),
                details: vec![Any {
                    type_url: ERROR_INFO_TYPE_URL.to_owned(),
                    value: info.encode_to_vec(),
                }],
            }))
        }
        OperationStatus::CancelComplete => Some(operation::Result::Error(rpc::Status {
            code: Code::Cancelled as i32,
            message: format!("Request {} was cancelled", event.request_token),
            details: Vec::new(),
        })),
        OperationStatus::Pending
        | OperationStatus::InProgress
        | OperationStatus::CancelInProgress => None,
    };
    let metadata = Any {
        type_url: METADATA_TYPE_URL.to_owned(),
        value: convert::progress_event_to_proto(event).encode_to_vec(),
    };
    Operation {
        name,
        metadata: Some(metadata),
        done,
        result,
    }
}

/// `ListOperations` filters: empty (everything), or terms joined by ` OR `,
/// each `status=<OperationStatus>` (`PENDING`, `IN_PROGRESS`, `SUCCESS`,
/// `FAILED`, `CANCEL_IN_PROGRESS`, `CANCEL_COMPLETE`), `done=true` (the
/// terminal statuses) or `done=false` (the others); spaces around `=` and
/// `OR` are allowed. Anything else is refused.
pub fn parse_filter(filter: &str) -> Result<Vec<OperationStatus>, FieldViolation> {
    let refuse = |why: &str| {
        FieldViolation::invalid(
            "Filter",
            filter,
            format!(
                "Member must be terms like status=IN_PROGRESS or done=true joined by OR: {why}"
            ),
        )
    };
    let mut statuses = Vec::new();
    if filter.trim().is_empty() {
        return Ok(statuses);
    }
    for term in filter.split(" OR ") {
        let Some((field, value)) = term.split_once('=') else {
            return Err(refuse(&format!("{:?} has no '='", term.trim())));
        };
        let matching: Vec<OperationStatus> = match (field.trim(), value.trim()) {
            ("status", name) => match OperationStatus::from_aws(name) {
                Some(status) => vec![status],
                None => return Err(refuse(&format!("unknown status {name:?}"))),
            },
            ("done", "true") => OperationStatus::ALL
                .into_iter()
                .filter(|status| status.is_terminal())
                .collect(),
            ("done", "false") => OperationStatus::ALL
                .into_iter()
                .filter(|status| !status.is_terminal())
                .collect(),
            (field, value) => return Err(refuse(&format!("cannot filter on {field}={value}"))),
        };
        for status in matching {
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
    }
    Ok(statuses)
}

/// AIP-158 page sizes: 0 is the default (20), more than 100 is 100.
fn page_size(value: i32) -> Result<MaxResults, Status> {
    match value {
        0 => Ok(MaxResults::DEFAULT),
        size if size < 0 => Err(invalid(FieldViolation::invalid(
            "PageSize",
            &size.to_string(),
            "Member must have value greater than or equal to 0",
        ))),
        size => MaxResults::parse(Some(i64::from(size.min(100)))).map_err(invalid),
    }
}

#[tonic::async_trait]
impl Operations for OperationsApi {
    async fn list_operations(
        &self,
        request: Request<ListOperationsRequest>,
    ) -> Result<Response<ListOperationsResponse>, Status> {
        let scope = self.scope(&request)?;
        let request = request.into_inner();
        if !(request.name.is_empty() || request.name == "operations") {
            return Err(invalid(FieldViolation::invalid(
                "Name",
                &request.name,
                "Member must be empty or operations",
            )));
        }
        let list = ListRequest {
            operations: Vec::new(),
            statuses: parse_filter(&request.filter).map_err(invalid)?,
            max_results: page_size(request.page_size)?,
            next_token: match request.page_token.as_str() {
                "" => None,
                token => Some(NextToken::parse(token).map_err(invalid)?),
            },
        };
        let page = self.requests.list(&scope, &list).await.map_err(to_status)?;
        Ok(Response::new(ListOperationsResponse {
            operations: page.summaries.into_iter().map(operation_of).collect(),
            next_page_token: page.next_token.unwrap_or_default(),
            unreachable: Vec::new(),
        }))
    }

    async fn get_operation(
        &self,
        request: Request<GetOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        let scope = self.scope(&request)?;
        let token = request_token_of(request.into_inner().name)?;
        let event = self
            .requests
            .get_status(&scope, &token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(operation_of(event)))
    }

    async fn delete_operation(
        &self,
        _request: Request<DeleteOperationRequest>,
    ) -> Result<Response<Empty>, Status> {
        Err(Status::unimplemented(
            "Operations cannot be deleted: requests expire by themselves after the retention period (--request-retention)",
        ))
    }

    async fn cancel_operation(
        &self,
        request: Request<CancelOperationRequest>,
    ) -> Result<Response<Empty>, Status> {
        let scope = self.scope(&request)?;
        let token = request_token_of(request.into_inner().name)?;
        self.requests
            .cancel(&scope, &token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(()))
    }

    async fn wait_operation(
        &self,
        request: Request<WaitOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        let scope = self.scope(&request)?;
        let within = wait_within(request.metadata());
        let request = request.into_inner();
        let token = request_token_of(request.name)?;
        let timeout = wait_timeout(request.timeout)?;
        let event = self
            .watches
            .wait(&scope, &token, timeout, within)
            .await
            .map_err(to_status)?;
        Ok(Response::new(operation_of(event)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;
    use crate::domain::resource_request::Operation as RequestOperation;

    fn event(status: OperationStatus) -> ProgressEvent {
        ProgressEvent {
            type_name: "AWS::Logs::LogGroup".into(),
            identifier: Some("app-logs".into()),
            request_token: "token-1".into(),
            hooks_request_token: None,
            operation: RequestOperation::Create,
            operation_status: status,
            event_time: Timestamp::from_micros(1_000_000),
            resource_model: Some(r#"{"LogGroupName":"app-logs","RetentionInDays":7}"#.into()),
            status_message: Some("it broke".into()),
            error_code: Some(HandlerErrorCode::NotFound),
            retry_after: None,
        }
    }

    #[test]
    fn each_handler_error_code_has_a_grpc_code() {
        use HandlerErrorCode::*;
        let table = [
            (NotUpdatable, Code::FailedPrecondition),
            (InvalidRequest, Code::InvalidArgument),
            (AccessDenied, Code::PermissionDenied),
            (UnauthorizedTaggingOperation, Code::PermissionDenied),
            (InvalidCredentials, Code::Unauthenticated),
            (AlreadyExists, Code::AlreadyExists),
            (NotFound, Code::NotFound),
            (ResourceConflict, Code::Aborted),
            (Throttling, Code::ResourceExhausted),
            (ServiceLimitExceeded, Code::ResourceExhausted),
            (NotStabilized, Code::DeadlineExceeded),
            (GeneralServiceException, Code::Unknown),
            (ServiceInternalError, Code::Internal),
            (ServiceTimeout, Code::DeadlineExceeded),
            (NetworkFailure, Code::Unavailable),
            (InternalFailure, Code::Internal),
        ];
        assert_eq!(table.len(), HandlerErrorCode::ALL.len());
        for (code, grpc) in table {
            assert_eq!(handler_code(Some(code)), grpc, "{code:?}");
        }
        assert_eq!(handler_code(None), Code::Unknown);
    }

    #[test]
    fn operations_carry_the_event_and_their_outcome() {
        let running = operation_of(event(OperationStatus::InProgress));
        assert_eq!(running.name, "operations/token-1");
        assert!(!running.done);
        assert!(running.result.is_none());
        let metadata = running.metadata.unwrap();
        assert_eq!(metadata.type_url, METADATA_TYPE_URL);
        let decoded = crate::grpc::proto::ProgressEvent::decode(metadata.value.as_slice()).unwrap();
        assert_eq!(decoded.request_token, "token-1");

        let succeeded = operation_of(event(OperationStatus::Success));
        assert!(succeeded.done);
        let Some(operation::Result::Response(response)) = succeeded.result else {
            panic!("a response");
        };
        assert_eq!(response.type_url, RESPONSE_TYPE_URL);
        let Some(Kind::StructValue(model)) = Value::decode(response.value.as_slice()).unwrap().kind
        else {
            panic!("a struct");
        };
        assert_eq!(
            model.fields["RetentionInDays"].kind,
            Some(Kind::NumberValue(7.0))
        );

        let Some(operation::Result::Error(failed)) =
            operation_of(event(OperationStatus::Failed)).result
        else {
            panic!("an error");
        };
        assert_eq!(failed.code, Code::NotFound as i32);
        assert_eq!(failed.message, "it broke");
        let info = rpc::ErrorInfo::decode(failed.details[0].value.as_slice()).unwrap();
        assert_eq!(info.reason, "NotFound");

        let Some(operation::Result::Error(cancelled)) =
            operation_of(event(OperationStatus::CancelComplete)).result
        else {
            panic!("an error");
        };
        assert_eq!(cancelled.code, Code::Cancelled as i32);
    }

    #[test]
    fn filters_accept_status_and_done_terms_joined_by_or() {
        use OperationStatus::*;
        let table: [(&str, &[OperationStatus]); 6] = [
            ("", &[]),
            ("status=IN_PROGRESS", &[InProgress]),
            ("status = PENDING OR status=FAILED", &[Pending, Failed]),
            ("done=true", &[Success, Failed, CancelComplete]),
            ("done = false", &[Pending, InProgress, CancelInProgress]),
            (
                "status=SUCCESS OR done=true",
                &[Success, Failed, CancelComplete],
            ),
        ];
        for (filter, expected) in table {
            assert_eq!(parse_filter(filter).unwrap(), expected, "{filter:?}");
        }
        for refused in [
            "status=in_progress",
            "status:IN_PROGRESS",
            "name=x",
            "status=PENDING or status=FAILED",
            "status=PENDING AND done=false",
            "done=maybe",
        ] {
            let violation = parse_filter(refused).unwrap_err();
            assert_eq!(violation.member, "Filter", "{refused}");
        }
    }

    #[test]
    fn names_must_be_operations_slash_a_request_token() {
        assert_eq!(
            request_token_of("operations/abc-123".into())
                .unwrap()
                .as_str(),
            "abc-123"
        );
        for bad in ["", "abc-123", "operations/", "operations/a b"] {
            let status = request_token_of(bad.into()).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{bad}");
        }
    }
}
