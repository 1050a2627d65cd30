//! `statusgate.v1.ResourceRequestService`. The callers' calls are here; the
//! workers' (`ClaimResourceRequests`, `RenewLease`, `RecordProgressEvent`,
//! `RecordHookProgressEvent`)
//! are in `workers.rs` and the waiting and watching ones in `watch.rs`, to
//! which the methods below hand over.

use tonic::{Request, Response, Status};

use super::auth::{principal_of, resolve_account};
use super::convert;
use super::proto::resource_request_service_server::ResourceRequestService;
use super::proto::{
    CancelResourceRequestRequest, CancelResourceRequestResponse, ClaimResourceRequestsRequest,
    ClaimResourceRequestsResponse, CreateResourceRequestRequest, CreateResourceRequestResponse,
    GetResourceRequestStatusRequest, GetResourceRequestStatusResponse, ListProgressEventsRequest,
    ListProgressEventsResponse, ListResourceRequestsRequest, ListResourceRequestsResponse,
    RecordHookProgressEventRequest, RecordHookProgressEventResponse, RecordProgressEventRequest,
    RecordProgressEventResponse, RenewLeaseRequest, RenewLeaseResponse, WaitResourceRequestRequest,
    WaitResourceRequestResponse, WatchResourceRequestRequest, WatchResourceRequestResponse,
};
use super::status_from_error;
use super::watch::{self, ServerStream};
use super::workers;
use crate::domain::resource::AccountRegion;
use crate::domain::resource_request::ResourceRequestInput;
use crate::domain::values::{
    ClientToken, Identifier, JsonDocument, MaxResults, NextToken, RequestToken, RoleArn, TypeName,
    TypeVersionId,
};
use crate::domain::{ApiFamily, Error, FieldViolation};
use crate::service::{ListRequest, ResourceRequestService as Service, WatchService, WorkerService};

pub struct ResourceRequestApi {
    service: Service,
    workers: WorkerService,
    watches: WatchService,
}

pub(super) fn invalid(violation: FieldViolation) -> Status {
    to_status(Error::invalid_input(violation))
}

/// This service speaks for Cloud Control: errors take its AWS names.
pub(super) fn to_status(error: Error) -> Status {
    status_from_error(error, ApiFamily::CloudControl)
}

/// Parses an optional member, turning a violation into a status.
pub(super) fn optional<T>(
    value: Option<String>,
    parse: impl FnOnce(String) -> Result<T, FieldViolation>,
) -> Result<Option<T>, Status> {
    value.map(parse).transpose().map_err(invalid)
}

pub(super) fn request_token(value: String) -> Result<RequestToken, Status> {
    if value.is_empty() {
        return Err(invalid(FieldViolation::missing(RequestToken::MEMBER)));
    }
    RequestToken::parse(value).map_err(invalid)
}

impl ResourceRequestApi {
    pub fn new(service: Service, workers: WorkerService, watches: WatchService) -> Self {
        Self {
            service,
            workers,
            watches,
        }
    }

    /// The account (resolved through the caller) and region a request
    /// acts in.
    fn scope<T>(
        &self,
        request: &Request<T>,
        value: impl FnOnce(&T) -> (&String, &String),
    ) -> Result<AccountRegion, Status> {
        let principal = principal_of(request);
        let (account, region) = value(request.get_ref());
        let account = resolve_account(
            principal.as_ref(),
            account,
            self.service.default_account(),
            ApiFamily::CloudControl,
        )?;
        let region =
            convert::region_or_default(region, self.service.default_region()).map_err(invalid)?;
        Ok(AccountRegion::new(account, region))
    }
}

#[tonic::async_trait]
impl ResourceRequestService for ResourceRequestApi {
    async fn create_resource_request(
        &self,
        request: Request<CreateResourceRequestRequest>,
    ) -> Result<Response<CreateResourceRequestResponse>, Status> {
        let scope = self.scope(&request, |message| (&message.account_id, &message.region))?;
        let request = request.into_inner();
        let operation =
            convert::operation_from_proto("Operation", request.operation).map_err(invalid)?;
        if request.type_name.is_empty() {
            return Err(invalid(FieldViolation::missing(TypeName::MEMBER)));
        }
        let input = ResourceRequestInput {
            operation,
            type_name: TypeName::parse(request.type_name).map_err(invalid)?,
            identifier: optional(request.identifier, Identifier::parse)?,
            desired_state: optional(request.desired_state, |value| {
                JsonDocument::parse("DesiredState", value)
            })?,
            patch_document: optional(request.patch_document, |value| {
                JsonDocument::parse("PatchDocument", value)
            })?,
            role_arn: optional(request.role_arn, RoleArn::parse)?,
            type_version_id: optional(request.type_version_id, TypeVersionId::parse)?,
        };
        let client_token = optional(request.client_token, ClientToken::parse)?;
        let event = self
            .service
            .create(&scope, client_token, input)
            .await
            .map_err(to_status)?;
        Ok(Response::new(CreateResourceRequestResponse {
            progress_event: Some(convert::progress_event_to_proto(event)),
        }))
    }

    async fn get_resource_request_status(
        &self,
        request: Request<GetResourceRequestStatusRequest>,
    ) -> Result<Response<GetResourceRequestStatusResponse>, Status> {
        let scope = self.scope(&request, |message| (&message.account_id, &message.region))?;
        let request = request.into_inner();
        let token = request_token(request.request_token)?;
        let event = self
            .service
            .get_status_with_hooks(&scope, &token)
            .await
            .map_err(to_status)?;
        let (event, hooks) = event;
        Ok(Response::new(GetResourceRequestStatusResponse {
            progress_event: Some(convert::progress_event_to_proto(event)),
            hooks_progress_event: hooks
                .into_iter()
                .map(convert::hook_event_to_proto)
                .collect(),
        }))
    }

    async fn list_resource_requests(
        &self,
        request: Request<ListResourceRequestsRequest>,
    ) -> Result<Response<ListResourceRequestsResponse>, Status> {
        let scope = self.scope(&request, |message| (&message.account_id, &message.region))?;
        let request = request.into_inner();
        let filter = request.resource_request_status_filter.unwrap_or_default();
        let operations = filter
            .operations
            .iter()
            .map(|value| convert::operation_from_proto("Operations", *value))
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        let statuses = filter
            .operation_statuses
            .iter()
            .map(|value| convert::status_from_proto("OperationStatuses", *value))
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        let list = ListRequest {
            operations,
            statuses,
            max_results: MaxResults::parse(request.max_results.map(i64::from)).map_err(invalid)?,
            next_token: optional(request.next_token, NextToken::parse)?,
        };
        let page = self.service.list(&scope, &list).await.map_err(to_status)?;
        Ok(Response::new(ListResourceRequestsResponse {
            resource_request_status_summaries: page
                .summaries
                .into_iter()
                .map(convert::progress_event_to_proto)
                .collect(),
            next_token: page.next_token,
        }))
    }

    async fn cancel_resource_request(
        &self,
        request: Request<CancelResourceRequestRequest>,
    ) -> Result<Response<CancelResourceRequestResponse>, Status> {
        let scope = self.scope(&request, |message| (&message.account_id, &message.region))?;
        let request = request.into_inner();
        let token = request_token(request.request_token)?;
        let event = self
            .service
            .cancel(&scope, &token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(CancelResourceRequestResponse {
            progress_event: Some(convert::progress_event_to_proto(event)),
        }))
    }

    async fn record_progress_event(
        &self,
        request: Request<RecordProgressEventRequest>,
    ) -> Result<Response<RecordProgressEventResponse>, Status> {
        let scope = self.scope(&request, |message| (&message.account_id, &message.region))?;
        workers::record(&self.workers, &scope, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_progress_events(
        &self,
        request: Request<ListProgressEventsRequest>,
    ) -> Result<Response<ListProgressEventsResponse>, Status> {
        let scope = self.scope(&request, |message| (&message.account_id, &message.region))?;
        let request = request.into_inner();
        let token = request_token(request.request_token)?;
        let events = self
            .service
            .list_progress_events(&scope, &token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(ListProgressEventsResponse {
            progress_events: events
                .into_iter()
                .map(convert::progress_event_to_proto)
                .collect(),
        }))
    }

    async fn claim_resource_requests(
        &self,
        request: Request<ClaimResourceRequestsRequest>,
    ) -> Result<Response<ClaimResourceRequestsResponse>, Status> {
        let principal = principal_of(&request);
        let request = request.into_inner();
        let account = workers::claim_account(
            principal.as_ref(),
            request.account_id.as_deref(),
            self.service.default_account(),
        )?;
        let region = request
            .region
            .as_deref()
            .map(|region| convert::region_or_default(region, self.service.default_region()))
            .transpose()
            .map_err(invalid)?;
        workers::claim(&self.workers, account, region, request)
            .await
            .map(Response::new)
    }

    async fn renew_lease(
        &self,
        request: Request<RenewLeaseRequest>,
    ) -> Result<Response<RenewLeaseResponse>, Status> {
        let scope = self.scope(&request, |message| (&message.account_id, &message.region))?;
        workers::renew(&self.workers, &scope, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn wait_resource_request(
        &self,
        request: Request<WaitResourceRequestRequest>,
    ) -> Result<Response<WaitResourceRequestResponse>, Status> {
        let scope = self.scope(&request, |message| (&message.account_id, &message.region))?;
        let (metadata, _, request) = request.into_parts();
        watch::wait(&self.watches, &scope, &metadata, request)
            .await
            .map(Response::new)
    }

    async fn record_hook_progress_event(
        &self,
        request: Request<RecordHookProgressEventRequest>,
    ) -> Result<Response<RecordHookProgressEventResponse>, Status> {
        let scope = self.scope(&request, |message| (&message.account_id, &message.region))?;
        workers::record_hook(&self.workers, &scope, request.into_inner())
            .await
            .map(Response::new)
    }

    type WatchResourceRequestStream = ServerStream<WatchResourceRequestResponse>;

    async fn watch_resource_request(
        &self,
        request: Request<WatchResourceRequestRequest>,
    ) -> Result<Response<Self::WatchResourceRequestStream>, Status> {
        let scope = self.scope(&request, |message| (&message.account_id, &message.region))?;
        watch::watch_request(&self.watches, &scope, request.into_inner())
            .await
            .map(Response::new)
    }
}
