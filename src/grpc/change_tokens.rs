//! `statusgate.v1.ChangeTokenService`.

use tonic::{Request, Response, Status};

use super::auth::{principal_of, resolve_account};
use super::convert;
use super::proto::change_token_service_server::ChangeTokenService;
use super::proto::{
    ConsumeChangeTokenRequest, ConsumeChangeTokenResponse, GetChangeTokenRequest,
    GetChangeTokenResponse, GetChangeTokenStatusRequest, GetChangeTokenStatusResponse,
    ListChangeTokensRequest, ListChangeTokensResponse, MarkChangeTokenInSyncRequest,
    MarkChangeTokenInSyncResponse, WatchChangeTokenRequest,
};
use super::status_from_error;
use super::watch::{self, ServerStream};
use crate::domain::change_token::ChangeTokenScope;
use crate::domain::credential::Principal;
use crate::domain::values::{ChangeDescription, ChangeToken, MaxResults, NextToken};
use crate::domain::{AccountId, ApiFamily, Error, FieldViolation};
use crate::service::{ChangeTokenListRequest, ChangeTokenService as Service, WatchService};

pub struct ChangeTokenApi {
    service: Service,
    watches: WatchService,
}

impl ChangeTokenApi {
    pub fn new(service: Service, watches: WatchService) -> Self {
        Self { service, watches }
    }

    /// The scope a request names, its account resolved through the caller.
    fn scope(
        &self,
        principal: Option<&Principal>,
        scope: Option<super::proto::ChangeTokenScope>,
    ) -> Result<ChangeTokenScope, Status> {
        let scope = scope.ok_or_else(|| invalid(FieldViolation::missing("Scope")))?;
        let account = self.account(principal, &scope.account_id)?;
        convert::scope(scope, account).map_err(invalid)
    }

    /// The account a scope names, resolved through the caller.
    fn account(&self, principal: Option<&Principal>, named: &str) -> Result<AccountId, Status> {
        resolve_account(
            principal,
            named,
            self.service.default_account(),
            ApiFamily::Waf,
        )
    }

    /// What a `ListChangeTokens` request asks for, its account resolved
    /// through the caller like every other method's.
    fn list_request(
        &self,
        principal: Option<&Principal>,
        request: ListChangeTokensRequest,
    ) -> Result<ChangeTokenListRequest, Status> {
        // No scope lists the whole of the caller's account.
        let scope = request.scope.unwrap_or_default();
        let account = self.account(principal, &scope.account_id)?;
        let (endpoint, region) = convert::listed_endpoint_and_region(&scope).map_err(invalid)?;
        let statuses = request
            .statuses
            .iter()
            .map(|value| convert::change_token_status_from_proto("Statuses", *value))
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        let max_results =
            MaxResults::parse_or(request.max_results.map(i64::from), MaxResults::LARGEST)
                .map_err(invalid)?;
        let next_token = request
            .next_token
            .map(NextToken::parse)
            .transpose()
            .map_err(invalid)?;
        Ok(ChangeTokenListRequest {
            account,
            endpoint,
            region,
            statuses,
            max_results,
            next_token,
        })
    }
}

fn invalid(violation: FieldViolation) -> Status {
    to_status(Error::invalid_input(violation))
}

/// This service speaks for WAF Classic: errors take its AWS names.
fn to_status(error: Error) -> Status {
    status_from_error(error, ApiFamily::Waf)
}

fn change_token(value: String) -> Result<ChangeToken, Status> {
    if value.is_empty() {
        return Err(invalid(FieldViolation::missing(ChangeToken::MEMBER)));
    }
    ChangeToken::parse(value).map_err(invalid)
}

#[tonic::async_trait]
impl ChangeTokenService for ChangeTokenApi {
    async fn get_change_token(
        &self,
        request: Request<GetChangeTokenRequest>,
    ) -> Result<Response<GetChangeTokenResponse>, Status> {
        let principal = principal_of(&request);
        let request = request.into_inner();
        let scope = self.scope(principal.as_ref(), request.scope)?;
        let token = self
            .service
            .get_change_token(&scope)
            .await
            .map_err(to_status)?;
        Ok(Response::new(GetChangeTokenResponse {
            change_token: token.into_string(),
        }))
    }

    async fn get_change_token_status(
        &self,
        request: Request<GetChangeTokenStatusRequest>,
    ) -> Result<Response<GetChangeTokenStatusResponse>, Status> {
        let principal = principal_of(&request);
        let request = request.into_inner();
        let scope = self.scope(principal.as_ref(), request.scope)?;
        let token = change_token(request.change_token)?;
        let status = self
            .service
            .get_change_token_status(&scope, &token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(GetChangeTokenStatusResponse {
            change_token_status: convert::change_token_status_to_proto(status),
        }))
    }

    async fn consume_change_token(
        &self,
        request: Request<ConsumeChangeTokenRequest>,
    ) -> Result<Response<ConsumeChangeTokenResponse>, Status> {
        let principal = principal_of(&request);
        let request = request.into_inner();
        let scope = self.scope(principal.as_ref(), request.scope)?;
        let token = change_token(request.change_token)?;
        let description = ChangeDescription::parse(request.change_description).map_err(invalid)?;
        let status = self
            .service
            .consume_change_token(&scope, &token, &description)
            .await
            .map_err(to_status)?;
        Ok(Response::new(ConsumeChangeTokenResponse {
            change_token_status: convert::change_token_status_to_proto(status),
        }))
    }

    async fn mark_change_token_in_sync(
        &self,
        request: Request<MarkChangeTokenInSyncRequest>,
    ) -> Result<Response<MarkChangeTokenInSyncResponse>, Status> {
        let principal = principal_of(&request);
        let request = request.into_inner();
        let scope = self.scope(principal.as_ref(), request.scope)?;
        let token = change_token(request.change_token)?;
        let status = self
            .service
            .mark_change_token_in_sync(&scope, &token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(MarkChangeTokenInSyncResponse {
            change_token_status: convert::change_token_status_to_proto(status),
        }))
    }

    async fn list_change_tokens(
        &self,
        request: Request<ListChangeTokensRequest>,
    ) -> Result<Response<ListChangeTokensResponse>, Status> {
        let principal = principal_of(&request);
        let list = self.list_request(principal.as_ref(), request.into_inner())?;
        let page = self
            .service
            .list_change_tokens(&list)
            .await
            .map_err(to_status)?;
        Ok(Response::new(ListChangeTokensResponse {
            change_tokens: page
                .change_tokens
                .into_iter()
                .map(convert::change_token_summary_to_proto)
                .collect(),
            next_token: page.next_token,
        }))
    }

    type WatchChangeTokenStream = ServerStream<GetChangeTokenStatusResponse>;

    async fn watch_change_token(
        &self,
        request: Request<WatchChangeTokenRequest>,
    ) -> Result<Response<Self::WatchChangeTokenStream>, Status> {
        let principal = principal_of(&request);
        let request = request.into_inner();
        let scope = self.scope(principal.as_ref(), request.scope)?;
        let token = change_token(request.change_token)?;
        watch::watch_change_token(&self.watches, &scope, &token)
            .await
            .map(Response::new)
    }
}
