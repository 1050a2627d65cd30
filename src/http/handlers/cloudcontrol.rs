//! Cloud Control (`CloudApiService.*`): wire shapes to domain values, the
//! resource request service, and back. The account comes from the access key;
//! model constraints are checked by the domain newtypes and reported as
//! `ValidationException` naming the member.

use crate::domain::resource_request::{Operation, OperationStatus, ResourceRequestInput};
use crate::domain::values::{
    ClientToken, Identifier, JsonDocument, MaxResults, NextToken, RequestToken, RoleArn, TypeName,
    TypeVersionId,
};
use crate::domain::{AccountId, Error, FieldViolation};
use crate::http::protocol::Caller;
use crate::http::shapes::{
    CreateResourceInput, DeleteResourceInput, GetResourceRequestStatusOutput,
    ListResourceRequestsInput, ListResourceRequestsOutput, ProgressEventOutput, RequestTokenInput,
    UpdateResourceInput,
};
use crate::service::{ListRequest, ResourceRequestService};

/// Parses an optional member.
fn optional<T>(
    value: Option<String>,
    parse: impl FnOnce(String) -> Result<T, FieldViolation>,
) -> Result<Option<T>, Error> {
    value.map(parse).transpose().map_err(Error::invalid_input)
}

/// Parses a required member; absent is `Member must not be null`.
fn required<T>(
    member: &'static str,
    value: Option<String>,
    parse: impl FnOnce(String) -> Result<T, FieldViolation>,
) -> Result<T, Error> {
    value
        .ok_or_else(|| FieldViolation::missing(member))
        .and_then(parse)
        .map_err(Error::invalid_input)
}

fn account(service: &ResourceRequestService, caller: &Caller) -> AccountId {
    let account = caller.account(service.default_account());
    crate::telemetry::record_account(&account);
    account
}

/// `Member must satisfy enum value set: [...]`, as AWS words it.
fn enum_violation(member: &'static str, value: &str, allowed: &[&str]) -> FieldViolation {
    FieldViolation::invalid(
        member,
        value,
        format!(
            "Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        ),
    )
}

/// The `Operations` filter of `ListResourceRequests`, each one of the enum.
pub fn operations(values: Vec<String>) -> Result<Vec<Operation>, Error> {
    let allowed = Operation::ALL.map(Operation::as_str);
    values
        .iter()
        .map(|value| {
            Operation::from_aws(value).ok_or_else(|| enum_violation("Operations", value, &allowed))
        })
        .collect::<Result<_, _>>()
        .map_err(Error::invalid_input)
}

/// The `OperationStatuses` filter of `ListResourceRequests`, each one of the enum.
pub fn operation_statuses(values: Vec<String>) -> Result<Vec<OperationStatus>, Error> {
    let allowed = OperationStatus::ALL.map(OperationStatus::as_str);
    values
        .iter()
        .map(|value| {
            OperationStatus::from_aws(value)
                .ok_or_else(|| enum_violation("OperationStatuses", value, &allowed))
        })
        .collect::<Result<_, _>>()
        .map_err(Error::invalid_input)
}

pub async fn get_resource_request_status(
    service: &ResourceRequestService,
    caller: &Caller,
    input: RequestTokenInput,
) -> Result<GetResourceRequestStatusOutput, Error> {
    let account = account(service, caller);
    let token = required(
        RequestToken::MEMBER,
        input.request_token,
        RequestToken::parse,
    )?;
    let event = service.get_status(&account, &token).await?;
    Ok(GetResourceRequestStatusOutput {
        progress_event: event.into(),
        // statusgate runs no hooks.
        hooks_progress_event: Vec::new(),
    })
}

pub async fn cancel_resource_request(
    service: &ResourceRequestService,
    caller: &Caller,
    input: RequestTokenInput,
) -> Result<ProgressEventOutput, Error> {
    let account = account(service, caller);
    let token = required(
        RequestToken::MEMBER,
        input.request_token,
        RequestToken::parse,
    )?;
    let event = service.cancel(&account, &token).await?;
    Ok(ProgressEventOutput {
        progress_event: event.into(),
    })
}

pub async fn list_resource_requests(
    service: &ResourceRequestService,
    caller: &Caller,
    input: ListResourceRequestsInput,
) -> Result<ListResourceRequestsOutput, Error> {
    let account = account(service, caller);
    let filter = input.resource_request_status_filter.unwrap_or_default();
    let request = ListRequest {
        operations: operations(filter.operations.unwrap_or_default())?,
        statuses: operation_statuses(filter.operation_statuses.unwrap_or_default())?,
        max_results: MaxResults::parse(input.max_results).map_err(Error::invalid_input)?,
        next_token: optional(input.next_token, NextToken::parse)?,
    };
    let page = service.list(&account, &request).await?;
    Ok(ListResourceRequestsOutput {
        resource_request_status_summaries: page.summaries.into_iter().map(Into::into).collect(),
        next_token: page.next_token,
    })
}

/// The members every resource operation shares, parsed.
struct ResourceTarget {
    type_name: TypeName,
    type_version_id: Option<TypeVersionId>,
    role_arn: Option<RoleArn>,
    client_token: Option<ClientToken>,
}

impl ResourceTarget {
    fn parse(
        type_name: Option<String>,
        type_version_id: Option<String>,
        role_arn: Option<String>,
        client_token: Option<String>,
    ) -> Result<Self, Error> {
        Ok(Self {
            type_name: required(TypeName::MEMBER, type_name, TypeName::parse)?,
            type_version_id: optional(type_version_id, TypeVersionId::parse)?,
            role_arn: optional(role_arn, RoleArn::parse)?,
            client_token: optional(client_token, ClientToken::parse)?,
        })
    }
}

/// What a create, update or delete request changes, parsed.
enum Change {
    Create {
        desired_state: JsonDocument,
    },
    Update {
        identifier: Identifier,
        patch_document: JsonDocument,
    },
    Delete {
        identifier: Identifier,
    },
}

/// Records a create, update or delete request (the service settles
/// `ClientToken` idempotency).
async fn record(
    service: &ResourceRequestService,
    account: &AccountId,
    target: ResourceTarget,
    change: Change,
) -> Result<ProgressEventOutput, Error> {
    let (operation, identifier, desired_state, patch_document) = match change {
        Change::Create { desired_state } => (Operation::Create, None, Some(desired_state), None),
        Change::Update {
            identifier,
            patch_document,
        } => (
            Operation::Update,
            Some(identifier),
            None,
            Some(patch_document),
        ),
        Change::Delete { identifier } => (Operation::Delete, Some(identifier), None, None),
    };
    let input = ResourceRequestInput {
        operation,
        type_name: target.type_name,
        identifier,
        desired_state,
        patch_document,
        role_arn: target.role_arn,
        type_version_id: target.type_version_id,
    };
    let event = service.create(account, target.client_token, input).await?;
    Ok(ProgressEventOutput {
        progress_event: event.into(),
    })
}

fn identifier(value: Option<String>) -> Result<Identifier, Error> {
    required(Identifier::MEMBER, value, Identifier::parse)
}

fn json_document(member: &'static str, value: Option<String>) -> Result<JsonDocument, Error> {
    required(member, value, |value| JsonDocument::parse(member, value))
}

pub async fn create_resource(
    service: &ResourceRequestService,
    caller: &Caller,
    input: CreateResourceInput,
) -> Result<ProgressEventOutput, Error> {
    let account = account(service, caller);
    let target = ResourceTarget::parse(
        input.type_name,
        input.type_version_id,
        input.role_arn,
        input.client_token,
    )?;
    let change = Change::Create {
        desired_state: json_document("DesiredState", input.desired_state)?,
    };
    record(service, &account, target, change).await
}

pub async fn update_resource(
    service: &ResourceRequestService,
    caller: &Caller,
    input: UpdateResourceInput,
) -> Result<ProgressEventOutput, Error> {
    let account = account(service, caller);
    let target = ResourceTarget::parse(
        input.type_name,
        input.type_version_id,
        input.role_arn,
        input.client_token,
    )?;
    let change = Change::Update {
        identifier: identifier(input.identifier)?,
        patch_document: json_document("PatchDocument", input.patch_document)?,
    };
    record(service, &account, target, change).await
}

pub async fn delete_resource(
    service: &ResourceRequestService,
    caller: &Caller,
    input: DeleteResourceInput,
) -> Result<ProgressEventOutput, Error> {
    let account = account(service, caller);
    let target = ResourceTarget::parse(
        input.type_name,
        input.type_version_id,
        input.role_arn,
        input.client_token,
    )?;
    let change = Change::Delete {
        identifier: identifier(input.identifier)?,
    };
    record(service, &account, target, change).await
}
