//! Cloud Control (`CloudApiService.*`): wire shapes to domain values, the
//! resource request service, and back. The account comes from the access key;
//! model constraints are checked by the domain newtypes and reported as
//! `ValidationException` naming the member.

use super::credentials::Caller;
use super::error::FacadeError;
use super::shapes::{
    CreateResourceInput, DeleteResourceInput, GetResourceRequestStatusOutput,
    ListResourceRequestsInput, ListResourceRequestsOutput, ProgressEventOutput, RequestTokenInput,
    UpdateResourceInput,
};
use crate::domain::resource_request::{Operation, OperationStatus, ResourceRequestInput};
use crate::domain::values::{
    ClientToken, Identifier, JsonDocument, MaxResults, NextToken, RequestToken, RoleArn, TypeName,
    TypeVersionId,
};
use crate::domain::{AccountId, Error, FieldViolation};
use crate::service::{ListRequest, ResourceRequestService};

fn invalid(violation: FieldViolation) -> FacadeError {
    Error::invalid_input(violation).into()
}

/// Parses an optional member.
fn optional<T>(
    value: Option<String>,
    parse: impl FnOnce(String) -> Result<T, FieldViolation>,
) -> Result<Option<T>, FacadeError> {
    value.map(parse).transpose().map_err(invalid)
}

/// Parses a required member; absent is `Member must not be null`.
fn required<T>(
    member: &'static str,
    value: Option<String>,
    parse: impl FnOnce(String) -> Result<T, FieldViolation>,
) -> Result<T, FacadeError> {
    value
        .ok_or_else(|| FieldViolation::missing(member))
        .and_then(parse)
        .map_err(invalid)
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

fn operations(values: Vec<String>) -> Result<Vec<Operation>, FacadeError> {
    let allowed = Operation::ALL.map(Operation::as_str);
    values
        .iter()
        .map(|value| {
            Operation::from_aws(value).ok_or_else(|| enum_violation("Operations", value, &allowed))
        })
        .collect::<Result<_, _>>()
        .map_err(invalid)
}

fn operation_statuses(values: Vec<String>) -> Result<Vec<OperationStatus>, FacadeError> {
    let allowed = OperationStatus::ALL.map(OperationStatus::as_str);
    values
        .iter()
        .map(|value| {
            OperationStatus::from_aws(value)
                .ok_or_else(|| enum_violation("OperationStatuses", value, &allowed))
        })
        .collect::<Result<_, _>>()
        .map_err(invalid)
}

pub async fn get_resource_request_status(
    service: &ResourceRequestService,
    caller: &Caller,
    input: RequestTokenInput,
) -> Result<GetResourceRequestStatusOutput, FacadeError> {
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
) -> Result<ProgressEventOutput, FacadeError> {
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
) -> Result<ListResourceRequestsOutput, FacadeError> {
    let account = account(service, caller);
    let filter = input.resource_request_status_filter.unwrap_or_default();
    let request = ListRequest {
        operations: operations(filter.operations.unwrap_or_default())?,
        statuses: operation_statuses(filter.operation_statuses.unwrap_or_default())?,
        max_results: MaxResults::parse(input.max_results).map_err(invalid)?,
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
    ) -> Result<Self, FacadeError> {
        Ok(Self {
            type_name: required(TypeName::MEMBER, type_name, TypeName::parse)?,
            type_version_id: optional(type_version_id, TypeVersionId::parse)?,
            role_arn: optional(role_arn, RoleArn::parse)?,
            client_token: optional(client_token, ClientToken::parse)?,
        })
    }
}

/// Records a create, update or delete request (the service settles
/// `ClientToken` idempotency).
async fn record(
    service: &ResourceRequestService,
    account: &AccountId,
    client_token: Option<ClientToken>,
    input: ResourceRequestInput,
) -> Result<ProgressEventOutput, FacadeError> {
    let event = service.create(account, client_token, input).await?;
    Ok(ProgressEventOutput {
        progress_event: event.into(),
    })
}

fn json_document(member: &'static str, value: Option<String>) -> Result<JsonDocument, FacadeError> {
    required(member, value, |value| JsonDocument::parse(member, value))
}

pub async fn create_resource(
    service: &ResourceRequestService,
    caller: &Caller,
    input: CreateResourceInput,
) -> Result<ProgressEventOutput, FacadeError> {
    let account = account(service, caller);
    let target = ResourceTarget::parse(
        input.type_name,
        input.type_version_id,
        input.role_arn,
        input.client_token,
    )?;
    let request = ResourceRequestInput {
        operation: Operation::Create,
        type_name: target.type_name,
        identifier: None,
        desired_state: Some(json_document("DesiredState", input.desired_state)?),
        patch_document: None,
        role_arn: target.role_arn,
        type_version_id: target.type_version_id,
    };
    record(service, &account, target.client_token, request).await
}

pub async fn update_resource(
    service: &ResourceRequestService,
    caller: &Caller,
    input: UpdateResourceInput,
) -> Result<ProgressEventOutput, FacadeError> {
    let account = account(service, caller);
    let target = ResourceTarget::parse(
        input.type_name,
        input.type_version_id,
        input.role_arn,
        input.client_token,
    )?;
    let request = ResourceRequestInput {
        operation: Operation::Update,
        type_name: target.type_name,
        identifier: Some(required(
            Identifier::MEMBER,
            input.identifier,
            Identifier::parse,
        )?),
        desired_state: None,
        patch_document: Some(json_document("PatchDocument", input.patch_document)?),
        role_arn: target.role_arn,
        type_version_id: target.type_version_id,
    };
    record(service, &account, target.client_token, request).await
}

pub async fn delete_resource(
    service: &ResourceRequestService,
    caller: &Caller,
    input: DeleteResourceInput,
) -> Result<ProgressEventOutput, FacadeError> {
    let account = account(service, caller);
    let target = ResourceTarget::parse(
        input.type_name,
        input.type_version_id,
        input.role_arn,
        input.client_token,
    )?;
    let request = ResourceRequestInput {
        operation: Operation::Delete,
        type_name: target.type_name,
        identifier: Some(required(
            Identifier::MEMBER,
            input.identifier,
            Identifier::parse,
        )?),
        desired_state: None,
        patch_document: None,
        role_arn: target.role_arn,
        type_version_id: target.type_version_id,
    };
    record(service, &account, target.client_token, request).await
}
