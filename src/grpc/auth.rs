//! Authentication and authorisation of gRPC calls: a tower layer in front of
//! every statusgate service, inside the observing layer (so refusals are
//! logged, counted and traced like any call).
//!
//! With `--auth sigv4`, every call but health and reflection carries
//! metadata `authorization: Bearer <AccessKeyId>:<SecretAccessKey>`. A
//! missing, malformed or unknown key, or a wrong secret (compared in
//! constant time), is `UNAUTHENTICATED` (`UnrecognizedClientException`); a
//! role that may not call the method is `PERMISSION_DENIED`
//! (`AccessDeniedException`). Which role a method needs is
//! [`action_of`]'s table of method paths onto [`Action`]s, whose roles are
//! `domain/permission.rs`'s; a path it does not list is denied. The caller
//! travels on to the handlers as a [`Principal`] in the request's
//! extensions, and handlers resolve the account a request acts on through
//! [`resolve_account`] alone. With `--auth none` the layer lets every call
//! through without a principal (today's behaviour).

use std::collections::HashMap;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use subtle::ConstantTimeEq;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};

use super::status::{ERROR_DOMAIN, status_from_error};
use crate::config::AuthMode;
use crate::domain::credential::Principal;
use crate::domain::permission::Action;
use crate::domain::{AccountId, ApiFamily, Error};
use crate::service::CredentialService;

/// The longest access key id written to a log line (the id is the caller's
/// input until it is found).
const LOGGED_KEY_ID_CHARS: usize = 32;

/// The action a method performs; `None` for every path not listed, which
/// the layer denies. Adding an RPC is one line here.
pub fn action_of(path: &str) -> Option<Action> {
    let action = match path {
        "/statusgate.v1.ChangeTokenService/GetChangeToken" => Action::GetChangeToken,
        "/statusgate.v1.ChangeTokenService/GetChangeTokenStatus" => Action::GetChangeTokenStatus,
        "/statusgate.v1.ChangeTokenService/ConsumeChangeToken" => Action::ConsumeChangeToken,
        "/statusgate.v1.ChangeTokenService/MarkChangeTokenInSync" => Action::MarkChangeTokenInSync,
        "/statusgate.v1.ChangeTokenService/ListChangeTokens" => Action::ListChangeTokens,
        "/statusgate.v1.ResourceRequestService/CreateResourceRequest" => {
            Action::CreateResourceRequest
        }
        "/statusgate.v1.ResourceRequestService/GetResourceRequestStatus" => {
            Action::GetResourceRequestStatus
        }
        "/statusgate.v1.ResourceRequestService/ListResourceRequests" => {
            Action::ListResourceRequests
        }
        "/statusgate.v1.ResourceRequestService/CancelResourceRequest" => {
            Action::CancelResourceRequest
        }
        "/statusgate.v1.ResourceRequestService/RecordProgressEvent" => Action::RecordProgressEvent,
        "/statusgate.v1.ResourceRequestService/ListProgressEvents" => Action::ListProgressEvents,
        "/statusgate.v1.ResourceRequestService/ClaimResourceRequests" => {
            Action::ClaimResourceRequests
        }
        "/statusgate.v1.ResourceRequestService/RenewLease" => Action::RenewLease,
        "/statusgate.v1.ResourceRequestService/WaitResourceRequest" => Action::WaitResourceRequest,
        "/statusgate.v1.ResourceRequestService/WatchResourceRequest" => {
            Action::WatchResourceRequest
        }
        "/statusgate.v1.ChangeTokenService/WatchChangeToken" => Action::WatchChangeToken,
        "/google.longrunning.Operations/GetOperation" => Action::GetOperation,
        "/google.longrunning.Operations/ListOperations" => Action::ListOperations,
        "/google.longrunning.Operations/CancelOperation" => Action::CancelOperation,
        "/google.longrunning.Operations/WaitOperation" => Action::WaitOperation,
        "/google.longrunning.Operations/DeleteOperation" => Action::DeleteOperation,
        "/statusgate.v1.CredentialService/CreateCredential" => Action::CreateCredential,
        "/statusgate.v1.CredentialService/ListCredentials" => Action::ListCredentials,
        "/statusgate.v1.CredentialService/RevokeCredential" => Action::RevokeCredential,
        "/statusgate.v1.ResourceService/GetResource" => Action::GetResource,
        "/statusgate.v1.ResourceService/ListResources" => Action::ListResources,
        "/statusgate.v1.ResourceRequestService/RecordHookProgressEvent" => {
            Action::RecordHookProgressEvent
        }
        "/statusgate.v1.SimulationService/SetSimulationRules" => Action::SetSimulationRules,
        "/statusgate.v1.SimulationService/GetSimulationRules" => Action::GetSimulationRules,
        _ => return None,
    };
    Some(action)
}

/// Health and reflection answer without credentials, so that orchestrators
/// and `grpcurl` work.
pub fn is_public(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
        || path.starts_with("/grpc.reflection.v1.ServerReflection/")
        || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
}

/// `Bearer <AccessKeyId>:<SecretAccessKey>`, taken apart.
pub fn parse_bearer(value: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(value).ok()?;
    let (scheme, token) = text.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let (access_key_id, secret) = token.trim().split_once(':')?;
    (!access_key_id.is_empty() && !secret.is_empty()).then_some((access_key_id, secret))
}

pub(super) fn status_with_reason(code: Code, reason: &str, message: String) -> Status {
    let details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(code, message, details)
}

fn unauthenticated(message: &str) -> Status {
    status_with_reason(
        Code::Unauthenticated,
        "UnrecognizedClientException",
        message.to_owned(),
    )
}

/// `PERMISSION_DENIED` with reason `AccessDeniedException`.
pub fn access_denied(message: String) -> Status {
    status_with_reason(Code::PermissionDenied, "AccessDeniedException", message)
}

fn logged_key_id(access_key_id: &str) -> String {
    access_key_id.chars().take(LOGGED_KEY_ID_CHARS).collect()
}

/// Who may call what, as a layer.
#[derive(Clone)]
pub struct AuthLayer {
    mode: AuthMode,
    credentials: CredentialService,
}

impl AuthLayer {
    pub fn new(mode: AuthMode, credentials: CredentialService) -> Self {
        Self { mode, credentials }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            mode: self.mode,
            credentials: self.credentials.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
    mode: AuthMode,
    credentials: CredentialService,
}

/// The principal of a call, or the status that refuses it.
async fn authenticate(
    credentials: &CredentialService,
    path: &str,
    authorization: Option<&[u8]>,
) -> Result<Principal, Status> {
    let Some(authorization) = authorization else {
        tracing::info!(reason = "missing", "call not authenticated");
        return Err(unauthenticated(
            "Request is missing Authentication Token: send metadata authorization: Bearer <AccessKeyId>:<SecretAccessKey>",
        ));
    };
    let Some((access_key_id, secret)) = parse_bearer(authorization) else {
        tracing::info!(reason = "malformed", "call not authenticated");
        return Err(unauthenticated(
            "The authorization metadata must be Bearer <AccessKeyId>:<SecretAccessKey>",
        ));
    };
    let found = credentials
        .authenticate(access_key_id)
        .await
        .map_err(|error| status_from_error(error, ApiFamily::CloudControl))?;
    let credential = match found {
        Some(credential)
            if bool::from(
                credential
                    .secret_access_key
                    .expose()
                    .as_bytes()
                    .ct_eq(secret.as_bytes()),
            ) =>
        {
            credential
        }
        other => {
            let reason = if other.is_some() {
                "wrong secret"
            } else {
                "unknown key"
            };
            tracing::info!(access_key_id = ?logged_key_id(access_key_id), reason, "call not authenticated");
            return Err(unauthenticated(
                "The security token included in the request is invalid.",
            ));
        }
    };
    let principal = credential.principal();
    let allowed = action_of(path).is_some_and(|action| action.allows(principal.role));
    if !allowed {
        tracing::info!(access_key_id = %principal.access_key_id, role = principal.role.as_str(), "call not authorised");
        return Err(access_denied(format!(
            "User: {} (role {}) is not authorized to perform: {path}",
            principal.access_key_id, principal.role
        )));
    }
    Ok(principal)
}

impl<S> Service<http::Request<tonic::body::Body>> for Authenticate<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<tonic::body::Body>) -> Self::Future {
        // The clone is the one `poll_ready` did not prepare; swap it in.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let path = request.uri().path().to_owned();
        if self.mode == AuthMode::None || is_public(&path) {
            return Box::pin(ready.call(request));
        }
        let credentials = self.credentials.clone();
        Box::pin(async move {
            let authorization = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .map(|value| value.as_bytes().to_vec());
            match authenticate(&credentials, &path, authorization.as_deref()).await {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    ready.call(request).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

/// The account a request acts on: with a principal, the one its binding
/// allows (see [`Principal::account`]); without one (`--auth none`), the
/// one named, or `default` when none is. A malformed account id is invalid
/// input, named as `family` names it.
pub fn resolve_account(
    principal: Option<&Principal>,
    requested: &str,
    default: &AccountId,
    family: ApiFamily,
) -> Result<AccountId, Status> {
    let requested = if requested.is_empty() {
        None
    } else {
        Some(
            AccountId::parse(requested)
                .map_err(|violation| status_from_error(Error::invalid_input(violation), family))?,
        )
    };
    let account = match principal {
        None => requested.unwrap_or_else(|| default.clone()),
        Some(principal) => principal
            .account(requested, default)
            .map_err(|denied| access_denied(denied.to_string()))?,
    };
    crate::telemetry::record_account(&account);
    Ok(account)
}

/// The principal the layer put on a request, if any.
pub fn principal_of<T>(request: &tonic::Request<T>) -> Option<Principal> {
    request.extensions().get::<Principal>().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::credential::{AccessKeyId, AccountBinding, Role};

    #[test]
    fn bearer_metadata_parses_and_anything_else_does_not() {
        assert_eq!(
            parse_bearer(b"Bearer SGAKABCDEFGHIJ234567:abc/def+="),
            Some(("SGAKABCDEFGHIJ234567", "abc/def+="))
        );
        assert_eq!(parse_bearer(b"bearer a:b"), Some(("a", "b")));
        for bad in [
            &b""[..],
            b"Bearer",
            b"Bearer abc",
            b"Bearer :secret",
            b"Bearer key:",
            b"Basic a:b",
            b"AWS4-HMAC-SHA256 Credential=a",
            b"Bearer \xff:\xfe",
        ] {
            assert_eq!(parse_bearer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn unlisted_methods_have_no_action_and_are_denied() {
        assert_eq!(
            action_of("/statusgate.v1.ChangeTokenService/GetChangeToken"),
            Some(Action::GetChangeToken)
        );
        assert_eq!(action_of("/statusgate.v1.ChangeTokenService/Nope"), None);
        assert_eq!(action_of("/grpc.health.v1.Health/Check"), None);
        assert!(is_public("/grpc.health.v1.Health/Check"));
        assert!(is_public(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!is_public(
            "/statusgate.v1.ChangeTokenService/GetChangeToken"
        ));
        // Every action is reachable by exactly one path.
        for action in Action::ALL {
            let paths = [
                "statusgate.v1.ChangeTokenService",
                "statusgate.v1.ResourceRequestService",
                "statusgate.v1.CredentialService",
                "statusgate.v1.ResourceService",
                "statusgate.v1.SimulationService",
                "google.longrunning.Operations",
            ]
            .iter()
            .filter(|service| action_of(&format!("/{service}/{}", action.name())) == Some(action))
            .count();
            assert_eq!(paths, 1, "{action:?}");
        }
    }

    #[test]
    fn accounts_resolve_through_the_binding() {
        let default = AccountId::parse("000000000000").unwrap();
        let bound = Principal {
            access_key_id: AccessKeyId::parse("SGAKABCDEFGHIJ234567").unwrap(),
            role: Role::Worker,
            binding: AccountBinding::Account(AccountId::parse("123456789012").unwrap()),
        };
        let family = ApiFamily::CloudControl;
        assert_eq!(
            resolve_account(Some(&bound), "", &default, family)
                .unwrap()
                .as_str(),
            "123456789012"
        );
        let denied = resolve_account(Some(&bound), "210987654321", &default, family).unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        assert_eq!(
            denied.get_error_details().error_info().unwrap().reason,
            "AccessDeniedException"
        );
        let invalid = resolve_account(Some(&bound), "12", &default, family).unwrap_err();
        assert_eq!(invalid.code(), Code::InvalidArgument);
        assert_eq!(
            resolve_account(None, "210987654321", &default, family)
                .unwrap()
                .as_str(),
            "210987654321"
        );
        assert_eq!(
            resolve_account(None, "", &default, family).unwrap(),
            default
        );
    }
}
