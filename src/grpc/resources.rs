//! `statusgate.v1.ResourceService`: `GetResource` and `ListResources`, the
//! same service calls as the facade's, in the account and region the
//! request names (resolved like every Cloud Control request's).

use tonic::{Request, Response, Status};

use super::auth::{principal_of, resolve_account};
use super::convert;
use super::proto::resource_service_server::ResourceService as ResourceServiceApi;
use super::proto::{
    GetResourceRequest, GetResourceResponse, ListResourcesRequest, ListResourcesResponse,
    ResourceDescription as ProtoDescription,
};
use super::resource_requests::{invalid, optional, to_status};
use crate::domain::resource::AccountRegion;
use crate::domain::values::{
    Identifier, JsonDocument, MaxResults, NextToken, RoleArn, TypeName, TypeVersionId,
};
use crate::domain::{ApiFamily, FieldViolation};
use crate::service::{
    ResourceDescription, ResourceListRequest, ResourceRequestService, ResourceService,
};

pub struct ResourceApi {
    requests: ResourceRequestService,
    resources: ResourceService,
}

impl ResourceApi {
    pub fn new(requests: ResourceRequestService, resources: ResourceService) -> Self {
        Self {
            requests,
            resources,
        }
    }

    fn scope<T>(
        &self,
        request: &Request<T>,
        account: &str,
        region: &str,
    ) -> Result<AccountRegion, Status> {
        let account = resolve_account(
            principal_of(request).as_ref(),
            account,
            self.requests.default_account(),
            ApiFamily::CloudControl,
        )?;
        let region =
            convert::region_or_default(region, self.requests.default_region()).map_err(invalid)?;
        Ok(AccountRegion::new(account, region))
    }
}

fn required<T>(
    member: &'static str,
    value: String,
    parse: impl FnOnce(String) -> Result<T, FieldViolation>,
) -> Result<T, Status> {
    if value.is_empty() {
        return Err(invalid(FieldViolation::missing(member)));
    }
    parse(value).map_err(invalid)
}

fn description_to_proto(description: ResourceDescription) -> ProtoDescription {
    ProtoDescription {
        identifier: description.identifier,
        properties: description.properties,
    }
}

#[tonic::async_trait]
impl ResourceServiceApi for ResourceApi {
    async fn get_resource(
        &self,
        request: Request<GetResourceRequest>,
    ) -> Result<Response<GetResourceResponse>, Status> {
        let message = request.get_ref();
        let scope = self.scope(&request, &message.account_id, &message.region)?;
        let message = request.into_inner();
        let type_name = required(TypeName::MEMBER, message.type_name, TypeName::parse)?;
        optional(message.type_version_id, TypeVersionId::parse)?;
        optional(message.role_arn, RoleArn::parse)?;
        let identifier = required(Identifier::MEMBER, message.identifier, Identifier::parse)?;
        let description = self
            .resources
            .get(&scope, &type_name, &identifier)
            .await
            .map_err(to_status)?;
        Ok(Response::new(GetResourceResponse {
            type_name: type_name.into_string(),
            resource_description: Some(description_to_proto(description)),
        }))
    }

    async fn list_resources(
        &self,
        request: Request<ListResourcesRequest>,
    ) -> Result<Response<ListResourcesResponse>, Status> {
        let message = request.get_ref();
        let scope = self.scope(&request, &message.account_id, &message.region)?;
        let message = request.into_inner();
        let type_name = required(TypeName::MEMBER, message.type_name, TypeName::parse)?;
        optional(message.type_version_id, TypeVersionId::parse)?;
        optional(message.role_arn, RoleArn::parse)?;
        let list = ResourceListRequest {
            type_name: type_name.clone(),
            resource_model: optional(message.resource_model, |value| {
                JsonDocument::parse("ResourceModel", value)
            })?,
            max_results: MaxResults::parse(message.max_results.map(i64::from)).map_err(invalid)?,
            next_token: optional(message.next_token, NextToken::parse)?,
        };
        let page = self
            .resources
            .list(&scope, &list)
            .await
            .map_err(to_status)?;
        Ok(Response::new(ListResourcesResponse {
            type_name: type_name.into_string(),
            resource_descriptions: page
                .descriptions
                .into_iter()
                .map(description_to_proto)
                .collect(),
            next_token: page.next_token,
        }))
    }
}
