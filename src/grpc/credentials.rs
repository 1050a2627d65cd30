//! `statusgate.v1.CredentialService`: credential management for admins.
//! The auth layer has already required the `admin` role; here an admin
//! bound to one account is kept to that account (it may neither issue an
//! all-accounts credential nor see or revoke another account's). Without
//! authentication (`--auth none`) every caller is trusted, as everywhere.

use tonic::{Code, Request, Response, Status};

use super::auth::{access_denied, principal_of, resolve_account, status_with_reason};
use super::convert::timestamp_to_proto;
use super::proto;
use super::proto::credential_service_server::CredentialService as CredentialRpc;
use super::status_from_error;
use crate::domain::credential::{AccountBinding, CredentialSummary, Principal, Role};
use crate::domain::{AccountId, ApiFamily, Error, FieldViolation};
use crate::service::{CredentialError, CredentialService};

pub struct CredentialApi {
    service: CredentialService,
    default_account: AccountId,
}

impl CredentialApi {
    pub fn new(service: CredentialService, default_account: AccountId) -> Self {
        Self {
            service,
            default_account,
        }
    }
}

fn to_status(error: CredentialError) -> Status {
    match error {
        CredentialError::KeyMissing => status_with_reason(
            Code::FailedPrecondition,
            "ValidationException",
            error.to_string(),
        ),
        CredentialError::InvalidValue(_) => status_with_reason(
            Code::InvalidArgument,
            "ValidationException",
            error.to_string(),
        ),
        CredentialError::NotFound(_) => status_with_reason(
            Code::NotFound,
            "ResourceNotFoundException",
            error.to_string(),
        ),
        CredentialError::Failed(error) => status_from_error(error, ApiFamily::CloudControl),
    }
}

fn role_from_proto(value: i32) -> Result<Role, Status> {
    match proto::Role::try_from(value) {
        Ok(proto::Role::Client) => Ok(Role::Client),
        Ok(proto::Role::Worker) => Ok(Role::Worker),
        Ok(proto::Role::Admin) => Ok(Role::Admin),
        Ok(proto::Role::Unspecified) | Err(_) => Err(status_from_error(
            Error::invalid_input(FieldViolation::missing("Role")),
            ApiFamily::CloudControl,
        )),
    }
}

fn role_to_proto(role: Role) -> i32 {
    let role = match role {
        Role::Client => proto::Role::Client,
        Role::Worker => proto::Role::Worker,
        Role::Admin => proto::Role::Admin,
    };
    role as i32
}

fn credential_to_proto(summary: &CredentialSummary) -> proto::Credential {
    proto::Credential {
        access_key_id: summary.access_key_id.to_string(),
        account_id: summary
            .binding
            .account()
            .map(|account| account.to_string())
            .unwrap_or_default(),
        all_accounts: summary.binding == AccountBinding::AllAccounts,
        role: role_to_proto(summary.role),
        created_at: Some(timestamp_to_proto(summary.created_at)),
        revoked_at: summary.revoked_at.map(timestamp_to_proto),
    }
}

/// Whether the caller may manage credentials of `binding`.
fn may_manage(principal: Option<&Principal>, binding: &AccountBinding) -> bool {
    match principal.map(|principal| &principal.binding) {
        None | Some(AccountBinding::AllAccounts) => true,
        Some(own) => own == binding,
    }
}

#[tonic::async_trait]
impl CredentialRpc for CredentialApi {
    async fn create_credential(
        &self,
        request: Request<proto::CreateCredentialRequest>,
    ) -> Result<Response<proto::CreateCredentialResponse>, Status> {
        let principal = principal_of(&request);
        let request = request.into_inner();
        let role = role_from_proto(request.role)?;
        let binding = if request.all_accounts {
            AccountBinding::AllAccounts
        } else {
            AccountBinding::Account(resolve_account(
                principal.as_ref(),
                &request.account_id,
                &self.default_account,
                ApiFamily::CloudControl,
            )?)
        };
        if !may_manage(principal.as_ref(), &binding) {
            return Err(access_denied(
                "an admin bound to one account may issue credentials of that account only".into(),
            ));
        }
        let credential = self
            .service
            .create(binding, role)
            .await
            .map_err(to_status)?;
        let summary = CredentialSummary {
            access_key_id: credential.access_key_id.clone(),
            binding: credential.binding.clone(),
            role: credential.role,
            created_at: credential.created_at,
            revoked_at: None,
        };
        Ok(Response::new(proto::CreateCredentialResponse {
            credential: Some(credential_to_proto(&summary)),
            secret_access_key: credential.secret_access_key.expose().to_owned(),
        }))
    }

    async fn list_credentials(
        &self,
        request: Request<proto::ListCredentialsRequest>,
    ) -> Result<Response<proto::ListCredentialsResponse>, Status> {
        let principal = principal_of(&request);
        let credentials = self.service.list().await.map_err(to_status)?;
        Ok(Response::new(proto::ListCredentialsResponse {
            credentials: credentials
                .iter()
                .filter(|summary| may_manage(principal.as_ref(), &summary.binding))
                .map(credential_to_proto)
                .collect(),
        }))
    }

    async fn revoke_credential(
        &self,
        request: Request<proto::RevokeCredentialRequest>,
    ) -> Result<Response<proto::RevokeCredentialResponse>, Status> {
        let principal = principal_of(&request);
        let access_key_id = request.into_inner().access_key_id;
        let listed = self.service.list().await.map_err(to_status)?;
        let target = listed
            .iter()
            .find(|summary| summary.access_key_id.as_str() == access_key_id);
        // Another account's key is answered as absent: an account-bound admin
        // learns nothing about other accounts' keys.
        match target {
            Some(summary) if may_manage(principal.as_ref(), &summary.binding) => {}
            _ => {
                return Err(to_status(CredentialError::NotFound(access_key_id)));
            }
        }
        self.service
            .revoke(&access_key_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::RevokeCredentialResponse {}))
    }
}
