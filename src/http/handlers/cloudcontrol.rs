//! Cloud Control (`CloudApiService.*`): wire shapes to domain values, the
//! resource request and resource services, and back. The account comes from
//! the access key, the region from the SigV4 credential scope (the server's
//! `--default-region` when the request names none); model constraints are
//! checked by the domain newtypes and reported as `ValidationException`
//! naming the member.

use crate::domain::resource::AccountRegion;
use crate::domain::resource_request::{Operation, OperationStatus, ResourceRequestInput};
use crate::domain::values::Region;
use crate::domain::values::{
    ClientToken, Identifier, JsonDocument, MaxResults, NextToken, RequestToken, RoleArn, TypeName,
    TypeVersionId,
};
use crate::domain::{Error, FieldViolation};
use crate::http::protocol::Caller;
use crate::http::shapes::{
    CreateResourceInput, DeleteResourceInput, GetResourceInput, GetResourceOutput,
    GetResourceRequestStatusOutput, ListResourceRequestsInput, ListResourceRequestsOutput,
    ListResourcesInput, ListResourcesOutput, ProgressEventOutput, RequestTokenInput,
    UpdateResourceInput,
};
use crate::service::{ListRequest, ResourceListRequest, ResourceRequestService, ResourceService};

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

/// The account and region a caller acts in.
fn scope(service: &ResourceRequestService, caller: &Caller) -> Result<AccountRegion, Error> {
    let account = caller.account(service.default_account());
    crate::telemetry::record_account(&account);
    let region = match caller.region() {
        Some(region) => Region::parse(region).map_err(Error::invalid_input)?,
        None => service.default_region().clone(),
    };
    Ok(AccountRegion::new(account, region))
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

fn operations(values: Vec<String>) -> Result<Vec<Operation>, Error> {
    let allowed = Operation::ALL.map(Operation::as_str);
    values
        .iter()
        .map(|value| {
            Operation::from_aws(value).ok_or_else(|| enum_violation("Operations", value, &allowed))
        })
        .collect::<Result<_, _>>()
        .map_err(Error::invalid_input)
}

fn operation_statuses(values: Vec<String>) -> Result<Vec<OperationStatus>, Error> {
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
    let scope = scope(service, caller)?;
    let token = required(
        RequestToken::MEMBER,
        input.request_token,
        RequestToken::parse,
    )?;
    let (event, hooks) = service.get_status_with_hooks(&scope, &token).await?;
    Ok(GetResourceRequestStatusOutput {
        progress_event: event.into(),
        hooks_progress_event: hooks.into_iter().map(Into::into).collect(),
    })
}

pub async fn cancel_resource_request(
    service: &ResourceRequestService,
    caller: &Caller,
    input: RequestTokenInput,
) -> Result<ProgressEventOutput, Error> {
    let scope = scope(service, caller)?;
    let token = required(
        RequestToken::MEMBER,
        input.request_token,
        RequestToken::parse,
    )?;
    let event = service.cancel(&scope, &token).await?;
    Ok(ProgressEventOutput {
        progress_event: event.into(),
    })
}

pub async fn list_resource_requests(
    service: &ResourceRequestService,
    caller: &Caller,
    input: ListResourceRequestsInput,
) -> Result<ListResourceRequestsOutput, Error> {
    let scope = scope(service, caller)?;
    let filter = input.resource_request_status_filter.unwrap_or_default();
    let request = ListRequest {
        operations: operations(filter.operations.unwrap_or_default())?,
        statuses: operation_statuses(filter.operation_statuses.unwrap_or_default())?,
        max_results: MaxResults::parse(input.max_results).map_err(Error::invalid_input)?,
        next_token: optional(input.next_token, NextToken::parse)?,
    };
    let page = service.list(&scope, &request).await?;
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
    scope: &AccountRegion,
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
    let event = service.create(scope, target.client_token, input).await?;
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
    let scope = scope(service, caller)?;
    let target = ResourceTarget::parse(
        input.type_name,
        input.type_version_id,
        input.role_arn,
        input.client_token,
    )?;
    let change = Change::Create {
        desired_state: json_document("DesiredState", input.desired_state)?,
    };
    record(service, &scope, target, change).await
}

pub async fn update_resource(
    service: &ResourceRequestService,
    caller: &Caller,
    input: UpdateResourceInput,
) -> Result<ProgressEventOutput, Error> {
    let scope = scope(service, caller)?;
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
    record(service, &scope, target, change).await
}

pub async fn delete_resource(
    service: &ResourceRequestService,
    caller: &Caller,
    input: DeleteResourceInput,
) -> Result<ProgressEventOutput, Error> {
    let scope = scope(service, caller)?;
    let target = ResourceTarget::parse(
        input.type_name,
        input.type_version_id,
        input.role_arn,
        input.client_token,
    )?;
    let change = Change::Delete {
        identifier: identifier(input.identifier)?,
    };
    record(service, &scope, target, change).await
}

pub async fn get_resource(
    requests: &ResourceRequestService,
    resources: &ResourceService,
    caller: &Caller,
    input: GetResourceInput,
) -> Result<GetResourceOutput, Error> {
    let scope = scope(requests, caller)?;
    let type_name = required(TypeName::MEMBER, input.type_name, TypeName::parse)?;
    optional(input.type_version_id, TypeVersionId::parse)?;
    optional(input.role_arn, RoleArn::parse)?;
    let identifier = identifier(input.identifier)?;
    let description = resources.get(&scope, &type_name, &identifier).await?;
    Ok(GetResourceOutput {
        type_name: type_name.into_string(),
        resource_description: description.into(),
    })
}

pub async fn list_resources(
    requests: &ResourceRequestService,
    resources: &ResourceService,
    caller: &Caller,
    input: ListResourcesInput,
) -> Result<ListResourcesOutput, Error> {
    let scope = scope(requests, caller)?;
    let type_name = required(TypeName::MEMBER, input.type_name, TypeName::parse)?;
    optional(input.type_version_id, TypeVersionId::parse)?;
    optional(input.role_arn, RoleArn::parse)?;
    let request = ResourceListRequest {
        type_name: type_name.clone(),
        resource_model: optional(input.resource_model, |value| {
            JsonDocument::parse("ResourceModel", value)
        })?,
        max_results: MaxResults::parse(input.max_results).map_err(Error::invalid_input)?,
        next_token: optional(input.next_token, NextToken::parse)?,
    };
    let page = resources.list(&scope, &request).await?;
    Ok(ListResourcesOutput {
        type_name: type_name.into_string(),
        resource_descriptions: page.descriptions.into_iter().map(Into::into).collect(),
        next_token: page.next_token,
    })
}
