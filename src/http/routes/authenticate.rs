//! Who is calling a routed facade request, and may they: the
//! [`Authenticator`]. With `--auth sigv4` it reads the signature off the
//! request (`protocol::sigv4`), checks its scope and time window, looks the
//! access key up (`service::CredentialService`, cached), verifies the
//! signature with the key's secret (`protocol::sigv4_verify`), and checks
//! that the key's role may perform the operation (`domain::permission`).
//! With `--auth none` it keeps today's behaviour: the caller the request
//! names, unverified.
//!
//! Every refusal is logged with the access key id the request named (cut
//! short: it is the caller's input), never with a secret or a signature.

use std::sync::Arc;

use crate::config::AuthMode;
use crate::domain::Clock;
use crate::http::log::LOG_TARGET;
use crate::http::protocol::sigv4_verify::{
    SignedRequest, check_scope_and_time, read_claim, verify_signature,
};
use crate::http::protocol::{AuthFailure, AwsService, Caller, Operation, Rejection};
use crate::http::render::FacadeError;
use crate::service::CredentialService;

/// The longest access key id written to a log line.
const LOGGED_KEY_ID_CHARS: usize = 32;

/// Authentication and authorisation of facade requests.
#[derive(Clone)]
pub struct Authenticator {
    mode: AuthMode,
    credentials: CredentialService,
    clock: Arc<dyn Clock>,
}

impl Authenticator {
    pub fn new(mode: AuthMode, credentials: CredentialService, clock: Arc<dyn Clock>) -> Self {
        Self {
            mode,
            credentials,
            clock,
        }
    }

    /// The caller of `request`, for `operation` of `service`. `unverified`
    /// is who the request names, which `--auth none` takes as it is.
    pub async fn caller(
        &self,
        request: &SignedRequest<'_>,
        service: AwsService,
        operation: Operation,
        unverified: Caller,
    ) -> Result<Caller, FacadeError> {
        match self.mode {
            AuthMode::None => Ok(unverified),
            AuthMode::Sigv4 => self.verified_caller(request, service, operation).await,
        }
    }

    async fn verified_caller(
        &self,
        request: &SignedRequest<'_>,
        service: AwsService,
        operation: Operation,
    ) -> Result<Caller, FacadeError> {
        let refuse = |access_key_id: Option<&str>, failure: AuthFailure| {
            let access_key_id: Option<String> =
                access_key_id.map(|id| id.chars().take(LOGGED_KEY_ID_CHARS).collect());
            tracing::info!(
                target: LOG_TARGET,
                access_key_id = ?access_key_id,
                error_type = failure.aws_name(),
                "request not authenticated"
            );
            FacadeError::from(Rejection::Auth(failure))
        };
        let claim = match read_claim(request) {
            Ok(Some(claim)) => claim,
            Ok(None) => return Err(refuse(None, AuthFailure::MissingAuthenticationToken)),
            Err(failure) => return Err(refuse(None, failure)),
        };
        let access_key_id = Some(claim.scope.access_key_id.as_str());
        let now = self.clock.now().to_system_time();
        if let Err(failure) = check_scope_and_time(&claim, service.signing_name(), now) {
            return Err(refuse(access_key_id, failure));
        }
        let Some(credential) = self
            .credentials
            .authenticate(&claim.scope.access_key_id)
            .await?
        else {
            return Err(refuse(access_key_id, AuthFailure::UnrecognizedClient));
        };
        if let Err(failure) =
            verify_signature(request, &claim, credential.secret_access_key.expose())
        {
            return Err(refuse(access_key_id, failure));
        }
        let principal = credential.principal();
        if !operation.action().allows(principal.role) {
            let failure = AuthFailure::AccessDenied {
                access_key_id: principal.access_key_id.to_string(),
                role: principal.role,
                action: format!("{}:{}", service.signing_name(), operation.name()),
            };
            return Err(refuse(access_key_id, failure));
        }
        Ok(Caller::authenticated(principal, claim.scope.region))
    }
}
